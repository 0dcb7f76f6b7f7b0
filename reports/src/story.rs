//! The generated "what happened" line of each strategy, and the number formats the report uses.

use ratelab_sim::result::StopReason;
use ratelab_sim::{RunOutput, StrategyResult};

use crate::format;

/// Groups digits by three with a narrow no-break space: 3 412.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut s = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            s.push('\u{202f}');
        }
        s.push(c);
    }
    s
}

/// Seconds as a short human duration: 850 ms, 12.3 s, 9m 58s, 2h 05m.
pub(crate) fn duration(s: f64) -> String {
    format::duration(s, "\u{a0}")
}

/// A share as a percentage, as the report writes it.
pub(crate) fn percent(share: f64) -> String {
    format::percent(share, "\u{a0}")
}

/// The fastest the API's sustainable rate allows `requests` to be served, s.
pub(crate) fn ideal_makespan(requests: u64, capacity: Option<f64>) -> Option<f64> {
    capacity
        .filter(|c| c.is_finite() && *c > 0.0)
        .map(|c| requests as f64 / c)
}

/// Jain's fairness index of the clients' goodput: 1 when all are equal, 1/n when one client
/// gets everything.
pub(crate) fn jain(values: &[f64]) -> Option<f64> {
    let sum: f64 = values.iter().sum();
    let squares: f64 = values.iter().map(|v| v * v).sum();
    (values.len() > 1 && squares > 0.0).then(|| sum * sum / (values.len() as f64 * squares))
}

/// One sentence or two about what a strategy did.
pub(crate) fn line(out: &RunOutput, r: &StrategyResult) -> String {
    let mut parts: Vec<String> = Vec::new();
    // Outcome.
    let mut outcome = if r.succeeded == r.requests {
        format!("all {} requests succeeded", count(r.requests))
    } else {
        format!(
            "{} of {} requests succeeded",
            count(r.succeeded),
            count(r.requests)
        )
    };
    if r.dead_lettered > 0 {
        let statuses: Vec<String> = r
            .dead_letter
            .by_last_status
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(status, n)| format!("{} after a {status}", count(*n)))
            .collect();
        outcome.push_str(&format!(
            ", {} dead-lettered{}",
            count(r.dead_lettered),
            if statuses.is_empty() {
                String::new()
            } else {
                format!(" ({})", statuses.join(", "))
            }
        ));
    }
    if r.rejected_by_breaker > 0 {
        outcome.push_str(&format!(
            ", {} failed fast by the open breaker",
            count(r.rejected_by_breaker)
        ));
    }
    if r.rejected_by_throttle > 0 {
        outcome.push_str(&format!(
            ", {} shed by the client's throttle",
            count(r.rejected_by_throttle)
        ));
    }
    if r.in_flight_at_horizon > 0 {
        outcome.push_str(&format!(
            ", {} still pending",
            count(r.in_flight_at_horizon)
        ));
    }
    parts.push(capitalise(&outcome));
    // Refusals.
    let mut refusals = if r.http_429 == 0 {
        "no 429s".to_string()
    } else {
        format!(
            "{} 429s, {} of {} attempts",
            count(r.http_429),
            percent(r.rate_429()),
            count(r.attempts)
        )
    };
    if r.attempts_per_request >= 1.05 {
        refusals.push_str(&format!(
            " ({:.2} attempts per request)",
            r.attempts_per_request
        ));
    }
    for (n, what) in [
        (r.http_5xx, "server errors"),
        (r.timeouts, "timeouts"),
        (r.http_408, "408s"),
        (r.http_409, "409s (conflicts)"),
        (r.transport_errors, "transport errors (refused or reset)"),
        (r.http_413, "413s (heavier than a limit's burst)"),
    ] {
        if n > 0 {
            refusals.push_str(&format!(", {} {what}", count(n)));
        }
    }
    parts.push(refusals);
    // Time.
    let time = if !r.finished {
        match r.stop {
            StopReason::Stalled => format!(
                "stalled after {}: work was pending but nothing was left to happen",
                duration(r.makespan_s)
            ),
            StopReason::MemoryLimit => format!(
                "stopped after {}: it would have held more than {} requests at once (in flight or \
                 waiting to retry), the scenario's max_requests_held",
                duration(r.makespan_s),
                count(out.scenario.max_requests_held)
            ),
            StopReason::Interrupted => format!(
                "interrupted (Ctrl-C) after {}: the requests not final then are counted in flight",
                duration(r.makespan_s)
            ),
            _ => format!(
                "not finished: the {} horizon came first",
                duration(r.makespan_s)
            ),
        }
    } else {
        let mut t = format!("finished in {}", duration(r.makespan_s));
        if let Some(ideal) = ideal_makespan(r.requests, out.api_capacity_rps)
            && r.succeeded == r.requests
            && ideal > 0.0
        {
            let ratio = r.makespan_s / ideal;
            if ratio >= 1.1 {
                t.push_str(&format!(
                    ", {ratio:.1}× slower than the API's limit allows ({})",
                    duration(ideal)
                ));
            } else if ratio >= 0.95 {
                t.push_str(&format!(
                    ", as fast as the API's limit allows ({})",
                    duration(ideal)
                ));
            } else {
                t.push_str(&format!(
                    ", quicker than the API's sustained rate allows ({}) thanks to the limits' \
                     initial burst",
                    duration(ideal)
                ));
            }
        }
        t
    };
    parts.push(time);
    // Fairness.
    if r.clients.len() > 1 {
        let goodputs: Vec<f64> = r.clients.iter().map(|c| c.goodput_rps).collect();
        let lo = goodputs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = goodputs.iter().copied().fold(0.0, f64::max);
        if let Some(j) = jain(&goodputs) {
            parts.push(format!(
                "clients' own goodput {:.2}–{:.2}/s (Jain's fairness index {j:.3})",
                lo, hi
            ));
        }
    }
    let mut text = parts.join("; ");
    text.push('.');
    text
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped() {
        assert_eq!(count(7), "7");
        assert_eq!(count(3412), "3\u{202f}412");
        assert_eq!(count(1_000_000), "1\u{202f}000\u{202f}000");
    }

    #[test]
    fn jain_index() {
        assert_eq!(jain(&[5.0, 5.0]), Some(1.0));
        assert_eq!(jain(&[10.0, 0.0]), Some(0.5));
        assert_eq!(jain(&[3.0]), None);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0.25), "250\u{a0}ms");
        assert_eq!(duration(49.3), "49.3\u{a0}s");
        assert_eq!(duration(87.0), "1m\u{a0}27s");
        assert_eq!(duration(3600.0), "1h\u{a0}00m");
    }
}
