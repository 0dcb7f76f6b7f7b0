//! The built-in admission layers. Each is a small state machine implementing
//! [`Strategy`](crate::Strategy).

mod aimd;
mod fixed_delay;
mod semaphore;
mod token_bucket;
mod unlimited;

pub use aimd::Aimd;
pub use fixed_delay::FixedDelay;
pub use semaphore::Semaphore;
pub use token_bucket::TokenBucket;
pub use unlimited::Unlimited;
