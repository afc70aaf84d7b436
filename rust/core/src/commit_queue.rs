//! The commit queue of group commit: appenders queue their batches; one of them becomes the
//! leader, gathers a group by the commit-delay policy (`gather`) and commits every queued batch
//! with one write and one seal, while the others wait for their answer.
//!
//! Waiting callers sleep on their own thread (park/unpark) and are woken only when there is
//! something for them: their answer, or the leader's role. With many threads on few cores a
//! shared condition variable woke every waiter at each group, and each useless wake-up was a
//! context switch on the path of the callers the next group waits for.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::prepare::Prepared;
use crate::receipt::AppendReceipt;
use crate::sync_stage::SyncStage;

/// Each request's answer, by ticket.
pub(crate) type Committed = Vec<(u64, Result<Vec<AppendReceipt>>)>;

/// A mutex whose holder panicked is still usable: the log's state only changes after a
/// successful write, so a panic cannot leave it half-updated.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One caller's batch, waiting to be committed with the others queued with it.
pub(crate) struct Request {
    pub ticket: u64,
    pub items: Vec<Prepared>,
    arrived: Instant,
    /// The caller's thread, unparked when its answer is in or it is to lead.
    caller: Thread,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Request>,
    done: HashMap<u64, Result<Vec<AppendReceipt>>>,
    leader: bool,
    next_ticket: u64,
    /// How long the last group's write (chain, hash, sign, write) took.
    last_commit: Duration,
    /// How long the callers a sync acknowledges take to come back with their next request
    /// (moving average), and the sync it was last measured after.
    return_time: Duration,
    measured_after: Option<Instant>,
}

/// Upper bound of the commit delay, whatever the disk's sync time.
const MAX_COMMIT_DELAY: Duration = Duration::from_millis(2);

pub(crate) struct CommitQueue {
    queue: Mutex<Queue>,
    /// The leader gathering a group (one more caller has arrived): only the leader waits on it.
    arrived: Condvar,
    /// The sync stage's pace (how long syncs take, how many callers each acknowledged) drives
    /// the commit delay.
    stage: Arc<SyncStage>,
}

impl CommitQueue {
    pub(crate) fn new(stage: Arc<SyncStage>) -> CommitQueue {
        CommitQueue { queue: Mutex::new(Queue::default()), arrived: Condvar::new(), stage }
    }

    /// Queue a request; the caller that finds no leader becomes it, gathers a group (`gather`)
    /// and hands every queued request to `commit` at once (one write, one seal), which answers
    /// each request by its ticket. The leader then passes `settle` the group's last seal (to
    /// make it durable) before it wakes the group's other callers: each of them then sleeps once
    /// per append, not once for the write and again for the sync. Returns once this request's
    /// group is written and settled; the answer says only that it is written.
    pub(crate) fn submit(
        &self,
        items: Vec<Prepared>,
        commit: impl FnMut(Vec<Request>) -> Committed,
        settle: impl FnMut(u64),
    ) -> Result<Vec<AppendReceipt>> {
        self.submit_as(items, true, commit, Some(settle))
    }

    /// `submit` for the pipeline's write thread: as leader it writes what is queued at once, with
    /// no commit delay, and answers without settling (the pipeline's acknowledgement thread waits
    /// for durability). Its caller is not waiting to come back with more (the producer already
    /// queued the next batch behind it), so waiting for the running sync to end, or for other
    /// callers, would only serialise the write behind the sync it is meant to overlap.
    pub(crate) fn submit_eager(
        &self,
        items: Vec<Prepared>,
        commit: impl FnMut(Vec<Request>) -> Committed,
    ) -> Result<Vec<AppendReceipt>> {
        self.submit_as(items, false, commit, None::<fn(u64)>)
    }

    fn submit_as(
        &self,
        items: Vec<Prepared>,
        delay: bool,
        mut commit: impl FnMut(Vec<Request>) -> Committed,
        mut settle: Option<impl FnMut(u64)>,
    ) -> Result<Vec<AppendReceipt>> {
        let mut q = lock(&self.queue);
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.pending.push(Request { ticket, items, arrived: Instant::now(), caller: thread::current() });
        if q.leader {
            // A leader may be gathering a group: tell it one more caller is here.
            self.arrived.notify_one();
        }
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result;
            }
            if !q.leader {
                q.leader = true;
                if delay {
                    q = self.gather(q);
                }
                let batch = std::mem::take(&mut q.pending);
                self.measure_return(&mut q, &batch);
                let callers: Vec<(u64, Thread)> = batch.iter().map(|r| (r.ticket, r.caller.clone())).collect();
                drop(q);
                let started = Instant::now();
                let results = commit(batch);
                q = lock(&self.queue);
                q.last_commit = started.elapsed();
                q.leader = false;
                // Callers that arrived during the write need a leader: wake one of them.
                if let Some(next) = q.pending.first() {
                    next.caller.unpark();
                }
                if let Some(settle) = settle.as_mut() {
                    let last_seal =
                        results.iter().filter_map(|(_, r)| r.as_ref().ok()?.last().map(|x| x.seal_seq)).max();
                    if let Some(seal) = last_seal {
                        drop(q);
                        settle(seal);
                        q = lock(&self.queue);
                    }
                }
                q.done.extend(results);
                for (t, caller) in callers {
                    if t != ticket {
                        caller.unpark();
                    }
                }
                continue;
            }
            // Woken when the answer is in or the leader's role is free; a spurious return from
            // `park` only looks again.
            drop(q);
            thread::park();
            q = lock(&self.queue);
        }
    }

    /// The leader's commit delay, one of two policies chosen by what the disk and the callers
    /// cost. The callers a sync acknowledges come back with more after a while (R); a sync takes
    /// F; writing a group takes W.
    /// - Pipeline (F < R + W: callers are slow to come back): while a sync runs, gather until
    ///   just before it is expected to end, then write: the write overlaps the sync and the next
    ///   sync starts at once. Callers settle into two cohorts, each synced every other time.
    /// - Merge (F >= R + W: the disk is the bottleneck): let the running sync end, then wait (at
    ///   most half a sync) for the callers it acknowledged, so one sync carries everyone
    ///   (`PostgreSQL`'s `commit_delay/commit_siblings`, driven by measured times).
    ///
    /// A lone appender never waits.
    fn gather<'a>(&'a self, mut q: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        let pace = self.stage.pace();
        let (f, w) = (pace.last_sync, q.last_commit);
        let pipeline = f < q.return_time + w;
        if let Some(started) = pace.syncing_since {
            // Waiting for the running sync costs nothing: no group written now can be synced
            // before it ends anyway.
            let deadline = if pipeline { (started + f).checked_sub(w).unwrap_or(started) } else { started + f };
            loop {
                let now = Instant::now();
                if !self.stage.syncing() || (pipeline && now >= deadline) {
                    break;
                }
                // Not woken when the sync ends: look again at the expected end, or soon after.
                let nap = deadline.saturating_duration_since(now).max(Duration::from_micros(20));
                q = self.arrived.wait_timeout(q, nap).unwrap_or_else(std::sync::PoisonError::into_inner).0;
            }
            if pipeline {
                return q;
            }
        }
        // No sync running: wait for the callers the last sync acknowledged. Pipelining, half of
        // them make the next cohort (the rest join the one written while it syncs).
        let cohort = self.stage.pace().last_cohort;
        let wanted = if pipeline { cohort / 2 } else { cohort };
        if wanted < 2 || q.pending.len() >= wanted {
            return q;
        }
        let deadline = Instant::now() + (f / 2).min(MAX_COMMIT_DELAY);
        while q.pending.len() < wanted {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            q = self.arrived.wait_timeout(q, deadline - now).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
        q
    }

    /// R for `gather`: after the last sync ended, how long until as many callers as it
    /// acknowledged had arrived again (or, when fewer came, how long the leader saw none missing).
    fn measure_return(&self, q: &mut Queue, batch: &[Request]) {
        let pace = self.stage.pace();
        let Some(end) = pace.last_end else { return };
        if pace.last_cohort < 2 || q.measured_after == Some(end) {
            return;
        }
        let mut back: Vec<Instant> = batch.iter().map(|r| r.arrived).filter(|&a| a >= end).collect();
        let sample = if back.len() >= pace.last_cohort {
            back.sort_unstable();
            back[pace.last_cohort - 1] - end
        } else {
            end.elapsed()
        };
        q.measured_after = Some(end);
        q.return_time = (q.return_time * 3 + sample) / 4;
    }
}
