//! The page's header: the scenario in a few facts.

use std::fmt::Write as _;

use ratelab_sim::RunOutput;

use super::escape;
use super::specs::{number, spec_text, to_value};
use crate::ReportOptions;
use crate::story::{count, duration, percent};

pub(super) fn header(h: &mut String, out: &RunOutput, options: &ReportOptions) {
    let sc = &out.scenario;
    let _ = writeln!(h, "<header>\n<h1>{}</h1>", escape(&sc.name));
    if !out.description.trim().is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"lead\">{}</p>",
            escape(out.description.trim())
        );
    }
    h.push_str("<dl class=\"facts\">\n");
    let mut fact = |term: &str, html: String| {
        let _ = writeln!(h, "<dt>{}</dt><dd>{html}</dd>", escape(term));
    };
    fact(
        "Reproduce",
        format!(
            "<code class=\"cmd\">{}</code>",
            escape(&options.command(out))
        ),
    );
    fact("Seed", out.seed.to_string());
    let api = &sc.api;
    let limits = if api.limits.is_empty() {
        "none".to_string()
    } else {
        api.limits
            .iter()
            .map(|l| escape(&spec_text(&to_value(l))))
            .collect::<Vec<_>>()
            .join(" <em>and</em> ")
    };
    fact("API limits", limits);
    fact(
        "API capacity",
        match out.api_capacity_rps {
            Some(c) => format!("{} requests/s sustainable", number(c)),
            None => "not implied by the limits".to_string(),
        },
    );
    fact(
        "Latency",
        format!(
            "{}; 429 and 413 replies after {} ms",
            escape(&spec_text(&to_value(&api.latency))),
            number(api.rejected_latency_ms)
        ),
    );
    let mut behaviour = vec![
        format!(
            "Retry-After on 429s: {}",
            if api.retry_after { "yes" } else { "no" }
        ),
        format!(
            "rate-limit headers: {}",
            if api.headers { "yes" } else { "no" }
        ),
        format!(
            "rejected requests count against the limits: {}",
            if api.count_rejected { "yes" } else { "no" }
        ),
    ];
    if let Some(e) = &api.errors {
        behaviour.push(format!(
            "{} of admitted requests fail with {}",
            percent(e.probability),
            e.status
        ));
    }
    if let Some(b) = &api.ban {
        behaviour.push(format!(
            "a client with {} 429s within {} s is banned for {}",
            b.after_429,
            number(b.within_s),
            duration(b.duration_s)
        ));
    }
    fact("API behaviour", escape(&behaviour.join("; ")));
    let w = &sc.workload;
    let mut workload = if w.clients > 1 {
        format!(
            "{} requests per client × {} clients ({} in all)",
            count(w.requests),
            w.clients,
            count(w.total_requests())
        )
    } else {
        format!("{} requests", count(w.requests))
    };
    match &w.arrival {
        None => workload.push_str(", all ready at t = 0"),
        Some(a) => {
            let _ = write!(workload, "; arrival {}", spec_text(&to_value(a)));
        }
    }
    if let Some(t) = &w.tokens {
        let _ = write!(workload, "; tokens {}", spec_text(&to_value(t)));
    }
    fact("Workload", escape(&workload));
    fact("Horizon", escape(&duration(sc.horizon_s)));
    fact("ratelab", escape(&out.version));
    h.push_str("</dl>\n</header>\n");
}
