//! Small constructors for unit tests.

use crate::{Nanos, RequestInfo, Response};

pub fn req(id: u64) -> RequestInfo {
    RequestInfo {
        client: 0,
        id,
        attempt: 1,
        tokens: 1,
    }
}

pub fn reply(id: u64, sent_at: Nanos, status: u16) -> Response {
    Response::new(req(id), sent_at, status, 1)
}

pub fn reply_ok(id: u64, sent_at: Nanos) -> Response {
    reply(id, sent_at, 200)
}
