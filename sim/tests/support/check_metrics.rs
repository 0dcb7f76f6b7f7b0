//! The result's metrics and series against the calls observed.

use ratelab_sim::StrategyResult;
use ratelab_sim::result::StopReason;
use ratelab_strategies::Response;
use ratelab_strategies::time::{Nanos, SECOND};

use super::check_run::Final;

/// The result's metrics against the calls observed: per-second series, attempts histograms,
/// dead letters, status counts, makespan, goodput and the end-to-end latency summary.
pub fn check_metrics(
    res: &StrategyResult,
    send_times: &[Nanos],
    replies: &[(Nanos, u32, Response)],
    final_log: &[(Nanos, u32, u32, Final, Nanos)],
    end: Nanos,
) -> Result<(), String> {
    use ratelab_strategies::Outcome;
    let per_second = |times: &mut dyn Iterator<Item = Nanos>| {
        let mut v: Vec<u64> = vec![];
        for t in times {
            let i = (t / SECOND) as usize;
            if v.len() <= i {
                v.resize(i + 1, 0);
            }
            v[i] += 1;
        }
        v
    };
    let trim = |v: &[u64]| {
        let n = v.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
        v[..n].to_vec()
    };
    ensure!(
        !matches!(res.stop, StopReason::Stalled),
        "the run stalled: work pending and nothing left to happen"
    );
    let sends = per_second(&mut send_times.iter().copied());
    ensure!(
        trim(&res.series.sends) == sends,
        "series.sends {:?} but sends per second {sends:?}",
        res.series.sends
    );
    let successes = per_second(
        &mut final_log
            .iter()
            .filter(|f| f.3 == Final::Succeeded)
            .map(|f| f.0),
    );
    ensure!(
        trim(&res.series.successes) == successes,
        "series.successes {:?} but {successes:?}",
        res.series.successes
    );
    let limited = per_second(
        &mut replies
            .iter()
            .filter(|r| r.2.outcome == Outcome::RateLimited)
            .map(|r| r.0),
    );
    ensure!(
        trim(&res.series.http_429) == limited,
        "series.http_429 {:?} but {limited:?}",
        res.series.http_429
    );
    let lens = [
        res.series.sends.len(),
        res.series.successes.len(),
        res.series.http_429.len(),
        res.series.in_flight.len(),
    ];
    ensure!(
        lens.iter().all(|&l| l == lens[0]),
        "series of different lengths {lens:?}"
    );
    ensure!(
        res.series.in_flight.iter().all(|&x| x >= 0.0),
        "negative in-flight"
    );

    let count = |f: &dyn Fn(&Response) -> bool| replies.iter().filter(|r| f(&r.2)).count() as u64;
    ensure!(
        res.http_5xx == count(&|r| r.outcome == Outcome::ServerError),
        "http_5xx {}",
        res.http_5xx
    );
    ensure!(
        res.http_413 == count(&|r| r.status == 413),
        "http_413 {}",
        res.http_413
    );
    ensure!(
        res.timeouts == count(&|r| r.outcome == Outcome::Timeout),
        "timeouts {}",
        res.timeouts
    );

    let histogram = |kind: Final| {
        let mut v: Vec<u64> = vec![];
        for f in final_log.iter().filter(|f| f.3 == kind) {
            let i = f.2.max(1) as usize - 1;
            if v.len() <= i {
                v.resize(i + 1, 0);
            }
            v[i] += 1;
        }
        v
    };
    ensure!(
        res.attempts_histogram.succeeded == histogram(Final::Succeeded),
        "attempts_histogram.succeeded {:?} but {:?}",
        res.attempts_histogram.succeeded,
        histogram(Final::Succeeded)
    );
    ensure!(
        res.attempts_histogram.dead_lettered == histogram(Final::DeadLettered),
        "attempts_histogram.dead_lettered {:?} but {:?}",
        res.attempts_histogram.dead_lettered,
        histogram(Final::DeadLettered)
    );
    let by_status: u64 = res.dead_letter.by_last_status.values().sum();
    ensure!(
        by_status == res.dead_lettered,
        "dead letters by status add up to {by_status}"
    );
    ensure!(
        res.dead_letter.first.len() as u64 == res.dead_lettered.min(20),
        "{} dead letters listed",
        res.dead_letter.first.len()
    );

    let makespan = end;
    ensure!(
        res.makespan_s == makespan as f64 / 1e9,
        "makespan_s {} but {} (finished {})",
        res.makespan_s,
        makespan as f64 / 1e9,
        res.finished
    );
    let goodput = if res.makespan_s > 0.0 {
        res.succeeded as f64 / res.makespan_s
    } else {
        0.0
    };
    ensure!(
        res.goodput_rps == goodput,
        "goodput_rps {} but {goodput}",
        res.goodput_rps
    );

    let e2e: Vec<Nanos> = final_log
        .iter()
        .filter(|f| f.3 == Final::Succeeded)
        .map(|f| f.4)
        .collect();
    let l = &res.latency_s;
    ensure!(
        l.count == e2e.len() as u64,
        "latency_s.count {} but {} successes",
        l.count,
        e2e.len()
    );
    if let Some(&max) = e2e.iter().max() {
        let max_s = max as f64 / 1e9;
        ensure!(
            l.max == max_s,
            "latency_s.max {} but the slowest success took {max_s} s",
            l.max
        );
        ensure!(
            l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
            "latency percentiles out of order: {l:?}"
        );
        let sum: u128 = e2e.iter().map(|&x| u128::from(x)).sum();
        let mean = sum as f64 / e2e.len() as f64 / 1e9;
        ensure!(
            (l.mean - mean).abs() <= mean * 1e-12 && l.mean <= l.max,
            "latency_s.mean {} but the successes' mean is {mean} s",
            l.mean
        );
    }
    Ok(())
}

/// The per-second mean of attempts in flight (time-weighted, to a thousandth) against the
/// exact integral of the observed sends and replies up to `end`.
pub fn check_in_flight(
    what: &str,
    series: &[f64],
    changes: &[(Nanos, u32, i64)],
    client: Option<u32>,
    end: Nanos,
) -> Result<(), String> {
    let mut integral: Vec<u128> = vec![];
    let (mut level, mut since) = (0i64, 0u64);
    let mut add = |from: Nanos, to: Nanos, level: i64| {
        let mut t = from;
        while t < to {
            let sec = t / SECOND;
            let stop = to.min((sec + 1) * SECOND);
            let i = sec as usize;
            if integral.len() <= i {
                integral.resize(i + 1, 0);
            }
            integral[i] += level as u128 * u128::from(stop - t);
            t = stop;
        }
    };
    for &(t, c, d) in changes {
        if client.is_some_and(|x| x != c) {
            continue;
        }
        if level > 0 {
            add(since, t, level);
        }
        since = t;
        level += d;
        ensure!(level >= 0, "{what}: more replies than sends at {t}");
    }
    if level > 0 {
        add(since, end, level);
    }
    for (i, &got) in series.iter().enumerate() {
        let ns = integral.get(i).copied().unwrap_or(0);
        let covered = end.saturating_sub(i as u64 * SECOND).clamp(1, SECOND);
        let expected = (ns as f64 / covered as f64 * 1000.0).round() / 1000.0;
        ensure!(
            got == expected,
            "{what}[{i}] = {got}, the calls give {expected}"
        );
    }
    ensure!(
        integral.iter().skip(series.len()).all(|&x| x == 0),
        "{what}: {} seconds, but attempts were in flight later",
        series.len()
    );
    Ok(())
}
