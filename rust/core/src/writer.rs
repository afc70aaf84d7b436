//! The writer: one per log directory (flock), group commit (appenders queue their batches; one of
//! them becomes the leader and writes everything queued with one write, one seal and one
//! fdatasync), rotation to `archive/`, and poisoning after the first failed write or sync.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{IoContext, Result, WalError};
use crate::fsutil::{DirLock, Fs};
use crate::hash::{self, Digest};
use crate::keys::{self, WriterKey};
use crate::ops::{OpConflict, OpsTable};
use crate::pieces::Pieces;
use crate::prepare::{self, Prepared};
use crate::record::{self, Kind};
use crate::recovery::{self, RecoveryMode, RecoveryNote};
use crate::segment;
use crate::sync_stage::SyncStage;
use crate::timestamp::{self, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledged = on stable storage (fdatasync of the segment, fsync of directories).
    Fsync,
    /// Acknowledged = handed to the OS: survives a process crash, not a power loss.
    Os,
    /// Nothing is synced, directories included: scratch logs and tests.
    None,
}

impl Durability {
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Fsync => "fsync",
            Durability::Os => "os",
            Durability::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Durability> {
        Some(match s {
            "fsync" => Durability::Fsync,
            "os" => Durability::Os,
            "none" => Durability::None,
            _ => return None,
        })
    }

    fn syncs(self) -> bool {
        self == Durability::Fsync
    }
}

#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    pub max_segment_bytes: u64,
    pub max_record_bytes: u64,
    pub durability: Durability,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { max_segment_bytes: 64 << 20, max_record_bytes: 1 << 20, durability: Durability::Fsync }
    }
}

/// Proof that a record is in the log, covered by a durable seal (at the durability given).
#[derive(Debug, Clone)]
pub struct Receipt {
    pub seq: u64,
    pub hash: Digest,
    pub wal_id: u128,
    pub kind: Kind,
    /// Shared by every receipt of a segment (one allocation per segment, not per record).
    pub segment: std::sync::Arc<str>,
    pub offset: u64,
    pub seal_seq: u64,
    pub durability: Durability,
}

/// The head of the log as the writer knows it.
#[derive(Debug, Clone)]
pub struct Head {
    pub seq: u64,
    pub hash: Digest,
    pub timestamp: Timestamp,
    pub segment: String,
}

/// What a writer continues from: the live segment, the chain head and the intent table.
pub(crate) struct Resume {
    pub segment_no: u64,
    pub segment_name: String,
    /// Where the segment is: normally the live directory; in `archive/` only when the log ends
    /// with a closed segment whose successor a crash never created (the writer creates it).
    pub segment_path: PathBuf,
    pub segment_len: u64,
    /// Length of the segment right after its header and first seal: a segment no longer than
    /// this holds nothing worth rotating.
    pub segment_base_len: u64,
    pub next_seq: u64,
    pub head: Digest,
    pub last_ts: Timestamp,
    pub ops: OpsTable,
}

/// Everything only the commit leader touches.
struct LogState {
    dir: PathBuf,
    log_id: String,
    key: WriterKey,
    opts: WriterOptions,
    /// Shared with the sync stage, which fdatasyncs it outside the leader's lock.
    file: Arc<File>,
    segment_no: u64,
    segment_name: String,
    segment_len: u64,
    /// Length of the segment right after its header and first seal: a segment no longer than
    /// this holds nothing worth rotating.
    segment_base_len: u64,
    next_seq: u64,
    head: Digest,
    last_ts: Timestamp,
    ops: OpsTable,
    poisoned: Option<String>,
    closed: bool,
    /// Held until `close`; the kernel also drops it if the process dies.
    lock: Option<DirLock>,
    fs: Fs,
    stage: Arc<SyncStage>,
    stats: WriterStats,
}

struct Request {
    ticket: u64,
    items: Vec<Prepared>,
    arrived: Instant,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Request>,
    done: HashMap<u64, Result<Vec<Receipt>>>,
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

pub struct Writer {
    queue: Mutex<Queue>,
    /// Callers waiting for their group to be written (the leader has written a group).
    wake: Condvar,
    /// The leader gathering a group (one more caller has arrived). Apart from `wake`, so an
    /// arrival wakes only the leader, not every caller waiting for its own group: with many
    /// threads on few cores those useless wake-ups delayed the callers the leader waits for.
    arrived: Condvar,
    log: Mutex<LogState>,
    /// Where written groups become durable (only used at durability `fsync`).
    stage: Arc<SyncStage>,
    syncs: bool,
    dir: PathBuf,
    log_id: String,
    max_record_bytes: usize,
    recovery: Vec<RecoveryNote>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave the log half-updated (state only changes after
    // a successful write), so a poisoned mutex is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Writer {
    /// Create a new log in `dir` (which may exist but must not hold one).
    pub fn create(dir: &Path, key: WriterKey, opts: WriterOptions) -> Result<Writer> {
        Writer::create_with(dir, key, opts, Fs::default())
    }

    /// `create`, with every mutating file-system call going through `fs` (tests watch them).
    pub fn create_with(dir: &Path, key: WriterKey, opts: WriterOptions, fs: Fs) -> Result<Writer> {
        if !segment::list(dir).unwrap_or_default().is_empty() {
            return Err(WalError::Exists(dir.to_path_buf()));
        }
        if opts.max_record_bytes < 4096 || opts.max_segment_bytes < opts.max_record_bytes {
            return Err(WalError::InvalidArgument(
                "max_record_bytes must be >= 4096 and max_segment_bytes >= max_record_bytes".into(),
            ));
        }
        fs.create_dir_durable(dir)?;
        fs.create_dir_durable(&dir.join(segment::ARCHIVE))?;
        let lock = DirLock::acquire(dir)?;
        let log_id = uuid::Uuid::new_v4().hyphenated().to_string();
        let ts = timestamp::now();
        let (name, len, head) = new_segment(&fs, dir, &log_id, &key, &opts, 1, 1, &hash::ZERO, &ts)?;
        let at = Resume {
            segment_no: 1,
            segment_path: dir.join(&name),
            segment_name: name,
            segment_len: len,
            segment_base_len: len,
            next_seq: 3,
            head,
            last_ts: ts,
            ops: OpsTable::default(),
        };
        let state = LogState::opened(dir, log_id, key, opts, lock, fs, at)?;
        Ok(Writer::from_state(state, Vec::new()))
    }

    /// Open an existing log for writing, recovering a torn or unsealed tail per `mode`.
    pub fn open(dir: &Path, key: WriterKey, mode: RecoveryMode, durability: Durability) -> Result<Writer> {
        Writer::open_with(dir, key, mode, durability, Fs::default())
    }

    /// `open`, with every mutating file-system call going through `fs`.
    pub fn open_with(dir: &Path, key: WriterKey, mode: RecoveryMode, durability: Durability, fs: Fs) -> Result<Writer> {
        if !dir.is_dir() || segment::list(dir)?.is_empty() {
            return Err(WalError::NotALog(dir.to_path_buf()));
        }
        let lock = DirLock::acquire(dir)?;
        let r = recovery::recover(&fs, dir, &key, mode, durability)?;
        let opts =
            WriterOptions { max_segment_bytes: r.max_segment_bytes, max_record_bytes: r.max_record_bytes, durability };
        let mut state = LogState::opened(dir, r.log_id, key, opts, lock, fs, r.position)?;
        let mut notes = r.notes;
        if r.closes {
            // The last rotation stopped after its closing seal: finish it now.
            state.start_next_segment()?;
            notes.push(RecoveryNote {
                action: "finished an interrupted rotation".into(),
                segment: state.segment_name.clone(),
                offset: 0,
                bytes: 0,
                saved_to: None,
            });
        }
        Ok(Writer::from_state(state, notes))
    }

    fn from_state(state: LogState, recovery: Vec<RecoveryNote>) -> Writer {
        Writer {
            dir: state.dir.clone(),
            log_id: state.log_id.clone(),
            max_record_bytes: state.opts.max_record_bytes as usize,
            stage: state.stage.clone(),
            syncs: state.opts.durability.syncs(),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            arrived: Condvar::new(),
            log: Mutex::new(state),
            recovery,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    pub fn recovery(&self) -> &[RecoveryNote] {
        &self.recovery
    }

    pub fn key_id(&self) -> String {
        lock(&self.log).key.public.key_id.clone()
    }

    pub fn head(&self) -> Head {
        let s = lock(&self.log);
        Head { seq: s.next_seq - 1, hash: s.head, timestamp: s.last_ts, segment: s.segment_name.clone() }
    }

    /// Check, queue and commit a batch of entries of one kind; returns when a durable seal covers
    /// them all. Safe to call from many threads: concurrent batches share one write and one sync.
    pub fn append<B: AsRef<[u8]> + Sync>(&self, kind: Kind, entries: &[B]) -> Result<Vec<Receipt>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let items = prepare::prepare(kind, entries, self.max_record_bytes)?;
        self.commit(items)
    }

    /// `append` for entries handed over rather than lent: their bodies are not copied.
    pub fn append_owned<B: AsRef<[u8]> + Send + Sync + 'static>(
        &self,
        kind: Kind,
        entries: Vec<B>,
    ) -> Result<Vec<Receipt>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let items = prepare::prepare_owned(kind, entries, self.max_record_bytes)?;
        self.commit(items)
    }

    /// Start a batch handed over in chunks, each checked in the background as it arrives;
    /// `append_streamed` commits it as `append` would the whole batch.
    pub fn stream(&self, kind: Kind) -> prepare::Streamed {
        prepare::Streamed::new(kind, self.max_record_bytes)
    }

    pub fn append_streamed(&self, batch: prepare::Streamed) -> Result<Vec<Receipt>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let items = batch.finish()?;
        self.commit(items)
    }

    fn commit(&self, items: Vec<Prepared>) -> Result<Vec<Receipt>> {
        let receipts = self.write_stage(items)?;
        if self.syncs {
            if let Some(last) = receipts.last() {
                self.stage.wait_durable(last.seal_seq)?;
            }
        }
        Ok(receipts)
    }

    /// The first stage: queue the request; the leader writes every queued request as one group
    /// (one write, one seal). Returns once this request's group is written, not yet synced.
    fn write_stage(&self, items: Vec<Prepared>) -> Result<Vec<Receipt>> {
        let mut q = lock(&self.queue);
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.pending.push(Request { ticket, items, arrived: Instant::now() });
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
                q = self.gather(q);
                let batch = std::mem::take(&mut q.pending);
                self.measure_return(&mut q, &batch);
                drop(q);
                let started = Instant::now();
                let results = lock(&self.log).commit_group(batch);
                q = lock(&self.queue);
                q.last_commit = started.elapsed();
                q.leader = false;
                q.done.extend(results);
                self.wake.notify_all();
                continue;
            }
            q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
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
    ///   (PostgreSQL's commit_delay/commit_siblings, driven by measured times).
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
                q = self.arrived.wait_timeout(q, nap).unwrap_or_else(|e| e.into_inner()).0;
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
            q = self.arrived.wait_timeout(q, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
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

    /// Stop writing and release the directory lock: later appends fail with `Closed`.
    pub fn close(&self) {
        let mut s = lock(&self.log);
        s.closed = true;
        s.lock = None;
    }

    pub fn poisoned(&self) -> Option<String> {
        lock(&self.log).poisoned.clone()
    }

    /// Counters since this writer opened: how well group commit is batching.
    pub fn stats(&self) -> WriterStats {
        let s = lock(&self.log);
        WriterStats { records: s.stats.records, groups: s.stats.groups, syncs: self.stage.syncs() }
    }
}

/// See `Writer::stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterStats {
    /// Intents and completions appended.
    pub records: u64,
    /// Group commits written (one seal each).
    pub groups: u64,
    /// fdatasyncs that acknowledged groups (durability `fsync`; rotation's own not counted).
    pub syncs: u64,
}

/// Write a new segment (header + seal) atomically: temp file, fsync, rename, fsync dir.
/// Returns its name, length and the hash of its seal.
#[allow(clippy::too_many_arguments)]
fn new_segment(
    fs: &Fs,
    dir: &Path,
    log_id: &str,
    key: &WriterKey,
    opts: &WriterOptions,
    number: u64,
    first_seq: u64,
    prev: &Digest,
    ts: &Timestamp,
) -> Result<(String, u64, Digest)> {
    let name = segment::name(number, first_seq);
    let header = format!(
        r#""format":"{}","log_id":"{log_id}","segment":{number},"key_id":"{}","public_key":"{}","max_record_bytes":{},"max_segment_bytes":{}"#,
        crate::body::FORMAT,
        key.public.key_id,
        key.public.to_base64(),
        opts.max_record_bytes,
        opts.max_segment_bytes
    );
    let mut buf = Vec::with_capacity(1024);
    let h = record::write(&mut buf, first_seq, prev, Kind::Header, ts, header.as_bytes());
    let seal = write_seal(&mut buf, key, log_id, first_seq + 1, &h, ts, false);
    fs.write_atomic(&dir.join(&name), &buf, opts.durability.syncs())?;
    Ok((name, buf.len() as u64, seal))
}

fn write_seal(
    buf: &mut Vec<u8>,
    key: &WriterKey,
    log_id: &str,
    seq: u64,
    prev: &Digest,
    ts: &Timestamp,
    closes: bool,
) -> Digest {
    let sig = key.sign(&keys::seal_message(log_id, seq, ts, prev, closes));
    let members =
        format!(r#""closes":{closes},"key_id":"{}","signature":"{}""#, key.public.key_id, keys::encode_signature(&sig));
    record::write(buf, seq, prev, Kind::Seal, ts, members.as_bytes())
}

impl LogState {
    fn opened(
        dir: &Path,
        log_id: String,
        key: WriterKey,
        opts: WriterOptions,
        lock: DirLock,
        fs: Fs,
        at: Resume,
    ) -> Result<LogState> {
        let file = Arc::new(OpenOptions::new().append(true).open(&at.segment_path).at(&at.segment_path)?);
        let stage = Arc::new(SyncStage::new(fs.clone(), file.clone(), at.segment_path.clone(), at.next_seq - 1));
        Ok(LogState {
            dir: dir.to_path_buf(),
            log_id,
            key,
            opts,
            file,
            segment_no: at.segment_no,
            segment_name: at.segment_name,
            segment_len: at.segment_len,
            segment_base_len: at.segment_base_len,
            next_seq: at.next_seq,
            head: at.head,
            last_ts: at.last_ts,
            ops: at.ops,
            poisoned: None,
            closed: false,
            lock: Some(lock),
            fs,
            stage,
            stats: WriterStats::default(),
        })
    }

    fn clock(&mut self) -> Timestamp {
        let now = timestamp::now();
        if now > self.last_ts {
            self.last_ts = now;
        }
        self.last_ts
    }

    /// Operation-level checks for one request against the log and the requests before it in this
    /// group; applied to `ops` only if the whole request passes.
    fn admit(&mut self, items: &[Prepared]) -> Result<()> {
        for (index, item) in items.iter().enumerate() {
            let applied =
                if item.kind == Kind::Intent { self.ops.intent(item.wal_id) } else { self.ops.complete(item.wal_id) };
            let Err(conflict) = applied else { continue };
            // All or nothing: take back what this request already put in the table.
            for done in items[..index].iter().rev() {
                self.ops.undo(done.wal_id, done.kind == Kind::Intent);
            }
            let id = crate::body::format_uuid(item.wal_id);
            let message = match conflict {
                OpConflict::DuplicateIntent => format!("wal_id {id} is already in the log"),
                OpConflict::AlreadyCompleted => format!("intent {id} is already completed"),
                OpConflict::UnknownIntent => format!("no intent {id} in the log to complete"),
            };
            return Err(WalError::Conflict { index, message });
        }
        Ok(())
    }

    fn commit_group(&mut self, batch: Vec<Request>) -> Vec<(u64, Result<Vec<Receipt>>)> {
        if self.closed {
            return batch.into_iter().map(|r| (r.ticket, Err(WalError::Closed))).collect();
        }
        if let Some(why) = self.poisoned.clone().or_else(|| self.stage.failed()) {
            return batch.into_iter().map(|r| (r.ticket, Err(WalError::Poisoned(why.clone())))).collect();
        }
        let mut results = Vec::with_capacity(batch.len());
        let mut admitted = Vec::with_capacity(batch.len());
        for req in batch {
            match self.admit(&req.items) {
                Ok(()) => admitted.push(req),
                Err(e) => results.push((req.ticket, Err(e))),
            }
        }
        if admitted.is_empty() {
            return results;
        }
        match self.write_group(&admitted) {
            Ok(mut receipts) => {
                for req in admitted.iter().rev() {
                    let mine = receipts.split_off(receipts.len() - req.items.len());
                    results.push((req.ticket, Ok(mine)));
                }
            }
            Err(e) => {
                let why = e.to_string();
                self.poisoned = Some(why.clone());
                self.stage.fail(&why);
                results.extend(admitted.iter().map(|r| (r.ticket, Err(WalError::Poisoned(why.clone())))));
            }
        }
        results
    }

    fn write_group(&mut self, admitted: &[Request]) -> Result<Vec<Receipt>> {
        let estimate: u64 = admitted
            .iter()
            .flat_map(|r| &r.items)
            .map(|i| record::line_len_bound(i.members().len()) as u64)
            .sum::<u64>()
            + 512;
        if self.segment_len > self.segment_base_len && self.segment_len + estimate > self.opts.max_segment_bytes {
            self.rotate()?;
        }
        let ts = self.clock();
        let count: usize = admitted.iter().map(|r| r.items.len()).sum();
        let seal_seq = self.next_seq + count as u64;
        let path = self.segment_path();
        let (receipts, sealed, bytes) = std::thread::scope(|scope| {
            // A group larger than one piece is written a piece at a time as it is chained (see
            // `pieces`), so the buffer holds one piece, not the group.
            let chunk = self.fs.write_chunk();
            let mut pieces = None;
            let mut handed = 0u64;
            let mut buf = Vec::with_capacity((estimate as usize).min(chunk + 4096));
            let mut receipts = Vec::with_capacity(count);
            let mut head = self.head;
            let segment: std::sync::Arc<str> = self.segment_name.as_str().into();
            for (seq, item) in (self.next_seq..).zip(admitted.iter().flat_map(|r| &r.items)) {
                if buf.len() >= chunk {
                    // Unsealed lines: nothing in them is acknowledged before the seal written
                    // after them is synced, and a crash leaves them as a tail recovery cuts.
                    let p = pieces.get_or_insert_with(|| {
                        Pieces::start(
                            scope,
                            &self.fs,
                            &self.file,
                            &path,
                            self.segment_len,
                            self.opts.durability.syncs(),
                        )
                    });
                    let len = buf.len() as u64;
                    let Some(next) = p.hand_over(std::mem::take(&mut buf)) else { break };
                    buf = next;
                    handed += len;
                }
                let offset = self.segment_len + handed + buf.len() as u64;
                head = record::write(&mut buf, seq, &head, item.kind, &ts, item.members());
                receipts.push(Receipt {
                    seq,
                    hash: head,
                    wal_id: item.wal_id,
                    kind: item.kind,
                    segment: segment.clone(),
                    offset,
                    seal_seq,
                    durability: self.opts.durability,
                });
            }
            let sealed = write_seal(&mut buf, &self.key, &self.log_id, seal_seq, &head, &ts, false);
            let bytes = handed + buf.len() as u64;
            // Written, not synced: the sync stage makes it durable (docs/FORMAT.md section 7).
            match pieces {
                Some(p) => p.finish(buf)?,
                None => self.fs.append(&self.file, &path, &buf)?,
            }
            Ok::<_, WalError>((receipts, sealed, bytes))
        })?;
        self.segment_len += bytes;
        self.head = sealed;
        self.next_seq = seal_seq + 1;
        self.stage.written(seal_seq, admitted.len());
        self.stats.records += count as u64;
        self.stats.groups += 1;
        if !self.opts.durability.syncs() {
            self.fs.acknowledged(seal_seq);
        }
        Ok(receipts)
    }

    fn segment_path(&self) -> PathBuf {
        self.dir.join(&self.segment_name)
    }

    fn write(&mut self, buf: &[u8]) -> Result<()> {
        let path = self.segment_path();
        self.fs.append(&self.file, &path, buf)?;
        self.segment_len += buf.len() as u64;
        Ok(())
    }

    /// Close the live segment with a closing seal, start the next one, archive the old one.
    fn rotate(&mut self) -> Result<()> {
        let ts = self.clock();
        let mut buf = Vec::with_capacity(512);
        let seq = self.next_seq;
        let sealed = write_seal(&mut buf, &self.key, &self.log_id, seq, &self.head, &ts, true);
        self.write(&buf)?;
        // This sync also covers every group written before it that the sync stage has not
        // synced yet: the segment is closed durably before its successor exists.
        if self.opts.durability.syncs() {
            self.fs.sync_file(&self.file, &self.segment_path())?;
        }
        self.head = sealed;
        self.next_seq = seq + 1;
        self.start_next_segment()
    }

    /// Steps 2 and 3 of rotation (docs/FORMAT.md section 7).
    fn start_next_segment(&mut self) -> Result<()> {
        let ts = self.clock();
        let old_name = self.segment_name.clone();
        let number = self.segment_no + 1;
        let (name, len, head) = new_segment(
            &self.fs,
            &self.dir,
            &self.log_id,
            &self.key,
            &self.opts,
            number,
            self.next_seq,
            &self.head,
            &ts,
        )?;
        let path = self.dir.join(&name);
        self.file = Arc::new(OpenOptions::new().append(true).open(&path).at(&path)?);
        self.segment_no = number;
        self.segment_name = name;
        self.segment_len = len;
        self.segment_base_len = len;
        self.head = head;
        self.next_seq += 2;
        // Created durably (temp, fsync, rename, directory fsync), after the old one was closed
        // durably: everything up to the new segment's first seal is on stable storage.
        self.stage.durable(self.next_seq - 1, &self.file, &path);
        archive(&self.fs, &self.dir, &old_name, self.opts.durability.syncs())
    }
}

/// Move a closed segment from the live directory into `archive/`, durably.
pub(crate) fn archive(fs: &Fs, dir: &Path, name: &str, sync: bool) -> Result<()> {
    let archive_dir = dir.join(segment::ARCHIVE);
    if !dir.join(name).exists() && archive_dir.join(name).exists() {
        return Ok(()); // already there (a log reopened at a closed, archived last segment)
    }
    fs.create_dir_durable(&archive_dir)?;
    fs.rename(&dir.join(name), &archive_dir.join(name))?;
    if sync {
        fs.sync_dir(&archive_dir)?;
        fs.sync_dir(dir)?;
    }
    Ok(())
}
