//! Why a [`Limiter::call`](crate::Limiter::call) did not succeed.

use std::fmt;

use ratelab_strategies::retry::DeadLetterReason;

use crate::reply::HttpReply;

/// Why a call did not succeed.
#[derive(Debug)]
pub enum CallError<T, E> {
    /// An open breaker with `on_open = "fail"` refused it; nothing was sent for this attempt.
    RejectedByBreaker {
        /// Attempts sent before the refusal.
        attempts: u32,
    },
    /// The client's own throttle (`sre_throttle`) shed it; nothing was sent for this attempt.
    RejectedByThrottle {
        /// Attempts sent before the refusal.
        attempts: u32,
    },
    /// The last attempt failed and the policy does not retry it (out of attempts, or a failure
    /// it does not cover).
    GaveUp {
        /// Attempts sent.
        attempts: u32,
        /// Why the policy gave up.
        reason: DeadLetterReason,
        /// How the last attempt ended.
        last: Failure<T, E>,
    },
}

/// How a failed attempt ended (a success is never one: it is the call's `Ok`).
#[derive(Debug)]
pub enum Failure<T, E> {
    /// A reply that was not 2xx (429, 5xx, 413…).
    Reply(T),
    /// The user's future returned an error (counted as a server error: retried like a 5xx).
    Error(E),
    /// The client timeout passed.
    Timeout,
}

impl<T: HttpReply, E: fmt::Display> fmt::Display for CallError<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::RejectedByBreaker { attempts } => {
                write!(f, "rejected by the open breaker after {attempts} attempts")
            }
            CallError::RejectedByThrottle { attempts } => {
                write!(f, "shed by the client's throttle after {attempts} attempts")
            }
            CallError::GaveUp {
                attempts,
                reason,
                last,
            } => {
                write!(
                    f,
                    "gave up ({}) after {attempts} attempts: ",
                    reason.as_str()
                )?;
                match last {
                    Failure::Reply(r) => write!(f, "HTTP {}", r.status_code()),
                    Failure::Error(e) => write!(f, "{e}"),
                    Failure::Timeout => write!(f, "timeout"),
                }
            }
        }
    }
}

impl<T: HttpReply + fmt::Debug, E: fmt::Display + fmt::Debug> std::error::Error
    for CallError<T, E>
{
}
