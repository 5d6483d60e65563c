//! The records a Jira call needs (the access token and the site), held in memory between
//! storage reads, so a call with a fresh token costs its one request and no storage round trip.
//!
//! A copy is filled by a read or by this context's own write, and dropped by a change event
//! from any context sharing the store ([`super::ports::KeyValueStore::watch`]), or after
//! [`MAX_AGE_MS`]: a context that missed events (a page restored from the back/forward cache,
//! a record edited by code in the same document, which no event reports) reads storage again
//! within that time. Decisions that
//! must see the latest state (everything inside the refresh and sites locks) read storage
//! itself; a copy only serves the fast path, where a stale one costs at most the gateway's 401
//! and the refresh that re-reads storage.

use std::cell::{Cell, RefCell};

/// The longest a copy serves without a storage read.
pub(super) const MAX_AGE_MS: u64 = 30_000;

/// One record's copy: `None` = unknown (read storage), `Some(None)` = known to be absent.
pub(super) struct Cached<T> {
    /// The copy and when it was filled.
    value: RefCell<Option<(Option<T>, u64)>>,
    /// Bumped by every change: a read that started before a change must not fill the copy
    /// with what it read.
    generation: Cell<u64>,
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Cached {
            value: RefCell::new(None),
            generation: Cell::new(0),
        }
    }
}

impl<T: Clone> Cached<T> {
    /// The copy, unless it is older than [`MAX_AGE_MS`] at `now_ms`.
    pub(super) fn get(&self, now_ms: u64) -> Option<Option<T>> {
        let value = self.value.borrow();
        let (record, filled_at) = value.as_ref()?;
        (now_ms.saturating_sub(*filled_at) < MAX_AGE_MS).then(|| record.clone())
    }

    /// Where a read starts: pass it to [`Cached::fill`] with what the read found.
    pub(super) fn generation(&self) -> u64 {
        self.generation.get()
    }

    pub(super) fn fill(&self, read_at: u64, value: Option<T>, now_ms: u64) {
        if self.generation.get() == read_at {
            *self.value.borrow_mut() = Some((value, now_ms));
        }
    }

    /// This context wrote `value`.
    pub(super) fn set(&self, value: Option<T>, now_ms: u64) {
        self.generation.set(self.generation.get() + 1);
        *self.value.borrow_mut() = Some((value, now_ms));
    }

    /// Some context changed the record: read storage next time.
    pub(super) fn forget(&self) {
        self.generation.set(self.generation.get() + 1);
        self.value.borrow_mut().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_a_change_does_not_fill_the_copy() {
        let cached = Cached::<u32>::default();
        assert_eq!(cached.get(0), None);
        let read_at = cached.generation();
        cached.forget(); // another context wrote while the read was under way
        cached.fill(read_at, Some(1), 0);
        assert_eq!(cached.get(0), None, "the stale read is not kept");
        let read_at = cached.generation();
        cached.fill(read_at, Some(2), 0);
        assert_eq!(cached.get(0), Some(Some(2)));
        cached.set(None, 0);
        assert_eq!(cached.get(0), Some(None));
        let read_at = cached.generation();
        cached.set(Some(3), 0); // this context's own write wins over its older read
        cached.fill(read_at, Some(2), 0);
        assert_eq!(cached.get(0), Some(Some(3)));
        cached.forget();
        assert_eq!(cached.get(0), None);
    }

    #[test]
    fn a_copy_serves_for_a_bounded_time() {
        let cached = Cached::<u32>::default();
        cached.set(Some(1), 1_000);
        assert_eq!(cached.get(1_000 + MAX_AGE_MS - 1), Some(Some(1)));
        assert_eq!(cached.get(1_000 + MAX_AGE_MS), None);
    }
}
