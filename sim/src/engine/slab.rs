//! Attempts in flight: a slab (a `Vec` with a free list) of what each client will hear, decided
//! at the send (the API answers at that instant, and the latency is known).

use ratelab_strategies::time::Nanos;
use ratelab_strategies::{RequestInfo, Response};

/// One attempt in flight: what the client will hear, and when its request became ready.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flight {
    /// When the request became ready (end-to-end latency counts from here).
    pub ready_at: Nanos,
    /// The reply, or the client's own timeout.
    pub response: Response,
    /// The API settles the reply's status when it arrives ([`crate::api::Reply::settle`]).
    pub settle: bool,
}

/// The attempts in flight.
#[derive(Default)]
pub(crate) struct Slab {
    flights: Vec<Flight>,
    free: Vec<u32>,
}

impl Slab {
    /// Attempts in flight.
    pub fn len(&self) -> usize {
        self.flights.len() - self.free.len()
    }

    /// A free slot, or a new one, to be written with [`Slab::get_mut`] (a `Response` is too
    /// large to move cheaply: it is written in place).
    #[inline]
    pub fn take_slot(&mut self) -> u32 {
        match self.free.pop() {
            Some(slot) => slot,
            None => self.grow(),
        }
    }

    #[cold]
    fn grow(&mut self) -> u32 {
        let empty = RequestInfo {
            client: 0,
            id: 0,
            attempt: 0,
            tokens: 0,
        };
        self.flights.push(Flight {
            ready_at: 0,
            response: Response::new(empty, 0, 0, 0),
            settle: false,
        });
        (self.flights.len() - 1) as u32
    }

    /// The attempt in `slot`, to be written.
    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> &mut Flight {
        &mut self.flights[slot as usize]
    }

    /// The attempt in `slot`, read in place.
    #[inline]
    pub fn get(&self, slot: u32) -> &Flight {
        &self.flights[slot as usize]
    }

    /// Frees `slot` (its attempt was answered; it is not reused before the next insert).
    #[inline]
    pub fn free(&mut self, slot: u32) {
        self.free.push(slot);
    }
}
