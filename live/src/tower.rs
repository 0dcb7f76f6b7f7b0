//! The limiter as a [`tower_layer::Layer`] (feature `tower`): every request through the
//! service is admitted, sent, read and retried by a [`Limiter`], as
//! [`Limiter::call`] does.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use ratelab_live::Limiter;
//! use ratelab_live::tower::LimiterLayer;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! let spec: ratelab_strategies::spec::StrategySpec = toml::from_str(r#"
//!     name = "paced"
//!     admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
//!     retry = { kind = "exponential", honor_retry_after = true, max_attempts = 10 }
//! "#)?;
//! let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
//! let mut service = ServiceBuilder::new()
//!     .layer(LimiterLayer::new(Limiter::from_spec(&spec, 42)))
//!     .service(client);
//! let request = http::Request::post("http://127.0.0.1:8080/v1/analyze")
//!     .body(Full::new(Bytes::from("{}")))?;
//! let response = service.ready().await?.call(request).await?;
//! println!("{}", response.status());
//! # Ok(()) }
//! ```
//!
//! # Requests are sent again
//!
//! Each attempt sends a clone of the request, so the body must be `Clone` (`Full<Bytes>`,
//! `String`, `Bytes`, `()`…; a streaming body cannot be sent twice). The attempt's
//! [`Attempt`] is put in the clone's extensions, for an inner layer that wants it in a header
//! (`ratelab serve` reads `x-request-id`, `x-attempt`, `x-tokens`). Every request weighs one
//! token (use [`Limiter::call_request`] directly for weighted requests).
//!
//! # What the service returns
//!
//! - `Ok(response)` for a 2xx reply, and also for the last reply of a request the policy gave
//!   up on (a 429 after the last attempt, a 500 it does not retry, a 413…): tower users
//!   expect the response and its status, as from the inner service. With
//!   [`LimiterLayer::final_reply_as_error`] that case is an
//!   `Err(CallError::GaveUp { last: Failure::Reply(response), .. })` instead.
//! - `Err(`[`CallError`]`)` otherwise: the inner service's error after the last attempt
//!   (`GaveUp` with [`Failure::Error`]), the client timeout ([`Failure::Timeout`]), or a
//!   refusal that sent nothing (`RejectedByBreaker`, `RejectedByThrottle`).
//!
//! The replies of the attempts that are retried are dropped unread.
//!
//! `poll_ready` is always ready: admission happens inside `call`, whose future waits for the
//! limiter (each attempt waits for the inner service's own `poll_ready` before it is sent).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ratelab_strategies::{RetryPolicy, Strategy};
use tower_layer::Layer;
use tower_service::Service;

use crate::driver::{Attempt, Limiter};
use crate::errors::{CallError, Failure};

/// Wraps a service in a [`LimiterService`] that runs every request through a [`Limiter`]
/// (a cheap handle: every service the layer makes shares the one limiter).
pub struct LimiterLayer<S = ratelab_strategies::Stack, R = ratelab_strategies::Retry> {
    limiter: Limiter<S, R>,
    reply_as_error: bool,
}

impl<S, R> Clone for LimiterLayer<S, R> {
    fn clone(&self) -> Self {
        LimiterLayer {
            limiter: self.limiter.clone(),
            reply_as_error: self.reply_as_error,
        }
    }
}

impl<S, R> LimiterLayer<S, R> {
    /// A layer running requests through `limiter`.
    pub fn new(limiter: Limiter<S, R>) -> Self {
        LimiterLayer {
            limiter,
            reply_as_error: false,
        }
    }

    /// Returns the last reply of a request the policy gave up on (a non-2xx status) as
    /// `Err(CallError::GaveUp { last: Failure::Reply(response), .. })` instead of `Ok(response)`.
    pub fn final_reply_as_error(mut self, yes: bool) -> Self {
        self.reply_as_error = yes;
        self
    }

    /// The limiter.
    pub fn limiter(&self) -> &Limiter<S, R> {
        &self.limiter
    }
}

impl<Inner, S, R> Layer<Inner> for LimiterLayer<S, R> {
    type Service = LimiterService<Inner, S, R>;

    fn layer(&self, inner: Inner) -> Self::Service {
        LimiterService {
            inner,
            limiter: self.limiter.clone(),
            reply_as_error: self.reply_as_error,
        }
    }
}

/// A service whose requests go through a [`Limiter`]: see the [module](self) for what it
/// returns.
pub struct LimiterService<Inner, S = ratelab_strategies::Stack, R = ratelab_strategies::Retry> {
    inner: Inner,
    limiter: Limiter<S, R>,
    reply_as_error: bool,
}

impl<Inner: Clone, S, R> Clone for LimiterService<Inner, S, R> {
    fn clone(&self) -> Self {
        LimiterService {
            inner: self.inner.clone(),
            limiter: self.limiter.clone(),
            reply_as_error: self.reply_as_error,
        }
    }
}

impl<Inner, S, R> LimiterService<Inner, S, R> {
    /// The limiter.
    pub fn limiter(&self) -> &Limiter<S, R> {
        &self.limiter
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &Inner {
        &self.inner
    }
}

/// The error of a [`LimiterService`] around `Inner`.
pub type LimiterError<ResBody, E> = CallError<http::Response<ResBody>, E>;

impl<Inner, S, R, B, ResBody> Service<http::Request<B>> for LimiterService<Inner, S, R>
where
    Inner: Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    Inner::Future: Send,
    Inner::Error: Send,
    B: Clone + Send + 'static,
    ResBody: Send + 'static,
    S: Strategy + Send + 'static,
    R: RetryPolicy + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = LimiterError<ResBody, Inner::Error>;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let limiter = self.limiter.clone();
        let inner = self.inner.clone();
        let reply_as_error = self.reply_as_error;
        Box::pin(async move {
            let result = limiter
                // Owns the service and the request: the future needs neither to be `Sync`.
                .call(move |attempt: Attempt| {
                    let mut svc = inner.clone();
                    let mut req = req.clone();
                    req.extensions_mut().insert(attempt);
                    async move {
                        std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
                        svc.call(req).await
                    }
                })
                .await;
            match result {
                Err(CallError::GaveUp {
                    last: Failure::Reply(response),
                    ..
                }) if !reply_as_error => Ok(response),
                other => other,
            }
        })
    }
}
