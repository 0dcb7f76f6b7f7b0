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
            match (api.retry_after, api.retry_after_precision.is_seconds()) {
                (false, _) => "no",
                (true, true) => "yes",
                (true, false) => "yes, to the millisecond",
            }
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
    let mut changes = Vec::new();
    if let Some(s) = api.servers {
        changes.push(match api.queue_limit {
            Some(q) => format!("{s} servers, a queue of at most {q} (then 503)"),
            None => format!("{s} servers, an unbounded FIFO queue"),
        });
    }
    if let Some(b) = &api.background {
        changes.push(format!(
            "other tenants send {}/s (Poisson, {} tokens each) on the same limits",
            number(b.rate_per_s),
            b.tokens
        ));
    }
    for o in &api.outages {
        let mode = match o.mode {
            ratelab_sim::api::OutageMode::Unavailable => "503 to everything",
            ratelab_sim::api::OutageMode::Refuse => "connections refused",
            ratelab_sim::api::OutageMode::Hang => "requests never answered",
        };
        changes.push(format!(
            "outage from {} s to {} s: {mode}",
            number(o.at_s),
            number(o.at_s + o.for_s)
        ));
    }
    for e in &api.schedule {
        let mut what = Vec::new();
        if let Some(l) = &e.limits {
            let l: Vec<String> = l.iter().map(|l| spec_text(&to_value(l))).collect();
            what.push(format!("limits {}", l.join(" and ")));
        }
        if let Some(l) = &e.latency {
            what.push(format!("latency {}", spec_text(&to_value(l))));
        }
        if let Some(x) = &e.errors {
            what.push(format!("{} fail with {}", percent(x.probability), x.status));
        }
        if let Some(s) = e.servers {
            what.push(format!("{s} servers"));
        }
        changes.push(format!("from {} s: {}", number(e.at_s), what.join(", ")));
    }
    if !changes.is_empty() {
        fact("API over time", escape(&changes.join("; ")));
    }
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
