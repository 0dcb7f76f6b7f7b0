//! The event queue, keyed `(time, seq)`: `seq` counts pushes, so events due at the same instant
//! come out in the order they were scheduled and a run never depends on the queue's internals.
//!
//! It is a calendar queue (a timing wheel), which suits a simulator's monotone integer clock:
//! nothing is ever scheduled before the instant being processed. Time is cut into slots of
//! 2^21 ns (about 2.1 ms); a wheel of 256 slots (about 0.54 s) holds the slots after the current
//! one as unsorted vectors, with a bitmap of the occupied ones, and anything later waits in a
//! binary heap. The slot being processed is kept sorted, so a push is an index computation and a
//! `Vec::push`, a pop is a `Vec::pop`, and moving to the next slot is a bit scan and a sort of
//! the few events in it.
//! Profiled against a binary heap and a radix heap on the bulk benchmark (BENCHMARKS.md); the
//! slots' width against 2^20 and 2^23 ns for the same 0.54 s wheel ("Seventh pass").
//!
//! [`EventQueue::peek_time`] loads the next occupied slot as soon as the current one is empty,
//! even when the caller then moves to an earlier instant of its own (a client's wake-up): the
//! scan for the next slot is then made once, not once per wake-up. Events pushed meanwhile for
//! the slots before the loaded one (a quick reply to a request sent at the wake-up) wait in a
//! small binary heap of their own, which is drained before the loaded slot.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use ratelab_strategies::Nanos;

/// log2 of a slot's width in nanoseconds.
const SLOT_BITS: u32 = 21;
/// Slots in the wheel (a power of two).
const SLOTS: usize = 256;

struct Entry<E> {
    time: Nanos,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    fn key(&self) -> (Nanos, u64) {
        (self.time, self.seq)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

fn slot_of(time: Nanos) -> u64 {
    time >> SLOT_BITS
}

/// Events ordered by time, then by the order they were pushed.
///
/// Times must not go back: an event may be pushed at the current instant (the time last returned
/// by [`EventQueue::next_time`] or [`EventQueue::pop`], or given to [`EventQueue::advance_to`])
/// or later. An earlier time is a bug in the
/// caller; it is treated as the current instant (and caught by a debug assertion).
pub struct EventQueue<E> {
    /// The current instant.
    instant: Nanos,
    /// The slot loaded into `current`: the current instant's, or a later one that
    /// [`EventQueue::peek_time`] loaded ahead of the instant, or (while `current` is empty) an
    /// earlier one the instant has moved past.
    slot: u64,
    /// The events of `slot`, sorted by `(time, seq)` from the last to the first (pop takes the
    /// earliest from the end).
    current: Vec<Entry<E>>,
    /// Events pushed for slots before `slot` while it is loaded ahead of the instant: all of
    /// them come before `current`'s.
    early: BinaryHeap<Reverse<Entry<E>>>,
    /// Slots `slot + 1 ..= slot + SLOTS - 1`, at index `slot % SLOTS`, unsorted.
    wheel: Vec<Vec<Entry<E>>>,
    /// Bit `i % 64` of word `i / 64` set when `wheel[i]` is not empty.
    occupied: Vec<u64>,
    /// Events beyond the wheel.
    far: BinaryHeap<Reverse<Entry<E>>>,
    seq: u64,
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            instant: 0,
            slot: 0,
            current: Vec::new(),
            early: BinaryHeap::new(),
            wheel: (0..SLOTS).map(|_| Vec::new()).collect(),
            occupied: vec![0; SLOTS / 64],
            far: BinaryHeap::new(),
            seq: 0,
            len: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `time` (not before the current instant).
    #[inline]
    pub fn push(&mut self, time: Nanos, event: E) {
        debug_assert!(
            time >= self.instant,
            "event at {time} before the instant {}",
            self.instant
        );
        let time = time.max(self.instant);
        let entry = Entry {
            time,
            seq: self.seq,
            event,
        };
        self.seq += 1;
        self.len += 1;
        let slot = slot_of(time);
        if slot == self.slot {
            // The latest seq goes after every event due at the same time. An event sooner than
            // all of them (a quick 429, often) goes at the end without a search.
            if self.current.last().is_none_or(|e| e.time > time) {
                self.current.push(entry);
            } else {
                let at = self.current.partition_point(|e| e.time > time);
                self.current.insert(at, entry);
            }
        } else if slot < self.slot {
            // Before a slot loaded ahead of the instant.
            self.early.push(Reverse(entry));
        } else if slot - self.slot < SLOTS as u64 {
            let i = (slot % SLOTS as u64) as usize;
            self.wheel[i].push(entry);
            self.occupied[i / 64] |= 1 << (i % 64);
        } else {
            self.far.push(Reverse(entry));
        }
    }

    /// The first occupied slot of the wheel after the current one.
    fn next_wheel_slot(&self) -> Option<u64> {
        let start = ((self.slot + 1) % SLOTS as u64) as usize;
        let words = SLOTS / 64;
        // Scan the bitmap once round from `start`, wrapping: the first word from `start` on, then
        // whole words, then the first word again below `start` (the current slot's own bit,
        // last, is never set: its events are in `current`).
        let first = start / 64;
        let mut bits = self.occupied[first] & (!0u64 << (start % 64));
        for k in 0..=words {
            if bits != 0 {
                let i = ((first + k) % words) * 64 + bits.trailing_zeros() as usize;
                let ahead = (i + SLOTS - start) % SLOTS;
                return Some(self.slot + 1 + ahead as u64);
            }
            let w = (first + k + 1) % words;
            bits = self.occupied[w];
            if k + 1 == words {
                bits &= !(!0u64 << (start % 64));
            }
        }
        None
    }

    /// Time of the next event, which becomes the current instant.
    #[inline]
    pub fn next_time(&mut self) -> Option<Nanos> {
        let t = self.peek_time()?;
        self.instant = t;
        Some(t)
    }

    /// Makes the next occupied slot the current one (`None` when no event is left); only when
    /// `current` and `early` are empty.
    #[inline(never)]
    fn load_next_slot(&mut self) -> Option<()> {
        let wheel = self.next_wheel_slot();
        let far = self.far.peek().map(|Reverse(e)| slot_of(e.time));
        let next = match (wheel, far) {
            (Some(w), Some(f)) => w.min(f),
            (Some(w), None) => w,
            (None, Some(f)) => f,
            (None, None) => return None,
        };
        self.slot = next;
        if wheel == Some(next) {
            let i = (next % SLOTS as u64) as usize;
            std::mem::swap(&mut self.current, &mut self.wheel[i]);
            self.occupied[i / 64] &= !(1 << (i % 64));
        }
        while self
            .far
            .peek()
            .is_some_and(|Reverse(e)| slot_of(e.time) == next)
        {
            if let Some(Reverse(e)) = self.far.pop() {
                self.current.push(e);
            }
        }
        // Move what now fits in the wheel out of the far heap.
        while self
            .far
            .peek()
            .is_some_and(|Reverse(e)| slot_of(e.time) - next < SLOTS as u64)
        {
            if let Some(Reverse(e)) = self.far.pop() {
                let i = (slot_of(e.time) % SLOTS as u64) as usize;
                self.wheel[i].push(e);
                self.occupied[i / 64] |= 1 << (i % 64);
            }
        }
        if self.current.len() > 1 {
            self.current.sort_unstable_by(|a, b| b.cmp(a));
        }
        Some(())
    }

    /// Time of the next event, without moving the current instant to it. When the current slot
    /// is empty it loads the next occupied one, ahead of the instant (see the module's doc).
    #[inline]
    pub fn peek_time(&mut self) -> Option<Nanos> {
        match self.current.last() {
            Some(e) if self.early.is_empty() => Some(e.time),
            _ => self.peek_beyond_slot(),
        }
    }

    /// [`EventQueue::peek_time`] when `current` is empty or events wait before it.
    #[inline(never)]
    fn peek_beyond_slot(&mut self) -> Option<Nanos> {
        if let Some(Reverse(e)) = self.early.peek() {
            return Some(e.time);
        }
        if self.current.is_empty() {
            self.load_next_slot()?;
        }
        self.current.last().map(|e| e.time)
    }

    /// The next event's time without loading anything (for debug assertions: it scans).
    fn next_time_scanned(&self) -> Option<Nanos> {
        let wheel = self.next_wheel_slot().and_then(|s| {
            let i = (s % SLOTS as u64) as usize;
            self.wheel[i].iter().map(|e| e.time).min()
        });
        [
            self.early.peek().map(|Reverse(e)| e.time),
            self.current.last().map(|e| e.time),
            wheel,
            self.far.peek().map(|Reverse(e)| e.time),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Makes `t` the current instant: the time of the next event ([`EventQueue::peek_time`]),
    /// or an earlier one when a caller's own timer fires first. `t` is neither before the
    /// current instant nor after the next event; [`EventQueue::pop_due`] then gives the events
    /// due at `t`, and later pushes are checked against it.
    #[inline]
    pub fn advance_to(&mut self, t: Nanos) {
        debug_assert!(t >= self.instant, "{t} before the instant {}", self.instant);
        debug_assert!(
            self.next_time_scanned().is_none_or(|next| t <= next),
            "{t} after the next event"
        );
        self.instant = t;
    }

    /// Removes the next event due at the current instant, if any; never moves to a later
    /// instant (so the caller may still schedule events at the current one). It sees what
    /// [`EventQueue::peek_time`] (or `next_time`) has loaded: call that before moving to an
    /// instant, as the simulator does.
    pub fn pop_due(&mut self) -> Option<E> {
        if let Some(Reverse(e)) = self.early.peek() {
            // Before everything in `current`.
            if e.time != self.instant {
                return None;
            }
            self.len -= 1;
            return self.early.pop().map(|Reverse(e)| e.event);
        }
        if self.current.last()?.time != self.instant {
            return None;
        }
        self.len -= 1;
        self.current.pop().map(|e| e.event)
    }

    /// Removes the next event.
    pub fn pop(&mut self) -> Option<(Nanos, E)> {
        let t = self.next_time()?;
        let event = self.pop_due()?;
        Some((t, event))
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No events waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_come_out_in_push_order() {
        let mut q = EventQueue::default();
        q.push(5, 'a');
        q.push(3, 'b');
        q.push(5, 'c');
        q.push(3, 'd');
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(3, 'b'), (3, 'd'), (5, 'a'), (5, 'c')]);
        assert!(q.is_empty());
    }

    /// A small deterministic generator for the randomized tests.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Against a binary heap of `(time, seq)`, with pushes at or after the current instant
    /// interleaved with pops, many ties and times spread over many bits.
    #[test]
    fn agrees_with_a_binary_heap() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        let mut q = EventQueue::default();
        let mut reference = BinaryHeap::new();
        let (mut now, mut seq) = (0u64, 0u64);
        for step in 0..20_000u64 {
            let r = next();
            if r.is_multiple_of(11) {
                // A caller's own timer fires before the next event: peek (which may load a
                // slot ahead of the instant), move to a time up to it, and push from there.
                let until = q.peek_time().unwrap_or(now + (1 << 30));
                now += (r >> 8) % (until - now + 1);
                q.advance_to(now);
                continue;
            }
            if !r.is_multiple_of(3) || reference.is_empty() {
                let gap = match r % 5 {
                    0 => 0,
                    1 => r % 4,
                    2 => r % 1000,
                    3 => (r >> 8) % 50_000_000,
                    4 if r.is_multiple_of(7) => (r >> 8) % (1 << 40),
                    _ => (r >> 8) % 8_000_000_000,
                };
                q.push(now + gap, step);
                reference.push(Reverse((now + gap, seq, step)));
                seq += 1;
            } else {
                let Reverse((t, _, e)) = reference.pop().unwrap();
                assert_eq!(q.peek_time(), Some(t));
                assert_eq!(q.pop(), Some((t, e)));
                now = t;
            }
            assert_eq!(q.len(), reference.len());
        }
        while let Some(Reverse((t, _, e))) = reference.pop() {
            assert_eq!(q.pop(), Some((t, e)));
        }
        assert_eq!(q.pop(), None);
    }

    /// Events pushed for slots before one `peek_time` loaded ahead of the instant (and at the
    /// wheel's and far heap's edges relative to it) come out in time, then push, order.
    #[test]
    fn pushes_before_a_slot_loaded_ahead_keep_their_order() {
        let at = |slot: u64| slot << SLOT_BITS;
        let ahead = SLOTS as u64 + 36; // beyond the wheel of slot 0
        let mut q = EventQueue::default();
        q.push(at(ahead), 'z');
        assert_eq!(q.peek_time(), Some(at(ahead))); // loads it, the instant stays 0
        q.advance_to(3); // a caller's own timer
        q.push(at(5), 'a');
        q.push(3, 'b');
        q.push(at(5), 'c'); // tie with 'a': after it
        q.push(at(ahead) + 1, 'd');
        q.push(3, 'e'); // tie with 'b'
        q.push(at(ahead + SLOTS as u64 - 1), 'f'); // the wheel's last slot
        q.push(at(ahead + SLOTS as u64), 'g'); // the far heap's first
        assert_eq!(q.len(), 8);
        assert_eq!(q.pop_due(), Some('b'));
        assert_eq!(q.pop_due(), Some('e'));
        assert_eq!(q.pop_due(), None);
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            rest,
            vec![
                (at(5), 'a'),
                (at(5), 'c'),
                (at(ahead), 'z'),
                (at(ahead) + 1, 'd'),
                (at(ahead + SLOTS as u64 - 1), 'f'),
                (at(ahead + SLOTS as u64), 'g'),
            ]
        );
        assert!(q.is_empty());
    }

    /// The engine's loop against a binary heap: peek, advance to the next event or to an
    /// earlier timer, take what is due with `pop_due` while pushing more (some at the instant).
    #[test]
    fn the_engine_loop_agrees_with_a_binary_heap() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        let mut q = EventQueue::default();
        let mut reference = BinaryHeap::new();
        let (mut now, mut seq) = (0u64, 0u64);
        for _ in 0..20_000 {
            let r = next();
            let until = q.peek_time();
            assert_eq!(until, reference.peek().map(|Reverse((t, _))| *t));
            let until = until.unwrap_or(now + (1 << 35));
            now = if r.is_multiple_of(4) {
                now + (r >> 8) % (until - now + 1)
            } else {
                until
            };
            q.advance_to(now);
            for _ in 0..(r >> 40) % 4 {
                let s = next();
                let gap = match s % 6 {
                    0 => 0,
                    // just under, at or over a slot boundary, up to a little beyond the wheel
                    1 => {
                        ((((now >> SLOT_BITS) + s % (SLOTS as u64 + 6)) << SLOT_BITS)
                            + (s >> 8) % 3)
                            .saturating_sub(1)
                            .max(now)
                            - now
                    }
                    2 => (s >> 8) % (1 << SLOT_BITS),
                    3 => (s >> 8) % ((SLOTS as u64) << SLOT_BITS),
                    4 => (s >> 8) % (1 << 40),
                    _ => (s >> 8) % 8_000_000_000,
                };
                q.push(now + gap, seq);
                reference.push(Reverse((now + gap, seq)));
                seq += 1;
            }
            while let Some(e) = q.pop_due() {
                assert_eq!(reference.pop(), Some(Reverse((now, e))));
                if next().is_multiple_of(3) {
                    q.push(now, seq); // due at once, after everything already due
                    reference.push(Reverse((now, seq)));
                    seq += 1;
                }
            }
            assert!(reference.peek().is_none_or(|Reverse((t, _))| *t > now));
            assert_eq!(q.len(), reference.len());
        }
    }

    /// At the wheel's edge: an event in its last slot and one a whole wheel ahead of the current
    /// slot (the far heap's first) come out in time order, alone or together.
    #[test]
    fn events_at_the_wheels_edge_come_out_in_order() {
        let beyond = (SLOTS as u64) << SLOT_BITS;
        let mut q = EventQueue::default();
        q.push(0, 'a');
        q.push(beyond, 'b');
        q.push(beyond - 1, 'c'); // the wheel's last slot
        assert_eq!(q.pop(), Some((0, 'a')));
        assert_eq!(q.pop(), Some((beyond - 1, 'c')));
        assert_eq!(q.pop(), Some((beyond, 'b')));
        let mut q = EventQueue::default();
        q.push(0, 'a');
        q.push(beyond, 'b');
        assert_eq!(q.pop(), Some((0, 'a')));
        assert_eq!(q.pop(), Some((beyond, 'b')));
        assert!(q.is_empty());
    }

    /// Events before a slot loaded ahead wait in their own heap, not in the loaded slot's sorted
    /// vector: inserting each of many such events there cost time linear in their number.
    #[test]
    fn events_before_a_slot_loaded_ahead_stay_out_of_it() {
        let mut q = EventQueue::default();
        q.push(1 << 45, u64::MAX);
        assert_eq!(q.peek_time(), Some(1 << 45));
        for i in 0..1000u64 {
            q.push(1_000_000 + (i * 7_919) % 500_000_000, i);
        }
        assert_eq!(q.current.len(), 1, "only the loaded slot's own event");
        assert_eq!(q.early.len(), 1000);
        let mut last = 0;
        for _ in 0..1000 {
            let (t, i) = q.pop().unwrap();
            assert!(t >= last && i < 1000);
            last = t;
        }
        assert_eq!(q.pop(), Some((1 << 45, u64::MAX)));
    }

    /// The debug check that a caller does not move past the next event also looks beyond an
    /// empty current slot.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "after the next event")]
    fn moving_past_the_next_event_is_caught() {
        let mut q = EventQueue::default();
        q.push(0, 'a');
        q.push(5 << SLOT_BITS, 'b');
        assert_eq!(q.pop(), Some((0, 'a')));
        q.advance_to(6 << SLOT_BITS);
    }
}
