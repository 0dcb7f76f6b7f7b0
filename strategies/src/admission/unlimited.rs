use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// Admits everything at once, like `asyncio.gather` over every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

impl Strategy for Unlimited {
    fn poll_admit(&mut self, _now: Nanos, _req: &RequestInfo) -> Admit {
        Admit::Now
    }
    fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {}
    fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
    fn response_changes_admission(&self) -> bool {
        false
    }
    /// Never: it ignores replies.
    fn response_may_change_admission(&self) -> bool {
        false
    }
    /// A reply changes nothing.
    fn hears_responses(&self) -> bool {
        false
    }
}
