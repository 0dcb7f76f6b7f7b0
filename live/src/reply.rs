//! What the live driver reads from a reply: its status and headers, from whatever HTTP client
//! sent the request.

use http::HeaderMap;

/// What the driver needs from a reply: its status and headers. Implemented for
/// `http::Response<B>` (hyper, the hyper-util client, axum…), `http::response::Parts` and, with
/// the feature `reqwest`, `reqwest::Response`; wrap anything else in [`Inspected`].
pub trait HttpReply {
    /// The HTTP status code.
    fn status_code(&self) -> u16;
    /// The reply's headers.
    fn header_map(&self) -> &HeaderMap;
}

impl<B> HttpReply for http::Response<B> {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
    fn header_map(&self) -> &HeaderMap {
        self.headers()
    }
}

impl HttpReply for http::response::Parts {
    fn status_code(&self) -> u16 {
        self.status.as_u16()
    }
    fn header_map(&self) -> &HeaderMap {
        &self.headers
    }
}

/// A value of any type with the status and headers the driver reads, e.g.
/// `Inspected::new(r.status().as_u16(), r.headers().clone(), r)` for a `reqwest::Response`.
#[derive(Clone, Debug)]
pub struct Inspected<T> {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Whatever the caller wants back.
    pub value: T,
}

impl<T> Inspected<T> {
    /// Wraps `value` with its status and headers.
    pub fn new(status: u16, headers: HeaderMap, value: T) -> Self {
        Inspected {
            status,
            headers,
            value,
        }
    }
}

impl<T> HttpReply for Inspected<T> {
    fn status_code(&self) -> u16 {
        self.status
    }
    fn header_map(&self) -> &HeaderMap {
        &self.headers
    }
}
