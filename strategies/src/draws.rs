//! Addressable random draws.
//!
//! Every random number of a run is a pure function of (seed, purpose, client, request, attempt):
//! ChaCha8 keyed by the seed and the purpose, with the client as its stream and
//! (request, attempt) as its block position. So adding a client changes nobody else's draws,
//! and the same request and attempt draw the same API latency under every strategy (common
//! random numbers), whatever order the simulator happens to ask in.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// What a draw is for; each purpose has its own key, so draws for one never shift another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u64)]
pub enum Purpose {
    /// API service latency of one attempt.
    Latency = 1,
    /// Whether the API answers one attempt with a server error.
    ServerError = 2,
    /// Retry jitter after one attempt failed.
    Jitter = 3,
    /// Gap before a request arrives (Poisson arrivals).
    Arrival = 4,
    /// Size of a request in tokens.
    Tokens = 5,
    /// Free for users' own strategies and models.
    User = 6,
}

/// The random source of a run: a seed from which every draw is addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Draws {
    seed: u64,
}

impl Draws {
    /// Draws for a run with this seed.
    pub fn new(seed: u64) -> Self {
        Draws { seed }
    }

    /// The seed these draws come from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A generator positioned at the block addressed by the key; read as many numbers from it as
    /// one sample needs (a block holds eight `u64`s before it runs into the next address).
    pub fn rng(&self, purpose: Purpose, client: u32, request: u64, attempt: u32) -> ChaCha8Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
        key[16..24].copy_from_slice(b"ratelab1");
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(u64::from(client));
        // One 16-word block per (request, attempt): the 64-bit block counter holds 48 bits of
        // request and 16 of attempt (validation keeps both far below that).
        let block = (u128::from(request) << 16) | u128::from(attempt & 0xffff);
        rng.set_word_pos(block * 16);
        rng
    }

    /// One uniform `u64` for the key.
    pub fn u64(&self, purpose: Purpose, client: u32, request: u64, attempt: u32) -> u64 {
        self.rng(purpose, client, request, attempt).next_u64()
    }

    /// One uniform number in the open interval (0, 1) for the key (never 0, so `ln` is finite).
    pub fn unit(&self, purpose: Purpose, client: u32, request: u64, attempt: u32) -> f64 {
        unit_open(self.u64(purpose, client, request, attempt))
    }
}

/// Maps 64 random bits to (0, 1): the top 52 bits plus half a step, never 0 or 1 (with 53 bits
/// the top value would round to 1.0).
pub fn unit_open(bits: u64) -> f64 {
    ((bits >> 12) as f64 + 0.5) / (1u64 << 52) as f64
}

/// A uniform integer in `0..=max` from 64 random bits, exactly (no floats, no modulo bias
/// worth the name: the error is below 2^-64 · max).
pub fn uniform_upto(bits: u64, max: u64) -> u64 {
    ((u128::from(bits) * (u128::from(max) + 1)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_addressable_and_independent() {
        let d = Draws::new(42);
        let a = d.u64(Purpose::Latency, 0, 7, 1);
        assert_eq!(a, d.u64(Purpose::Latency, 0, 7, 1), "same key, same draw");
        assert_ne!(
            a,
            d.u64(Purpose::Latency, 1, 7, 1),
            "client is part of the key"
        );
        assert_ne!(
            a,
            d.u64(Purpose::Latency, 0, 8, 1),
            "request is part of the key"
        );
        assert_ne!(
            a,
            d.u64(Purpose::Latency, 0, 7, 2),
            "attempt is part of the key"
        );
        assert_ne!(
            a,
            d.u64(Purpose::Jitter, 0, 7, 1),
            "purpose is part of the key"
        );
        assert_ne!(
            a,
            Draws::new(43).u64(Purpose::Latency, 0, 7, 1),
            "seed is part of the key"
        );
    }

    #[test]
    fn unit_is_strictly_inside_zero_one() {
        assert!(unit_open(0) > 0.0);
        assert!(unit_open(u64::MAX) < 1.0);
    }

    #[test]
    fn uniform_upto_covers_its_range() {
        assert_eq!(uniform_upto(0, 10), 0);
        assert_eq!(uniform_upto(u64::MAX, 10), 10);
        assert_eq!(uniform_upto(u64::MAX / 2, 0), 0);
        assert_eq!(uniform_upto(u64::MAX, u64::MAX), u64::MAX);
    }
}
