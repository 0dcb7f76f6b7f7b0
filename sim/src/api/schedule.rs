//! An API that changes during a run: `[[api.schedule]]` entries that replace the limits, the
//! latency, the errors or the servers from their instant on, and `outages` during which the API
//! answers 503, refuses connections or hangs.
//!
//! Entries and outage edges are events due at their instant (DESIGN §3.1, §6.7): a request sent
//! at an entry's `at_s` meets the new values, and outages are half-open, `[at_s, at_s + for_s)`.

use ratelab_strategies::config::Checker;
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::{Deserialize, Serialize};

use super::{ErrorsSpec, LatencySpec, LimitSpec, MAX_SERVERS};

/// Most schedule entries, and most outages.
pub const MAX_CHANGES: usize = 10_000;

/// One `[[api.schedule]]` entry: from `at_s` on, each field it sets replaces the API's (entries
/// are cumulative: a field an entry leaves out keeps its latest value).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// When the entry takes effect, s from the start of the run.
    pub at_s: f64,
    /// The limits from then on. A limit at the same index, of the same kind and unit, keeps its
    /// state (a bucket refilled at the old rate until `at_s`, then clamped to the new burst).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Vec<LimitSpec>>,
    /// The service latency from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySpec>,
    /// The server errors from then on (`{ probability = 0 }` ends them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorsSpec>,
    /// The servers from then on (requests already being served finish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<u32>,
}

impl ScheduleEntry {
    /// The instant of the entry.
    pub fn at(&self) -> Nanos {
        secs_to_nanos(self.at_s)
    }
}

/// What the API does during an outage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutageMode {
    /// Every request is answered 503 at once (the rejected latency).
    #[serde(rename = "503")]
    Unavailable,
    /// Every connection is refused: the client sees a transport error (class `connection`).
    #[serde(rename = "refuse")]
    Refuse,
    /// Requests are accepted and never answered: only a client timeout ends them.
    #[serde(rename = "hang")]
    Hang,
}

/// One entry of `[api] outages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageSpec {
    /// Start, s.
    pub at_s: f64,
    /// Length, s: the outage covers `[at_s, at_s + for_s)`.
    pub for_s: f64,
    /// `"503"`, `"refuse"` or `"hang"`.
    pub mode: OutageMode,
}

impl OutageSpec {
    /// Start and end (exclusive) in nanoseconds.
    pub fn span(&self) -> (Nanos, Nanos) {
        let start = secs_to_nanos(self.at_s);
        (start, start.saturating_add(secs_to_nanos(self.for_s)))
    }
}

/// Fails `field` when it has more than [`MAX_CHANGES`] entries.
fn too_many(n: usize, field: &str, c: &mut Checker) -> bool {
    if n > MAX_CHANGES {
        c.fail(field, format!("has {n} entries; at most {MAX_CHANGES}"));
    }
    n > MAX_CHANGES
}

/// Checks the schedule (`c` prefixed `api`): entries in order of `at_s` within the horizon, and
/// each entry's fields.
pub fn check_schedule(entries: &[ScheduleEntry], horizon_s: f64, c: &mut Checker) {
    if too_many(entries.len(), "schedule", c) {
        return;
    }
    for (i, e) in entries.iter().enumerate() {
        let mut c = c.nested(&format!("schedule[{i}]"));
        c.number("at_s", e.at_s, 0.0, horizon_s);
        if i > 0 && e.at_s < entries[i - 1].at_s {
            c.fail(
                "at_s",
                format!(
                    "{} is before schedule[{}].at_s = {}; entries must be in order of at_s",
                    e.at_s,
                    i - 1,
                    entries[i - 1].at_s
                ),
            );
        }
        if e.limits.is_none() && e.latency.is_none() && e.errors.is_none() && e.servers.is_none() {
            c.fail(
                "at_s",
                "the entry changes nothing: give limits, latency, errors or servers",
            );
        }
        if let Some(limits) = &e.limits {
            for (j, l) in limits.iter().enumerate() {
                l.check(&mut c.nested(&format!("limits[{j}]")));
            }
        }
        if let Some(l) = &e.latency {
            l.check(&mut c.nested("latency"));
        }
        if let Some(errors) = &e.errors {
            errors.check(&mut c.nested("errors"));
        }
        if let Some(s) = e.servers {
            c.integer("servers", u64::from(s), 1, u64::from(MAX_SERVERS));
        }
    }
}

/// Checks the outages (`c` prefixed `api`): each within the horizon, in order, none overlapping.
pub fn check_outages(outages: &[OutageSpec], horizon_s: f64, c: &mut Checker) {
    if too_many(outages.len(), "outages", c) {
        return;
    }
    for (i, o) in outages.iter().enumerate() {
        let mut c = c.nested(&format!("outages[{i}]"));
        c.number("at_s", o.at_s, 0.0, horizon_s);
        c.positive("for_s", o.for_s, 0.0, horizon_s);
        if i > 0 {
            let prev = &outages[i - 1];
            let prev_end = prev.at_s + prev.for_s;
            if o.at_s < prev_end {
                c.fail(
                    "at_s",
                    format!(
                        "{} is before the end of outages[{}] ({} + {} = {prev_end}); outages \
                         must be in order and must not overlap",
                        o.at_s,
                        i - 1,
                        prev.at_s,
                        prev.for_s
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_strategies::config::Invalid;

    fn problems(toml_text: &str, horizon_s: f64) -> Vec<String> {
        #[derive(Deserialize)]
        struct Api {
            #[serde(default)]
            schedule: Vec<ScheduleEntry>,
            #[serde(default)]
            outages: Vec<OutageSpec>,
        }
        let api: Api = toml::from_str(toml_text).unwrap();
        let mut errors: Vec<Invalid> = Vec::new();
        let mut c = Checker::new("api", &mut errors);
        check_schedule(&api.schedule, horizon_s, &mut c);
        check_outages(&api.outages, horizon_s, &mut c);
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn entries_out_of_order_or_past_the_horizon_are_named() {
        let p = problems(
            r#"[[schedule]]
               at_s = 20
               servers = 2
               [[schedule]]
               at_s = 10
               servers = 3
               [[schedule]]
               at_s = 500
               servers = 1"#,
            100.0,
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("api.schedule[1].at_s") && p[0].contains("before"));
        assert!(p[1].contains("api.schedule[2].at_s") && p[1].contains("100"));
    }

    #[test]
    fn overlapping_outages_and_empty_entries_are_refused() {
        let p = problems(
            r#"outages = [{ at_s = 10, for_s = 10, mode = "503" },
                          { at_s = 15, for_s = 1, mode = "hang" }]
               [[schedule]]
               at_s = 1"#,
            100.0,
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("schedule[0]") && p[0].contains("changes nothing"));
        assert!(p[1].contains("api.outages[1].at_s") && p[1].contains("overlap"));
        // Back to back is fine: the intervals are half-open.
        let ok = problems(
            r#"outages = [{ at_s = 10, for_s = 5, mode = "refuse" },
                          { at_s = 15, for_s = 1, mode = "503" }]"#,
            100.0,
        );
        assert!(ok.is_empty(), "{ok:?}");
    }
}
