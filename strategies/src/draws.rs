//! Addressable random draws.
//!
//! Every random number of a run is a pure function of (seed, purpose, client, request, attempt):
//! ChaCha8 keyed by the seed and the purpose, with the client as its stream and
//! (request, attempt) as its position. So adding a client changes nobody else's draws,
//! and the same request and attempt draw the same API latency under every strategy (common
//! random numbers), whatever order the simulator happens to ask in.
//!
//! Two layouts share that addressing. [`Draws::rng`] gives a whole 64-byte block per address,
//! for samplers that need several numbers. [`Draws::u64`] (and [`Draws::unit`]) give one `u64` per
//! address, eight to a block, with the request in the low bits of the position: consecutive
//! requests read consecutive words, so a [`DrawCache`] that keeps the 4-block window ChaCha8
//! generates at once serves 32 consecutive requests from one computation. The two layouts are
//! keyed apart, so they never share bits.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// `u64`s in one refill of `ChaCha8Rng`: 4 blocks of 16 32-bit words.
const WINDOW: usize = 32;
/// Windows a [`DrawCache`] keeps (direct-mapped by client and attempt).
const CACHE_SLOTS: usize = 8;

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
    /// A strategy's own randomness, addressed by its client and a counter of its own (Vegas's
    /// probe jitter).
    Strategy = 7,
    /// Gaps and sizes of other tenants' requests (`[api] background`), addressed by the
    /// reserved client [`BACKGROUND_CLIENT`].
    Background = 8,
    /// Network delay of one hop of an attempt (the optimistic-concurrency model).
    Network = 9,
}

/// The client id of other tenants' traffic in addressed draws: no real client has it.
pub const BACKGROUND_CLIENT: u32 = u32::MAX;

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

    fn keyed(&self, purpose: Purpose, layout: &[u8; 8]) -> ChaCha8Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
        key[16..24].copy_from_slice(layout);
        ChaCha8Rng::from_seed(key)
    }

    /// A generator positioned at the block addressed by the key; read as many numbers from it as
    /// one sample needs (a block holds eight `u64`s before it runs into the next address).
    pub fn rng(&self, purpose: Purpose, client: u32, request: u64, attempt: u32) -> ChaCha8Rng {
        let mut rng = self.keyed(purpose, b"ratelab1");
        rng.set_stream(u64::from(client));
        // One 16-word block per (request, attempt): the 64-bit block counter holds 48 bits of
        // request and 16 of attempt (validation keeps both far below that).
        let block = (u128::from(request) << 16) | u128::from(attempt & 0xffff);
        rng.set_word_pos(block * 16);
        rng
    }

    /// One uniform `u64` for the key.
    pub fn u64(&self, purpose: Purpose, client: u32, request: u64, attempt: u32) -> u64 {
        let mut rng = self.keyed(purpose, WORD_LAYOUT);
        rng.set_stream(u64::from(client));
        rng.set_word_pos(word_pos(request, attempt));
        rng.next_u64()
    }

    /// One uniform number in the open interval (0, 1) for the key (never 0, so `ln` is finite).
    pub fn unit(&self, purpose: Purpose, client: u32, request: u64, attempt: u32) -> f64 {
        unit_open(self.u64(purpose, client, request, attempt))
    }
}

/// The key tag of the one-`u64`-per-address layout.
const WORD_LAYOUT: &[u8; 8] = b"ratelab2";

/// The position, in 32-bit words, of the `u64` addressed by (request, attempt): 16 bits of
/// attempt above 48 bits of request, two words each (validation keeps both far below that).
fn word_pos(request: u64, attempt: u32) -> u128 {
    u128::from(u64_index(request, attempt)) * 2
}

/// The index, in `u64`s, of the draw addressed by (request, attempt).
fn u64_index(request: u64, attempt: u32) -> u64 {
    (u64::from(attempt & 0xffff) << 48) | (request & ((1 << 48) - 1))
}

/// A memo of [`Draws::u64`] for one purpose: it keeps the last few 4-block windows ChaCha8
/// generated, so draws for neighbouring requests (the common case: requests are sent roughly in
/// order) cost one ChaCha8 refill per 32 draws instead of one each. It returns exactly what
/// [`Draws::u64`] returns for the same key; only the cost differs.
#[derive(Clone, Debug)]
pub struct DrawCache {
    draws: Draws,
    purpose: Purpose,
    rng: ChaCha8Rng,
    /// The stream (client) `rng` is set to: setting it costs a call, and is mostly not needed.
    stream: u32,
    slots: [CacheSlot; CACHE_SLOTS],
}

#[derive(Clone, Debug)]
struct CacheSlot {
    /// The client whose window is held.
    client: u32,
    /// The window held ([`NO_WINDOW`] when none: real windows are below 2^59).
    window: u64,
    words: [u64; WINDOW],
}

const NO_WINDOW: u64 = u64::MAX;

impl DrawCache {
    /// An empty cache of `draws` for `purpose`.
    pub fn new(draws: Draws, purpose: Purpose) -> Self {
        DrawCache {
            draws,
            purpose,
            rng: draws.keyed(purpose, WORD_LAYOUT),
            stream: 0,
            slots: std::array::from_fn(|_| CacheSlot {
                client: 0,
                window: NO_WINDOW,
                words: [0; WINDOW],
            }),
        }
    }

    /// The draws this cache serves.
    pub fn draws(&self) -> Draws {
        self.draws
    }

    /// The purpose this cache serves.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// `Draws::u64(purpose, client, request, attempt)`.
    pub fn u64(&mut self, client: u32, request: u64, attempt: u32) -> u64 {
        let index = u64_index(request, attempt);
        let window = index / WINDOW as u64;
        let offset = (index % WINDOW as u64) as usize;
        let slot = (client as usize)
            .wrapping_mul(31)
            .wrapping_add(attempt as usize)
            % CACHE_SLOTS;
        let s = &mut self.slots[slot];
        if s.window != window || s.client != client {
            if self.stream != client {
                self.rng.set_stream(u64::from(client));
                self.stream = client;
            }
            self.rng
                .set_word_pos(u128::from(window) * (2 * WINDOW as u128));
            // One copy of the 4-block buffer; a `u64` is two little-endian words, as `next_u64`.
            let mut bytes = [0u8; 8 * WINDOW];
            self.rng.fill_bytes(&mut bytes);
            for (w, b) in s.words.iter_mut().zip(bytes.chunks_exact(8)) {
                *w = u64::from_le_bytes(b.try_into().expect("8 bytes"));
            }
            s.client = client;
            s.window = window;
        }
        s.words[offset]
    }

    /// `Draws::unit(purpose, client, request, attempt)`.
    pub fn unit(&mut self, client: u32, request: u64, attempt: u32) -> f64 {
        unit_open(self.u64(client, request, attempt))
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
    fn the_cache_returns_exactly_the_uncached_draws() {
        let d = Draws::new(9);
        let mut cache = DrawCache::new(d, Purpose::Latency);
        // In order, out of order, across windows, clients and attempts, and back again.
        let mut keys = Vec::new();
        for id in 0..100u64 {
            keys.push((0u32, id, 1u32));
            if id % 7 == 0 {
                keys.push((0, id / 2, 3));
                keys.push((5, id * 1000, 1));
            }
        }
        keys.push((0, (1 << 48) - 1, 1000));
        keys.push((3, 0, 0));
        for &(c, id, a) in keys.iter().chain(keys.iter().rev()) {
            assert_eq!(
                cache.u64(c, id, a),
                d.u64(Purpose::Latency, c, id, a),
                "client {c}, request {id}, attempt {a}"
            );
        }
        assert_ne!(
            d.u64(Purpose::Latency, 0, 0, 1),
            d.u64(Purpose::Latency, 0, 1, 1)
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
