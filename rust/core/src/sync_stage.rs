//! The second stage of group commit: making written groups durable.
//!
//! The writer works as a two-stage pipeline (`MySQL`'s binlog group commit has the same shape):
//! the commit leader chains, hashes, signs and writes a group, then leaves; making it durable is
//! a separate step that any waiting appender may take. One fdatasync covers every group written
//! before it started, so while it runs the next leader signs and writes the following group
//! instead of queueing behind the disk, and signing (the costliest CPU step of a commit) leaves
//! the critical path. A lone appender writes and then syncs itself: no hand-off, no delay.
//!
//! Invariants: `synced <= written`; an append is acknowledged only once `synced` reaches its
//! seal; after the first failed sync (or write) nothing not yet durable is ever acknowledged.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Result, WalError};
use crate::fsutil::Fs;

struct State {
    /// Seq of the last seal written to `file`.
    written: u64,
    /// Seq of the last seal known to be on stable storage.
    synced: u64,
    /// When the running sync started (at most one runs: a second would only queue behind it in
    /// the kernel).
    syncing: Option<Instant>,
    /// How long the last sync took.
    last_sync: Duration,
    /// The live segment, where `written` is.
    file: Arc<File>,
    path: PathBuf,
    failed: Option<String>,
    /// fdatasyncs run by this stage (rotation's own syncs not included).
    syncs: u64,
    /// Callers whose groups were written since the last sync started, and those the running
    /// (or last) sync covers: the cohort it acknowledges, who come back with more next.
    unsynced_callers: usize,
    syncing_callers: usize,
    last_cohort: usize,
    last_end: Option<Instant>,
}

/// What the write stage's leader needs to pace itself against the sync stage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// When the running sync started, if one runs.
    pub syncing_since: Option<Instant>,
    /// How long the last sync took.
    pub last_sync: Duration,
    /// When the last sync ended, and how many callers it acknowledged.
    pub last_end: Option<Instant>,
    pub last_cohort: usize,
}

pub(crate) struct SyncStage {
    state: Mutex<State>,
    done: Condvar,
    fs: Fs,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SyncStage {
    /// A stage whose log is durable up to `seal` (a freshly created or recovered log is).
    pub fn new(fs: Fs, file: Arc<File>, path: PathBuf, seal: u64) -> SyncStage {
        SyncStage {
            state: Mutex::new(State {
                written: seal,
                synced: seal,
                syncing: None,
                last_sync: Duration::ZERO,
                file,
                path,
                failed: None,
                syncs: 0,
                unsynced_callers: 0,
                syncing_callers: 0,
                last_cohort: 0,
                last_end: None,
            }),
            done: Condvar::new(),
            fs,
        }
    }

    /// Whether a sync is running now.
    pub fn syncing(&self) -> bool {
        lock(&self.state).syncing.is_some()
    }

    pub fn pace(&self) -> Pace {
        let s = lock(&self.state);
        Pace { syncing_since: s.syncing, last_sync: s.last_sync, last_end: s.last_end, last_cohort: s.last_cohort }
    }

    /// How many syncs this stage has run.
    pub fn syncs(&self) -> u64 {
        lock(&self.state).syncs
    }

    /// Why the stage refuses to acknowledge anything new, if it does.
    pub fn failed(&self) -> Option<String> {
        lock(&self.state).failed.clone()
    }

    /// The write stage wrote a group of `callers` requests ending with seal `seal` to the live
    /// segment.
    pub fn written(&self, seal: u64, callers: usize) {
        let mut s = lock(&self.state);
        s.written = seal;
        s.unsynced_callers += callers;
    }

    /// Rotation made everything up to `seal` durable itself (it syncs the segment it closes and
    /// the one it creates), and `file` is the live segment from now on: the only place it changes.
    pub fn durable(&self, seal: u64, file: &Arc<File>, path: &std::path::Path) {
        let mut s = lock(&self.state);
        s.written = seal;
        s.synced = s.synced.max(seal);
        s.file = file.clone();
        s.path = path.to_path_buf();
        drop(s);
        self.done.notify_all();
    }

    /// A write failed: nothing not yet durable may be acknowledged from now on.
    pub fn fail(&self, why: &str) {
        let mut s = lock(&self.state);
        s.failed.get_or_insert_with(|| why.to_owned());
        drop(s);
        self.done.notify_all();
    }

    /// Return once the seal `seal` is durable: wait for the sync in progress, or run the next one.
    pub fn wait_durable(&self, seal: u64) -> Result<()> {
        let mut s = lock(&self.state);
        loop {
            if s.synced >= seal {
                return Ok(());
            }
            if let Some(why) = &s.failed {
                return Err(WalError::Poisoned(why.clone()));
            }
            if s.syncing.is_some() {
                s = self.done.wait(s).unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            // Become the syncer: this fdatasync covers every group written so far.
            let started = Instant::now();
            s.syncing = Some(started);
            s.syncing_callers = std::mem::take(&mut s.unsynced_callers);
            let (target, file, path) = (s.written, s.file.clone(), s.path.clone());
            drop(s);
            let result = self.fs.sync_file(&file, &path);
            s = lock(&self.state);
            s.syncing = None;
            s.last_sync = started.elapsed();
            s.last_end = Some(started + s.last_sync);
            s.last_cohort = s.syncing_callers;
            s.syncs += 1;
            match result {
                Ok(()) => {
                    s.synced = s.synced.max(target);
                    self.fs.acknowledged(target);
                }
                Err(e) => {
                    s.failed.get_or_insert_with(|| e.to_string());
                }
            }
            self.done.notify_all();
        }
    }
}
