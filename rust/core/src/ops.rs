//! The intent table: which `wal_ids` the log holds and which are still pending. Shared by the
//! verifier (pairing intents with completions) and the writer (refusing a duplicate id or a
//! completion of an unknown or completed intent).
//!
//! Two sets of u128 rather than a map to a state: ~19 bytes per intent instead of ~37, which is
//! what keeps validating a multi-gigabyte archive within a few hundred MB. The ids are random
//! (`UUIDv4`), so a fast non-cryptographic hash is enough.

use rustc_hash::FxHashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    Pending,
    Completed,
}

/// Why an intent or completion does not fit the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpConflict {
    DuplicateIntent,
    UnknownIntent,
    AlreadyCompleted,
}

#[derive(Debug, Default, Clone)]
pub struct OpsTable {
    seen: FxHashSet<u128>,
    pending: FxHashSet<u128>,
}

impl OpsTable {
    #[must_use]
    pub fn state(&self, id: u128) -> Option<OpState> {
        if self.pending.contains(&id) {
            Some(OpState::Pending)
        } else if self.seen.contains(&id) {
            Some(OpState::Completed)
        } else {
            None
        }
    }

    pub fn intent(&mut self, id: u128) -> Result<(), OpConflict> {
        if !self.seen.insert(id) {
            return Err(OpConflict::DuplicateIntent);
        }
        self.pending.insert(id);
        Ok(())
    }

    pub fn complete(&mut self, id: u128) -> Result<(), OpConflict> {
        if self.pending.remove(&id) {
            Ok(())
        } else if self.seen.contains(&id) {
            Err(OpConflict::AlreadyCompleted)
        } else {
            Err(OpConflict::UnknownIntent)
        }
    }

    /// Take back a successful `intent(id)` (`was_intent`) or `complete(id)`.
    pub fn undo(&mut self, id: u128, was_intent: bool) {
        if was_intent {
            self.seen.remove(&id);
            self.pending.remove(&id);
        } else {
            self.pending.insert(id);
        }
    }

    /// Room for `more` intents without growing.
    pub fn reserve(&mut self, more: usize) {
        self.seen.reserve(more);
    }

    /// Intents known pending without the rest of history (from a verification receipt).
    pub fn assume_pending(&mut self, ids: impl IntoIterator<Item = u128>) {
        for id in ids {
            self.seen.insert(id);
            self.pending.insert(id);
        }
    }

    pub fn pending(&self) -> impl Iterator<Item = u128> + '_ {
        self.pending.iter().copied()
    }

    #[must_use]
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_conflicts() {
        let mut t = OpsTable::default();
        assert_eq!(t.intent(1), Ok(()));
        assert_eq!(t.intent(1), Err(OpConflict::DuplicateIntent));
        assert_eq!(t.state(1), Some(OpState::Pending));
        assert_eq!(t.complete(2), Err(OpConflict::UnknownIntent));
        assert_eq!(t.complete(1), Ok(()));
        assert_eq!(t.complete(1), Err(OpConflict::AlreadyCompleted));
        assert_eq!(t.state(1), Some(OpState::Completed));
        assert_eq!(t.pending_count(), 0);
        t.undo(1, false);
        assert_eq!(t.state(1), Some(OpState::Pending));
        t.undo(1, true);
        assert_eq!(t.state(1), None);
    }
}
