//! The limiter as [`reqwest_middleware`] middleware (feature `reqwest`): every request through
//! the client is admitted, sent, read and retried by a [`Limiter`], as [`Limiter::call`] does.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ratelab_live::Limiter;
//! use ratelab_live::reqwest::LimiterMiddleware;
//!
//! let spec: ratelab_strategies::spec::StrategySpec = toml::from_str(r#"
//!     name = "paced"
//!     admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
//!     retry = { kind = "exponential", honor_retry_after = true, max_attempts = 10 }
//! "#)?;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(LimiterMiddleware::new(Limiter::from_spec(&spec, 42)))
//!     .build();
//! let response = client.post("http://127.0.0.1:8080/v1/analyze").body("{}").send().await?;
//! println!("{}", response.status());
//! # Ok(()) }
//! ```
//!
//! Each attempt sends `req.try_clone()`: a request whose body is a stream cannot be sent
//! twice and is refused at once (an [`reqwest_middleware::Error::Middleware`] holding a
//! [`BodyNotCloneable`]; nothing is sent). Each attempt gets a copy of the extensions with its
//! [`Attempt`] in them (for a later middleware that wants it in a header); those of the attempt
//! that ends the request are handed back. Every request weighs one token.
//!
//! What the client returns:
//!
//! - `Ok(response)` for a 2xx reply, and also for the last reply of a request the policy gave
//!   up on (a 429 after the last attempt, a 413…), as reqwest itself returns a non-2xx
//!   response; with [`LimiterMiddleware::final_reply_as_error`] that case is an error instead
//!   (below);
//! - the last attempt's own error when it failed without a reply (connection refused, reset…)
//!   and the policy gave up: the error reqwest would have returned, so `is_connect()` and the
//!   like still work;
//! - otherwise [`reqwest_middleware::Error::Middleware`] holding a [`LimiterError`]
//!   (downcast it with `anyhow::Error::downcast_ref`): the client timeout, an open breaker,
//!   the client's throttle, or with `final_reply_as_error` the last reply.
//!
//! The replies of the attempts that are retried are dropped unread.

use std::fmt;

use http::{Extensions, HeaderMap};
use ratelab_strategies::{RetryPolicy, Strategy};
use reqwest_middleware::{Middleware, Next};

use crate::driver::{Attempt, Limiter};
use crate::errors::{CallError, Failure};
use crate::reply::HttpReply;

impl HttpReply for ::reqwest::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
    fn header_map(&self) -> &HeaderMap {
        self.headers()
    }
}

/// What a [`LimiterMiddleware`] puts in [`reqwest_middleware::Error::Middleware`]. Its
/// `GaveUp` holds [`Failure::Reply`] (with `final_reply_as_error`) or [`Failure::Timeout`],
/// never [`Failure::Error`]: that error is returned as it is.
pub type LimiterError = CallError<::reqwest::Response, reqwest_middleware::Error>;

/// The request's body is a stream: it cannot be sent again, so the limiter does not take it.
#[derive(Debug)]
pub struct BodyNotCloneable;

impl fmt::Display for BodyNotCloneable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the request's body is a stream and cannot be sent again: the rate limiter needs a \
             body it can clone (bytes, a string, JSON)",
        )
    }
}

impl std::error::Error for BodyNotCloneable {}

/// Middleware that runs every request through a [`Limiter`] (a cheap handle: clones share
/// one limiter). See the [module](self) for what the client returns.
pub struct LimiterMiddleware<S = ratelab_strategies::Stack, R = ratelab_strategies::Retry> {
    limiter: Limiter<S, R>,
    reply_as_error: bool,
}

impl<S, R> Clone for LimiterMiddleware<S, R> {
    fn clone(&self) -> Self {
        LimiterMiddleware {
            limiter: self.limiter.clone(),
            reply_as_error: self.reply_as_error,
        }
    }
}

impl<S, R> LimiterMiddleware<S, R> {
    /// Middleware running requests through `limiter`.
    pub fn new(limiter: Limiter<S, R>) -> Self {
        LimiterMiddleware {
            limiter,
            reply_as_error: false,
        }
    }

    /// Returns the last reply of a request the policy gave up on (a non-2xx status) as an
    /// error holding `CallError::GaveUp { last: Failure::Reply(response), .. }` instead of
    /// `Ok(response)`.
    pub fn final_reply_as_error(mut self, yes: bool) -> Self {
        self.reply_as_error = yes;
        self
    }

    /// The limiter.
    pub fn limiter(&self) -> &Limiter<S, R> {
        &self.limiter
    }
}

/// One attempt's response and the extensions it was sent with.
struct Reply {
    response: ::reqwest::Response,
    extensions: Extensions,
}

impl HttpReply for Reply {
    fn status_code(&self) -> u16 {
        self.response.status_code()
    }
    fn header_map(&self) -> &HeaderMap {
        self.response.header_map()
    }
}

#[async_trait::async_trait]
impl<S, R> Middleware for LimiterMiddleware<S, R>
where
    S: Strategy + Send + 'static,
    R: RetryPolicy + Send + 'static,
{
    async fn handle(
        &self,
        req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        if req.try_clone().is_none() {
            return Err(reqwest_middleware::Error::middleware(BodyNotCloneable));
        }
        let sent_with = extensions.clone();
        let result = self
            .limiter
            .call(|attempt: Attempt| {
                let next = next.clone();
                let req = req.try_clone();
                let mut ext = sent_with.clone();
                ext.insert(attempt);
                async move {
                    let req =
                        req.ok_or_else(|| reqwest_middleware::Error::middleware(BodyNotCloneable))?;
                    let response = next.run(req, &mut ext).await?;
                    Ok::<_, reqwest_middleware::Error>(Reply {
                        response,
                        extensions: ext,
                    })
                }
            })
            .await;
        let error: LimiterError = match result {
            Ok(reply) => {
                *extensions = reply.extensions;
                return Ok(reply.response);
            }
            Err(CallError::GaveUp {
                last: Failure::Reply(reply),
                attempts,
                reason,
            }) => {
                *extensions = reply.extensions;
                if !self.reply_as_error {
                    return Ok(reply.response);
                }
                CallError::GaveUp {
                    attempts,
                    reason,
                    last: Failure::Reply(reply.response),
                }
            }
            Err(CallError::GaveUp {
                last: Failure::Error(e),
                ..
            }) => return Err(e),
            Err(CallError::GaveUp {
                last: Failure::Timeout,
                attempts,
                reason,
            }) => CallError::GaveUp {
                attempts,
                reason,
                last: Failure::Timeout,
            },
            Err(CallError::RejectedByBreaker { attempts }) => {
                CallError::RejectedByBreaker { attempts }
            }
            Err(CallError::RejectedByThrottle { attempts }) => {
                CallError::RejectedByThrottle { attempts }
            }
        };
        Err(reqwest_middleware::Error::middleware(error))
    }
}
