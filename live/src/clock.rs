//! Real time as the state machines see it: nanoseconds since a start, and waits that are
//! precise to well under tokio's millisecond timer. Used by the driver and the mock server.

use std::time::Duration;

use ratelab_strategies::time::Nanos;
use tokio::time::Instant;

/// Sleeps until `deadline` (not at all when it has passed). With a non-zero `spin` it sleeps on
/// tokio's timer (millisecond resolution, typically 1–2 ms late) only until `spin` before the
/// deadline and then yields to the scheduler until the deadline has passed: waits are then
/// accurate to the scheduler's latency (tens of microseconds on an idle machine) at the price of
/// a busy task during the last `spin` of each wait.
pub async fn sleep_until(deadline: Instant, spin: Duration) {
    // tokio's timer would wait for its next millisecond tick even for a deadline that has passed.
    if deadline <= Instant::now() {
        return;
    }
    if spin.is_zero() {
        tokio::time::sleep_until(deadline).await;
        return;
    }
    if let Some(coarse) = deadline.checked_sub(spin)
        && coarse > Instant::now()
    {
        tokio::time::sleep_until(coarse).await;
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// Nanoseconds from `start` to now, saturating.
pub fn nanos_since(start: Instant) -> Nanos {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
