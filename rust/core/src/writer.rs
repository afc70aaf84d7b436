//! The writer: one per log directory (flock), group commit (appenders queue their batches in the
//! `commit_queue`; its leader writes everything queued with one write and one seal through the
//! `log_state`, and the `sync_stage` makes it durable with one fdatasync), rotation to
//! `archive/`, and poisoning after the first failed write or sync.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::commit_queue::{lock, CommitQueue};
use crate::error::{Result, WalError};
use crate::fsutil::{DirLock, Fs};
use crate::hash;
use crate::keys::WriterKey;
use crate::log_settings::ArchiveCompression;
use crate::log_state::{GroupWrite, LogState, WritePosition};
use crate::ops::OpsTable;
use crate::pipeline::{Pipeline, Stages, DEFAULT_MAX_IN_FLIGHT_BYTES};
use crate::prepare::{self, Prepared};
use crate::record::Kind;
pub use crate::recovery::OpenVerify;
use crate::recovery::{self, OpenScan, RecoveryMode, RecoveryNote};
use crate::segment;
use crate::segment_create::new_segment;
use crate::sync_stage::SyncStage;
use crate::timestamp;

pub use crate::durability::{Durability, WriterOptions};
pub use crate::pipeline::Pending;
pub use crate::receipt::{AppendReceipt, Head, WriterStats};

/// The two stages of group commit, shared with the pipeline's threads.
struct Core {
    commits: CommitQueue,
    log: Mutex<LogState>,
    /// Where written groups become durable (only used at durability `fsync`).
    stage: Arc<SyncStage>,
    syncs: bool,
    /// `close` has started. Kept outside `log`, which the commit leader holds while it chains
    /// and writes a whole group: a submit that took `log` only to ask whether the writer is
    /// closed waited for that group, and the pipeline's producer with it.
    closed: AtomicBool,
}

impl Stages for Core {
    /// The first stage: queue the request; the leader writes every queued request as one group
    /// (one write, one seal) and takes it through the second stage before waking the group's
    /// other callers (their own `make_durable` then returns at once, or with the failure).
    fn write(&self, items: Vec<Prepared>) -> Result<Vec<AppendReceipt>> {
        self.commits.submit(
            items,
            |batch| lock(&self.log).commit_group(batch, GroupWrite::Pieces),
            // A failure is not lost: the stage keeps it and each caller's `make_durable` gets it.
            |seal| drop(self.make_durable(seal)),
        )
    }

    /// `write` with no commit delay (the pipeline's write thread), each group in one write: the
    /// pipeline already overlaps this group's write with the previous one's sync.
    fn write_now(&self, items: Vec<Prepared>) -> Result<Vec<AppendReceipt>> {
        self.commits.submit_eager(items, |batch| lock(&self.log).commit_group(batch, GroupWrite::Whole))
    }

    /// The second stage: return once the seal `seal` is durable (at once below `fsync`).
    fn make_durable(&self, seal: u64) -> Result<()> {
        if self.syncs {
            self.stage.wait_durable(seal)?;
        }
        Ok(())
    }
}

pub struct Writer {
    core: Arc<Core>,
    pipeline: Arc<Pipeline>,
    dir: PathBuf,
    log_id: String,
    max_record_bytes: usize,
    recovery: Vec<RecoveryNote>,
    opened: OpenScan,
}

impl Writer {
    /// Create a new log in `dir` (which may exist but must not hold one).
    pub fn create(dir: &Path, key: WriterKey, opts: WriterOptions) -> Result<Writer> {
        Writer::create_with(dir, key, opts, Fs::default())
    }

    /// `create`, with every mutating file-system call going through `fs` (tests watch them).
    pub fn create_with(dir: &Path, key: WriterKey, opts: WriterOptions, fs: Fs) -> Result<Writer> {
        Writer::create_stream(dir, key, opts, None, fs)
    }

    /// `create_with`, naming the log's stream in a log set: every header then carries `stream`.
    pub fn create_stream(
        dir: &Path,
        key: WriterKey,
        opts: WriterOptions,
        stream: Option<&str>,
        fs: Fs,
    ) -> Result<Writer> {
        if let Some(s) = stream.filter(|s| !crate::body::is_stream_id(s)) {
            return Err(WalError::InvalidArgument(format!(
                "stream {s:?} is not a stream id: 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit"
            )));
        }
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
        let (name, len, head) = new_segment(&fs, dir, &log_id, stream, &key, &opts, 1, 1, &hash::ZERO, &ts)?;
        let at = WritePosition {
            segment_no: 1,
            segment_path: dir.join(&name),
            segment_name: name,
            segment_len: len,
            file_len: len,
            v2: true,
            segment_base_len: len,
            next_seq: 3,
            head,
            last_ts: ts,
            ops: OpsTable::default(),
        };
        let mut state = LogState::opened(dir, log_id, key, opts, lock, fs, at)?;
        state.stream = stream.map(str::to_owned);
        Ok(Writer::from_state(state, Vec::new()))
    }

    /// Open an existing log for writing, recovering a torn or unsealed tail per `mode`. What the
    /// last clean close's signed state vouches for is not read again (`OpenVerify`).
    pub fn open(dir: &Path, key: WriterKey, mode: RecoveryMode, durability: Durability) -> Result<Writer> {
        Writer::open_with(dir, key, mode, durability, Fs::default())
    }

    /// `open`, with every mutating file-system call going through `fs`.
    pub fn open_with(dir: &Path, key: WriterKey, mode: RecoveryMode, durability: Durability, fs: Fs) -> Result<Writer> {
        Writer::open_verifying(dir, key, mode, durability, OpenVerify::SinceCleanClose, fs)
    }

    /// `open_with`, saying how much of the log to verify first.
    pub fn open_verifying(
        dir: &Path,
        key: WriterKey,
        mode: RecoveryMode,
        durability: Durability,
        verify: OpenVerify,
        fs: Fs,
    ) -> Result<Writer> {
        if !dir.is_dir() || segment::list(dir)?.is_empty() {
            return Err(WalError::NotALog(dir.to_path_buf()));
        }
        let lock = DirLock::acquire(dir)?;
        let r = recovery::recover(&fs, dir, &key, mode, durability, verify)?;
        let opts = WriterOptions {
            max_segment_bytes: r.max_segment_bytes,
            max_record_bytes: r.max_record_bytes,
            durability,
            ..WriterOptions::default()
        };
        let live = r.position.segment_path.clone();
        let mut state = LogState::opened(dir, r.log_id, key, opts, lock, fs, r.position)?;
        state.revoked = r.revoked;
        // Later headers carry on the stream the live segment's header names.
        state.stream = crate::log_stream::of_segment(&live)?;
        let mut notes = r.notes;
        if r.closes {
            // The last rotation stopped after its closing seal: finish it now.
            state.start_next_segment()?;
            notes.push(RecoveryNote {
                action: "finished an interrupted rotation".into(),
                segment: state.head().segment,
                offset: 0,
                bytes: 0,
                saved_to: None,
            });
        }
        // Compressions a crash, a failure or a setting changed since left undone.
        state.compress_backlog()?;
        let mut writer = Writer::from_state(state, notes);
        writer.opened = r.opened;
        Ok(writer)
    }

    fn from_state(state: LogState, recovery: Vec<RecoveryNote>) -> Writer {
        Writer {
            dir: state.dir.clone(),
            log_id: state.log_id.clone(),
            max_record_bytes: usize::try_from(state.opts.max_record_bytes).unwrap_or(usize::MAX),
            core: Arc::new(Core {
                stage: state.stage.clone(),
                syncs: state.opts.durability.syncs(),
                commits: CommitQueue::new(state.stage.clone()),
                log: Mutex::new(state),
                closed: AtomicBool::new(false),
            }),
            pipeline: Pipeline::new(DEFAULT_MAX_IN_FLIGHT_BYTES),
            recovery,
            opened: OpenScan::default(),
        }
    }

    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    #[must_use]
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    #[must_use]
    pub fn recovery(&self) -> &[RecoveryNote] {
        &self.recovery
    }

    /// How much of the log opening read (all of it, or what followed the last clean close).
    #[must_use]
    pub fn opened(&self) -> OpenScan {
        self.opened
    }

    #[must_use]
    pub fn key_id(&self) -> String {
        lock(&self.core.log).key_id()
    }

    #[must_use]
    pub fn head(&self) -> Head {
        lock(&self.core.log).head()
    }

    /// Check, queue and commit a batch of entries of one kind; returns when a durable seal covers
    /// them all. Safe to call from many threads: concurrent batches share one write and one sync.
    pub fn append<B: AsRef<[u8]> + Sync>(&self, kind: Kind, entries: &[B]) -> Result<Vec<AppendReceipt>> {
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
    ) -> Result<Vec<AppendReceipt>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let items = prepare::prepare_owned(kind, entries, self.max_record_bytes)?;
        self.commit(items)
    }

    /// Start a batch handed over in chunks, each checked as it arrives (where `checks` says);
    /// `append_streamed` commits it as `append` would the whole batch, `submit_streamed`
    /// submits it.
    #[must_use]
    pub fn stream(&self, kind: Kind, checks: prepare::ChunkChecks) -> prepare::Streamed {
        prepare::Streamed::new(kind, self.max_record_bytes, checks)
    }

    pub fn append_streamed(&self, batch: prepare::Streamed) -> Result<Vec<AppendReceipt>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let items = batch.finish()?;
        self.commit(items)
    }

    fn commit(&self, items: Vec<Prepared>) -> Result<Vec<AppendReceipt>> {
        let receipts = self.core.write(items)?;
        if let Some(last) = receipts.last() {
            self.core.make_durable(last.seal_seq)?;
        }
        Ok(receipts)
    }

    /// Bound the bytes of submitted batches not yet durable (default 64 MiB): `submit` blocks
    /// while it is reached. Set before the first submit.
    #[must_use]
    pub fn with_max_in_flight_bytes(mut self, bytes: u64) -> Writer {
        self.pipeline.close();
        self.pipeline = Pipeline::new(bytes);
        self
    }

    /// Check a batch of entries of one kind (a schema error is returned here, and nothing of
    /// the batch is written), hand it to the commit queue and return at once: the handle
    /// resolves with its receipts once a durable seal covers them, or with the error that failed
    /// it. Batches are written in submit order and their handles resolve in that order. The
    /// rules of `append` hold: all or nothing per batch, nothing acknowledged after a failure.
    /// Blocks while the bytes in flight are at their bound (`with_max_in_flight_bytes`).
    pub fn submit_owned<B: AsRef<[u8]> + Send + Sync + 'static>(&self, kind: Kind, entries: Vec<B>) -> Result<Pending> {
        self.refuse_if_stopped()?;
        if entries.is_empty() {
            return Ok(Pending::resolved(Ok(Vec::new())));
        }
        let items = prepare::prepare_owned(kind, entries, self.max_record_bytes)?;
        self.pipeline.submit(&self.core, items)
    }

    /// `submit_owned` for a batch handed over in chunks (`stream`).
    pub fn submit_streamed(&self, batch: prepare::Streamed) -> Result<Pending> {
        self.refuse_if_stopped()?;
        if batch.is_empty() {
            return Ok(Pending::resolved(Ok(Vec::new())));
        }
        let items = batch.finish()?;
        self.pipeline.submit(&self.core, items)
    }

    /// A submit to a poisoned or closed writer fails at once and hands nothing over. Without
    /// taking `log` (see `Core::closed`).
    fn refuse_if_stopped(&self) -> Result<()> {
        if let Some(why) = self.poisoned() {
            return Err(WalError::Poisoned(why));
        }
        if self.core.closed.load(Ordering::Acquire) {
            return Err(WalError::Closed);
        }
        Ok(())
    }

    /// Stop writing and release the directory lock: later appends and submits fail with
    /// `Closed`. Batches submitted before resolve first (durable, or failed): close waits.
    pub fn close(&self) {
        self.core.closed.store(true, Ordering::Release);
        self.pipeline.close();
        lock(&self.core.log).close();
    }

    /// Why the writer acknowledges nothing any more (a failed write or sync), if it does not:
    /// the sync stage records both (a failed write fails the stage, `LogState::commit_group`).
    #[must_use]
    pub fn poisoned(&self) -> Option<String> {
        self.core.stage.failed()
    }

    /// How rotated segments are archived (the log's setting, `DIR/settings.json`).
    #[must_use]
    pub fn archive_compression(&self) -> ArchiveCompression {
        lock(&self.core.log).archive_compression()
    }

    /// How far ahead of its data the live segment is kept filled with zeros (durability `fsync`
    /// only; `WriterOptions::preallocate_bytes`, default 1 MiB); 0 turns it off, for file systems
    /// where writing into zeros saves nothing (copy-on-write ones).
    pub fn set_preallocate_bytes(&self, bytes: u64) -> Result<()> {
        self.refuse_if_stopped()?;
        lock(&self.core.log).set_preallocate_bytes(bytes);
        Ok(())
    }

    /// Change how rotated segments are archived, durably, for this writer and every later one.
    /// With zstd, the archived segments still plain are compressed in the background.
    pub fn set_archive_compression(&self, c: ArchiveCompression) -> Result<()> {
        self.refuse_if_stopped()?;
        lock(&self.core.log).set_archive_compression(c)
    }

    /// Wait until the background compression of archived segments under way is done; returns
    /// why the last one failed, if one did (the plain segment then stays, valid).
    #[must_use = "why the last compression failed, if one did"]
    pub fn wait_for_archive(&self) -> Option<String> {
        let mut log = lock(&self.core.log);
        log.wait_for_archive();
        log.archive_failure()
    }

    /// Counters since this writer opened: how well group commit is batching.
    #[must_use]
    pub fn stats(&self) -> WriterStats {
        let s = lock(&self.core.log).stats();
        WriterStats { syncs: self.core.stage.syncs(), ..s }
    }
}

impl Drop for Writer {
    /// Batches still in flight resolve before the writer goes (none is silently dropped).
    fn drop(&mut self) {
        self.pipeline.close();
    }
}
