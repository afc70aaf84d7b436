//! The log as the commit leader writes it: the live segment, the chain head, the intent table;
//! writing a group (admission, chaining, hashing, the seal), rotation to `archive/`, and
//! poisoning after the first failed write.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::archive::{archive_segment, uncompressed_backlog, Archiver};
use crate::commit_queue::{Committed, Request};
use crate::durability::WriterOptions;
use crate::error::{IoContext, Result, WalError};
use crate::fsutil::{DirLock, Fs};
use crate::hash::Digest;
use crate::keys::WriterKey;
use crate::live_padding::LivePadding;
use crate::log_settings::{self, ArchiveCompression};
use crate::open_state;
use crate::ops::{OpConflict, OpsTable};
use crate::pieces::Pieces;
use crate::prepare::Prepared;
use crate::receipt::{AppendReceipt, Head, WriterStats};
use crate::record::{self, Kind};
use crate::segment;
use crate::segment_create::{new_segment, write_seal};
use crate::sync_stage::SyncStage;
use crate::timestamp::{self, Timestamp};

/// What a writer continues from: the live segment, the chain head and the intent table.
pub(crate) struct WritePosition {
    pub segment_no: u64,
    pub segment_name: String,
    /// Where the segment is: normally the live directory; in `archive/` only when the log ends
    /// with a closed segment whose successor a crash never created (the writer creates it).
    pub segment_path: PathBuf,
    /// Where the segment's data ends: the writer writes there.
    pub segment_len: u64,
    /// The segment file's size: its data, then (in a `kfm-wal/2` segment) zero padding.
    pub file_len: u64,
    /// The segment's header says `kfm-wal/2`: zeros after its data are padding (docs/FORMAT.md
    /// section 2), so the writer may fill space ahead of its data.
    pub v2: bool,
    /// Length of the segment right after its header and first seal: a segment no longer than
    /// this holds nothing worth rotating.
    pub segment_base_len: u64,
    pub next_seq: u64,
    pub head: Digest,
    pub last_ts: Timestamp,
    pub ops: OpsTable,
}

/// How `commit_group` writes a group larger than one piece (`Fs::write_chunk`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupWrite {
    /// A piece at a time while the rest is chained, on a helper thread (`pieces`): the caller is
    /// waiting for this group, and its write and writeback overlap its own hashing.
    Pieces,
    /// In one write (up to `WHOLE_GROUP_PIECE`): the pipeline's write thread, whose group's write
    /// already overlaps the previous group's sync. A helper thread per group and four hand-offs
    /// cost that thread more than they saved it (measured on the 2-core AMD EPYC VM, pipelined
    /// batches of 1,000, five rounds alternating: pre-encoded 633k -> 743k entries/s, CPU per
    /// batch 2.10 -> 1.80 ms; from Python 596k -> 692k).
    Whole,
}

/// The largest piece of a `GroupWrite::Whole` group: bounds the buffer of a very large batch.
const WHOLE_GROUP_PIECE: usize = 8 << 20;

/// Everything only the commit leader touches.
pub(crate) struct LogState {
    pub(crate) dir: PathBuf,
    pub(crate) log_id: String,
    /// The stream id every header of this log carries (None: a log outside any log set).
    pub(crate) stream: Option<String>,
    key: WriterKey,
    pub(crate) opts: WriterOptions,
    /// Shared with the sync stage, which fdatasyncs it outside the leader's lock.
    file: Arc<File>,
    segment_no: u64,
    segment_name: String,
    /// Where the live segment's data ends (the next group is written there).
    segment_len: u64,
    /// The zeros kept ahead of the live segment's data.
    padding: LivePadding,
    /// Length of the segment right after its header and first seal: a segment no longer than
    /// this holds nothing worth rotating.
    segment_base_len: u64,
    next_seq: u64,
    head: Digest,
    last_ts: Timestamp,
    ops: OpsTable,
    closed: bool,
    /// Held until `close`; the kernel also drops it if the process dies.
    lock: Option<DirLock>,
    fs: Fs,
    pub(crate) stage: Arc<SyncStage>,
    stats: WriterStats,
    /// Compresses rotated segments when the log's setting says so.
    archiver: Archiver,
    /// Keys revoked at the head (for the clean-close state).
    pub(crate) revoked: Vec<String>,
}

impl LogState {
    pub(crate) fn opened(
        dir: &Path,
        log_id: String,
        key: WriterKey,
        opts: WriterOptions,
        lock: DirLock,
        fs: Fs,
        at: WritePosition,
    ) -> Result<LogState> {
        let file = Arc::new(OpenOptions::new().write(true).open(&at.segment_path).at(&at.segment_path)?);
        let stage = Arc::new(SyncStage::new(fs.clone(), file.clone(), at.segment_path.clone(), at.next_seq - 1));
        let archiver = Archiver::new(log_settings::archive_compression(dir)?);
        Ok(LogState {
            dir: dir.to_path_buf(),
            log_id,
            stream: None,
            key,
            opts,
            file,
            segment_no: at.segment_no,
            segment_name: at.segment_name,
            segment_len: at.segment_len,
            padding: LivePadding::new(at.file_len, at.segment_len, at.v2),
            segment_base_len: at.segment_base_len,
            next_seq: at.next_seq,
            head: at.head,
            last_ts: at.last_ts,
            ops: at.ops,
            closed: false,
            lock: Some(lock),
            fs,
            stage,
            stats: WriterStats::default(),
            archiver,
            revoked: Vec::new(),
        })
    }

    pub(crate) fn key_id(&self) -> String {
        self.key.public.key_id.clone()
    }

    pub(crate) fn head(&self) -> Head {
        Head { seq: self.next_seq - 1, hash: self.head, timestamp: self.last_ts, segment: self.segment_name.clone() }
    }

    /// Stop writing and release the directory lock: later groups fail with `Closed`.
    pub(crate) fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        // A compression under way finishes under the lock: the next writer finds it done.
        self.archiver.wait();
        // A clean close: the next writer may open from here without re-reading history. Not
        // after a failure, and a failure to write it only costs the next open a full verification.
        // The padding goes first: a closed log's live segment ends with its head seal, as the
        // state's check of it expects, and holds no zeros nobody will write into.
        if self.stage.failed().is_none() {
            let _ = self.trim_padding(true).and_then(|()| self.write_open_state());
        }
        self.lock = None;
    }

    fn write_open_state(&self) -> Result<()> {
        let closing = open_state::Closing {
            log_id: &self.log_id,
            seq: self.next_seq - 1,
            hash: self.head,
            segment_no: self.segment_no,
            segment_path: &self.segment_path(),
            revoked: &self.revoked,
            pending: self.ops.pending().collect(),
            ids: self.ops.all_ids(),
        };
        open_state::write(&self.fs, &self.dir, &self.key, &closing, self.opts.durability.syncs())
    }

    /// Record the log's archive compression and, for zstd, start compressing what is still
    /// plain in `archive/`.
    pub(crate) fn set_archive_compression(&mut self, c: ArchiveCompression) -> Result<()> {
        if c != self.archiver.compression() {
            log_settings::set_archive_compression(&self.fs, &self.dir, c)?;
            self.archiver.set_compression(c);
        }
        self.compress_backlog()
    }

    /// Compress, in the background, the archived segments still plain (per the setting).
    pub(crate) fn compress_backlog(&mut self) -> Result<()> {
        if self.archiver.compression() == ArchiveCompression::Zstd {
            let names = uncompressed_backlog(&self.dir, &self.segment_path())?;
            self.archiver.compress_later(&self.fs, &self.dir, names);
        }
        Ok(())
    }

    pub(crate) fn archive_compression(&self) -> ArchiveCompression {
        self.archiver.compression()
    }

    /// Why the last background compression failed, if it did.
    pub(crate) fn archive_failure(&self) -> Option<String> {
        self.archiver.failure()
    }

    /// Wait for the background compression under way, if any.
    pub(crate) fn wait_for_archive(&mut self) {
        self.archiver.wait();
    }

    /// Records and groups written (the sync stage counts the syncs).
    pub(crate) fn stats(&self) -> WriterStats {
        self.stats
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

    pub(crate) fn commit_group(&mut self, batch: Vec<Request>, how: GroupWrite) -> Committed {
        if self.closed {
            return batch.into_iter().map(|r| (r.ticket, Err(WalError::Closed))).collect();
        }
        if let Some(why) = self.stage.failed() {
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
        match self.write_group(&admitted, how) {
            Ok(mut receipts) => {
                for req in admitted.iter().rev() {
                    let mine = receipts.split_off(receipts.len() - req.items.len());
                    results.push((req.ticket, Ok(mine)));
                }
            }
            Err(e) => {
                // The sync stage is the one record of the poisoning: it stops every later sync,
                // and submits and `Writer::poisoned` read it without this state's lock.
                let why = e.to_string();
                self.stage.fail(&why);
                results.extend(admitted.iter().map(|r| (r.ticket, Err(WalError::Poisoned(why.clone())))));
            }
        }
        results
    }

    fn write_group(&mut self, admitted: &[Request], how: GroupWrite) -> Result<Vec<AppendReceipt>> {
        let estimate: u64 =
            admitted.iter().flat_map(|r| &r.items).map(|i| record::line_len_bound(i.body_len()) as u64).sum::<u64>()
                + 512;
        if self.segment_len > self.segment_base_len && self.segment_len + estimate > self.opts.max_segment_bytes {
            self.rotate()?;
        }
        let path = self.segment_path();
        self.padding.fill(&self.fs, &self.file, &path, self.segment_len, estimate, &self.opts)?;
        let ts = self.clock();
        let count: usize = admitted.iter().map(|r| r.items.len()).sum();
        let seal_seq = self.next_seq + count as u64;
        let (receipts, sealed, bytes) = std::thread::scope(|scope| {
            // A group larger than one piece is written a piece at a time as it is chained (see
            // `pieces`), so the buffer holds one piece, not the group.
            let chunk = match how {
                GroupWrite::Pieces => self.fs.write_chunk(),
                GroupWrite::Whole => self.fs.write_chunk().max(WHOLE_GROUP_PIECE),
            };
            let mut pieces = None;
            let mut handed = 0u64;
            let mut buf = Vec::with_capacity(usize::try_from(estimate).map_or(chunk + 4096, |e| e.min(chunk + 4096)));
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
                head = record::write_with_id(&mut buf, seq, &head, item.kind, &ts, item.assigned_id(), item.members());
                receipts.push(AppendReceipt {
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
                None => self.fs.write_at(&self.file, &path, self.segment_len, &buf)?,
            }
            Ok::<_, WalError>((receipts, sealed, bytes))
        })?;
        self.segment_len += bytes;
        self.padding.written_to(self.segment_len);
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

    /// Cut the zeros after the live segment's data (`LivePadding::trim`).
    fn trim_padding(&mut self, sync: bool) -> Result<()> {
        let path = self.segment_path();
        self.padding.trim(&self.fs, &self.file, &path, self.segment_len, sync && self.opts.durability.syncs())
    }

    /// How far ahead of its data the live segment is kept filled with zeros from the next group
    /// on (0: not at all; the zeros already there stay until rotation or close).
    pub(crate) fn set_preallocate_bytes(&mut self, bytes: u64) {
        self.opts.preallocate_bytes = bytes;
    }

    fn segment_path(&self) -> PathBuf {
        self.dir.join(&self.segment_name)
    }

    fn write(&mut self, buf: &[u8]) -> Result<()> {
        let path = self.segment_path();
        self.fs.write_at(&self.file, &path, self.segment_len, buf)?;
        self.segment_len += buf.len() as u64;
        self.padding.written_to(self.segment_len);
        Ok(())
    }

    /// Close the live segment with a closing seal, start the next one, archive the old one.
    fn rotate(&mut self) -> Result<()> {
        let ts = self.clock();
        let mut buf = Vec::with_capacity(512);
        let seq = self.next_seq;
        let sealed = write_seal(&mut buf, &self.key, &self.log_id, seq, &self.head, &ts, true);
        self.write(&buf)?;
        self.trim_padding(false)?;
        // This sync also covers every group written before it that the sync stage has not
        // synced yet, and the cut padding: the segment is closed durably before its successor
        // exists.
        if self.opts.durability.syncs() {
            self.fs.sync_file(&self.file, &self.segment_path())?;
        }
        self.head = sealed;
        self.next_seq = seq + 1;
        self.start_next_segment()
    }

    /// Steps 2 and 3 of rotation (docs/FORMAT.md section 7).
    pub(crate) fn start_next_segment(&mut self) -> Result<()> {
        // A rotation a crash interrupted may have left the closed segment's padding.
        self.trim_padding(true)?;
        let ts = self.clock();
        let old_name = self.segment_name.clone();
        let number = self.segment_no + 1;
        let (name, len, head) = new_segment(
            &self.fs,
            &self.dir,
            &self.log_id,
            self.stream.as_deref(),
            &self.key,
            &self.opts,
            number,
            self.next_seq,
            &self.head,
            &ts,
        )?;
        let path = self.dir.join(&name);
        self.file = Arc::new(OpenOptions::new().write(true).open(&path).at(&path)?);
        self.segment_no = number;
        self.segment_name = name;
        self.segment_len = len;
        self.padding = LivePadding::created(len);
        self.segment_base_len = len;
        self.head = head;
        self.next_seq += 2;
        // Created durably (temp, fsync, rename, directory fsync), after the old one was closed
        // durably: everything up to the new segment's first seal is on stable storage.
        self.stage.durable(self.next_seq - 1, &self.file, &path);
        archive_segment(&self.fs, &self.dir, &old_name, self.opts.durability.syncs())?;
        // Step 4: compressed after it is sealed, durable and archived, off the append path.
        if !segment::is_compressed_path(Path::new(&old_name)) {
            self.archiver.compress_later(&self.fs, &self.dir, vec![old_name]);
        }
        Ok(())
    }
}
