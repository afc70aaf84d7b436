//! The intent table: which `wal_ids` the log holds and which are still pending. Shared by the
//! verifier (pairing intents with completions) and the writer (refusing a duplicate id or a
//! completion of an unknown or completed intent).
//!
//! One map from an id to whether it is pending, the id kept as 16 unaligned bytes: a slot is 17
//! bytes and a control byte, whatever the mix of pending and completed, which is what keeps
//! validating a multi-gigabyte archive within a few hundred MB (a `u128` key is 16-byte aligned
//! and would make each slot 32). One map rather than a set of ids and a set of pending ones:
//! the ids are random (`UUIDv4`), so in a large table each probe is likely a cache miss, and an
//! intent now costs one probe instead of two (the write thread's inserts were ~8% of its time,
//! perf on AMD EPYC). The ids being random, a fast non-cryptographic hash is enough.

use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use rustc_hash::FxHashMap;

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

/// An intent's id as a key of one-byte alignment (see the module's note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Id([u8; 16]);

// The slot size the module's note counts on.
const _: () = assert!(std::mem::size_of::<(Id, bool)>() == 17);

impl Id {
    fn of(id: u128) -> Id {
        Id(id.to_ne_bytes())
    }

    fn get(self) -> u128 {
        u128::from_ne_bytes(self.0)
    }
}

impl Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(self.get());
    }
}

#[derive(Debug, Default, Clone)]
pub struct OpsTable {
    /// Every intent seen, and whether it is still pending.
    ids: FxHashMap<Id, bool>,
    /// How many of `ids` are pending, kept so that counting them does not walk the table.
    pending: usize,
    /// Intents before a trusted point, all completed or pending in `ids` (a writer opened from a
    /// clean close): consulted, never changed.
    prior: Option<Arc<PriorIds>>,
}

impl OpsTable {
    #[must_use]
    pub fn state(&self, id: u128) -> Option<OpState> {
        match self.ids.get(&Id::of(id)) {
            Some(true) => Some(OpState::Pending),
            Some(false) => Some(OpState::Completed),
            None => self.in_prior(id).then_some(OpState::Completed),
        }
    }

    pub fn intent(&mut self, id: u128) -> Result<(), OpConflict> {
        if self.in_prior(id) {
            return Err(OpConflict::DuplicateIntent);
        }
        match self.ids.entry(Id::of(id)) {
            Entry::Occupied(_) => Err(OpConflict::DuplicateIntent),
            Entry::Vacant(slot) => {
                slot.insert(true);
                self.pending += 1;
                Ok(())
            }
        }
    }

    pub fn complete(&mut self, id: u128) -> Result<(), OpConflict> {
        match self.ids.get_mut(&Id::of(id)) {
            Some(pending @ true) => {
                *pending = false;
                self.pending -= 1;
                return Ok(());
            }
            Some(false) => return Err(OpConflict::AlreadyCompleted),
            None => {}
        }
        Err(if self.in_prior(id) { OpConflict::AlreadyCompleted } else { OpConflict::UnknownIntent })
    }

    /// Take back a successful `intent(id)` (`was_intent`) or `complete(id)`.
    pub fn undo(&mut self, id: u128, was_intent: bool) {
        if was_intent {
            if self.ids.remove(&Id::of(id)) == Some(true) {
                self.pending -= 1;
            }
        } else {
            self.mark_pending(id);
        }
    }

    /// Room for `more` intents without growing.
    pub fn reserve(&mut self, more: usize) {
        self.ids.reserve(more);
    }

    /// Intents known pending without the rest of history (from a verification receipt).
    pub fn assume_pending(&mut self, ids: impl IntoIterator<Item = u128>) {
        for id in ids {
            self.mark_pending(id);
        }
    }

    fn mark_pending(&mut self, id: u128) {
        if self.ids.insert(Id::of(id), true) != Some(true) {
            self.pending += 1;
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
        let mut ids: Vec<u128> = self.seen().collect();
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
        self.ids.keys().map(|id| id.get())
    }

    pub fn pending(&self) -> impl Iterator<Item = u128> + '_ {
        self.ids.iter().filter(|(_, pending)| **pending).map(|(id, _)| id.get())
    }

    #[must_use]
    pub fn pending_count(&self) -> usize {
        self.pending
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// One call on the table, with ids from a small range so that calls meet.
    #[derive(Debug, Clone)]
    enum Call {
        Intent(u128),
        Complete(u128),
        UndoIntent(u128),
        UndoComplete(u128),
        AssumePending(u128),
    }

    fn call() -> impl Strategy<Value = Call> {
        let id = 0..12u128;
        prop_oneof![
            id.clone().prop_map(Call::Intent),
            id.clone().prop_map(Call::Complete),
            id.clone().prop_map(Call::UndoIntent),
            id.clone().prop_map(Call::UndoComplete),
            id.prop_map(Call::AssumePending),
        ]
    }

    proptest! {
        /// The table answers as a plain map from id to pending would, through any sequence of
        /// calls (an undo only ever follows its own call's success, as the writer makes it).
        #[test]
        fn agrees_with_a_map_of_states(calls in proptest::collection::vec(call(), 0..80)) {
            let mut table = OpsTable::default();
            let mut model: BTreeMap<u128, bool> = BTreeMap::new();
            for c in calls {
                match c {
                    Call::Intent(id) => {
                        let want = if model.contains_key(&id) { Err(OpConflict::DuplicateIntent) } else { Ok(()) };
                        prop_assert_eq!(table.intent(id), want);
                        model.entry(id).or_insert(true);
                    }
                    Call::Complete(id) => {
                        let want = match model.get(&id) {
                            Some(true) => Ok(()),
                            Some(false) => Err(OpConflict::AlreadyCompleted),
                            None => Err(OpConflict::UnknownIntent),
                        };
                        prop_assert_eq!(table.complete(id), want);
                        model.entry(id).and_modify(|p| *p = false);
                    }
                    Call::UndoIntent(id) => {
                        if model.get(&id) == Some(&true) {
                            table.undo(id, true);
                            model.remove(&id);
                        }
                    }
                    Call::UndoComplete(id) => {
                        if model.get(&id) == Some(&false) {
                            table.undo(id, false);
                            model.insert(id, true);
                        }
                    }
                    Call::AssumePending(id) => {
                        table.assume_pending([id]);
                        model.insert(id, true);
                    }
                }
                for id in 0..12u128 {
                    let want = model.get(&id).map(|&p| if p { OpState::Pending } else { OpState::Completed });
                    prop_assert_eq!(table.state(id), want);
                }
                let mut pending: Vec<u128> = table.pending().collect();
                pending.sort_unstable();
                let want: Vec<u128> = model.iter().filter(|(_, p)| **p).map(|(id, _)| *id).collect();
                prop_assert_eq!(table.pending_count(), want.len());
                prop_assert_eq!(pending, want);
                prop_assert_eq!(table.all_ids(), model.keys().copied().collect::<Vec<_>>());
            }
        }
    }

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
