//! The intent table: which `wal_ids` the log holds and which are still pending. Shared by the
//! verifier (pairing intents with completions) and the writer (refusing a duplicate id or a
//! completion of an unknown or completed intent).
//!
//! Two sets of u128 rather than a map to a state: ~19 bytes per intent instead of ~37, which is
//! what keeps validating a multi-gigabyte archive within a few hundred MB. The ids are random
//! (`UUIDv4`), so a fast non-cryptographic hash is enough.

use std::sync::{Arc, Mutex, OnceLock};

use rustc_hash::FxHashSet;

/// The ids of intents before a trusted point of the log (a clean close, docs/FORMAT.md section
/// 7), sorted: loaded the first time they are asked for, so that opening does not pay for them.
/// Produces the sorted ids, once.
pub type LoadIds = Box<dyn FnOnce() -> Vec<u128> + Send>;

pub struct PriorIds {
    load: Mutex<Option<LoadIds>>,
    ids: OnceLock<Vec<u128>>,
}

impl PriorIds {
    /// `load` returns the ids sorted; it runs once, on first use.
    #[must_use]
    pub fn lazy(load: LoadIds) -> PriorIds {
        PriorIds { load: Mutex::new(Some(load)), ids: OnceLock::new() }
    }

    /// The ids, sorted (loaded now if they were not yet).
    pub fn ids(&self) -> &[u128] {
        self.ids.get_or_init(|| {
            let load = self.load.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            load.map(|f| f()).unwrap_or_default()
        })
    }

    #[must_use]
    pub fn contains(&self, id: u128) -> bool {
        self.ids().binary_search(&id).is_ok()
    }
}

impl std::fmt::Debug for PriorIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PriorIds({:?} loaded)", self.ids.get().map(Vec::len))
    }
}

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
    /// Intents before a trusted point, all completed or in `pending` (a writer opened from a
    /// clean close): consulted, never changed.
    prior: Option<Arc<PriorIds>>,
}

impl OpsTable {
    #[must_use]
    pub fn state(&self, id: u128) -> Option<OpState> {
        if self.pending.contains(&id) {
            Some(OpState::Pending)
        } else if self.seen.contains(&id) || self.in_prior(id) {
            Some(OpState::Completed)
        } else {
            None
        }
    }

    pub fn intent(&mut self, id: u128) -> Result<(), OpConflict> {
        if self.in_prior(id) || !self.seen.insert(id) {
            return Err(OpConflict::DuplicateIntent);
        }
        self.pending.insert(id);
        Ok(())
    }

    pub fn complete(&mut self, id: u128) -> Result<(), OpConflict> {
        if self.pending.remove(&id) {
            Ok(())
        } else if self.seen.contains(&id) || self.in_prior(id) {
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

    /// The intents before a trusted point (loaded when first asked about).
    pub fn set_prior(&mut self, prior: Arc<PriorIds>) {
        self.prior = Some(prior);
    }

    fn in_prior(&self, id: u128) -> bool {
        self.prior.as_ref().is_some_and(|p| p.contains(id))
    }

    /// Every intent id, sorted (the prior ones included).
    #[must_use]
    pub fn all_ids(&self) -> Vec<u128> {
        let mut ids: Vec<u128> = self.seen.iter().copied().collect();
        ids.sort_unstable();
        if let Some(prior) = &self.prior {
            let prior = prior.ids();
            let mut merged = Vec::with_capacity(prior.len() + ids.len());
            let (mut i, mut j) = (0, 0);
            while i < prior.len() || j < ids.len() {
                let take_prior = j == ids.len() || (i < prior.len() && prior[i] <= ids[j]);
                let next = if take_prior { prior[i] } else { ids[j] };
                if take_prior {
                    i += 1;
                } else {
                    j += 1;
                }
                if merged.last() != Some(&next) {
                    merged.push(next);
                }
            }
            return merged;
        }
        ids
    }

    /// Every intent id seen (not the prior ones).
    pub fn seen(&self) -> impl Iterator<Item = u128> + '_ {
        self.seen.iter().copied()
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
