//! Recovery when a log is opened for writing (docs/FORMAT.md section 6): verify, refuse on any
//! damage to sealed history, cut a torn or unsealed tail only after saving a copy of it, and
//! finish a rotation a crash interrupted.

use std::fs::{self, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use crate::archive::archive_segment;
use crate::durability::Durability;
use crate::error::{IoContext, Result, WalError};
use crate::finding::Code;
use crate::fsutil::Fs;
use crate::keys::WriterKey;
use crate::log_state::WritePosition;
use crate::open_state;
use crate::scan;
use crate::segment;
use crate::verify::{self, VerifyOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Any finding, a recoverable tail included, refuses to open.
    Strict,
    /// Cut an unsealed or torn tail (keeping a copy); refuse on anything else.
    TolerateTail,
}

impl RecoveryMode {
    #[must_use]
    pub fn parse(s: &str) -> Option<RecoveryMode> {
        match s {
            "strict" => Some(RecoveryMode::Strict),
            "tolerate-tail" => Some(RecoveryMode::TolerateTail),
            _ => None,
        }
    }
}

/// One thing recovery did, for the caller to report.
#[derive(Debug, Clone)]
pub struct RecoveryNote {
    pub action: String,
    pub segment: String,
    pub offset: u64,
    pub bytes: u64,
    pub saved_to: Option<PathBuf>,
}

/// What recovery leaves for the writer: where to continue writing, the log's limits, and what
/// it did.
pub(crate) struct RecoveryOutcome {
    pub log_id: String,
    pub position: WritePosition,
    pub closes: bool,
    pub max_record_bytes: u64,
    pub max_segment_bytes: u64,
    pub notes: Vec<RecoveryNote>,
    /// Keys revoked at the head (kept for the clean-close state).
    pub revoked: Vec<String>,
    pub opened: OpenScan,
}

/// How much of the log to verify before writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenVerify {
    /// Only what follows the last clean close (and the live segment), when its signed state
    /// still holds; everything otherwise (docs/FORMAT.md section 7).
    #[default]
    SinceCleanClose,
    /// Every byte of every segment.
    All,
}

impl OpenVerify {
    #[must_use]
    pub fn parse(s: &str) -> Option<OpenVerify> {
        match s {
            "since-close" => Some(OpenVerify::SinceCleanClose),
            "all" => Some(OpenVerify::All),
            _ => None,
        }
    }
}

/// How much of the log opening read: everything, or only what follows a clean close.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenScan {
    /// The seq up to which history was trusted from the signed clean-close state, if it was.
    pub trusted_seq: Option<u64>,
    /// Bytes of segments read and verified.
    pub verified_bytes: u64,
}

/// Temp files are written before a rename makes them part of the log; one left behind by a crash
/// was never part of it.
fn remove_stale_temps(dir: &Path, notes: &mut Vec<RecoveryNote>) -> Result<()> {
    for entry in fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("wal-")
            && std::path::Path::new(name).extension().is_some_and(|ext| ext.eq_ignore_ascii_case("tmp"))
        {
            fs::remove_file(&path).at(&path)?;
            notes.push(RecoveryNote {
                action: "removed an unfinished segment temp file".into(),
                segment: name.to_owned(),
                offset: 0,
                bytes: 0,
                saved_to: None,
            });
        }
    }
    Ok(())
}

/// Copy the tail's `len` bytes at `offset` of `segment` into `recovered/` (without their final
/// zeros), durably, then cut the file there (a `kfm-wal/2` segment's padding after the tail goes
/// with it: the writer fills again).
fn cut_tail(fs: &Fs, dir: &Path, segment: &Path, name: &str, offset: u64, len: u64, sync: bool) -> Result<PathBuf> {
    let mut file = OpenOptions::new().read(true).write(true).open(segment).at(segment)?;
    let mut cut = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.seek(SeekFrom::Start(offset)).at(segment)?;
    (&mut file).take(len).read_to_end(&mut cut).at(segment)?;
    // A torn line written into padding runs on in zeros to the end of the file: the copy keeps
    // what was written (the note still counts every byte cut).
    cut.truncate(cut.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1));
    let saved_dir = dir.join(segment::RECOVERED);
    fs.create_dir_durable(&saved_dir)?;
    let saved = saved_dir.join(format!("{name}.{offset}.tail"));
    // Always synced: the copy must be durable before the only other copy is cut.
    fs.write_atomic(&saved, &cut, true)?;
    fs.truncate(&file, segment, offset)?;
    if sync {
        fs.sync_file(&file, segment)?;
    }
    Ok(saved)
}

pub(crate) fn recover(
    fs: &Fs,
    dir: &Path,
    key: &WriterKey,
    mode: RecoveryMode,
    durability: Durability,
    verify: OpenVerify,
) -> Result<RecoveryOutcome> {
    let sync = durability == Durability::Fsync;
    let mut notes = Vec::new();
    remove_stale_temps(dir, &mut notes)?;
    let archive_dir = dir.join(segment::ARCHIVE);
    if archive_dir.is_dir() {
        // A compression's temp file (`NAME.jsonl.zst.tmp`) a crash left behind.
        remove_stale_temps(&archive_dir, &mut notes)?;
    }
    let (report, trusted) = verified(dir, key, verify)?;
    if let Some(damage) = report.first_damage() {
        return Err(WalError::Corruption(Box::new(damage.clone())));
    }
    let in_force = report.key_in_force.as_ref().map(|k| k.key_id.clone()).unwrap_or_default();
    if in_force != key.public.key_id {
        return Err(WalError::KeyMismatch { expected: in_force, given: key.public.key_id.clone() });
    }
    let last = report.segments.last().cloned().ok_or_else(|| WalError::NotALog(dir.to_path_buf()))?;
    let v2 = report.last_header.as_ref().is_some_and(|h| h.v2);
    // Where the last segment's data ends (the writer writes there) and the file's size.
    let (segment_len, file_len) = if let Some(tail) = &report.tail {
        // A compressed segment is never cut (it is closed and archived before it is compressed).
        if mode == RecoveryMode::Strict || tail.segment.is_compressed() {
            return Err(WalError::Corruption(Box::new(tail.finding.clone())));
        }
        let saved = cut_tail(fs, dir, &tail.segment.path, &tail.segment.name(), tail.offset, tail.len, sync)?;
        notes.push(RecoveryNote {
            action: format!("cut {}", tail.finding.code.as_str()),
            segment: tail.segment.name(),
            offset: tail.offset,
            bytes: tail.len,
            saved_to: Some(saved),
        });
        (tail.offset, tail.offset) // the cut took any padding with it
    } else {
        let file_len = fs::metadata(&last.path).at(&last.path)?.len();
        // A kfm-wal/2 segment's data ends where its padding starts (a compressed one is closed
        // and was cut back to its data, or holds padding no writer will write into).
        let data_end = if v2 && !last.is_compressed() {
            crate::segment_bytes::padding_start(&last.path, file_len)?
        } else {
            file_len
        };
        (data_end, file_len)
    };
    let head = report.head.ok_or_else(|| {
        WalError::InvalidArgument(format!("{}: no sealed record in the last segment", last.path.display()))
    })?;
    // Finish step 3 of an interrupted rotation: closed segments still in the live directory.
    for s in report.segments.iter().filter(|s| !s.archived && s.number != last.number) {
        archive_segment(fs, dir, &s.name(), sync)?;
        notes.push(RecoveryNote {
            action: "archived a closed segment left in the live directory".into(),
            segment: s.name(),
            offset: 0,
            bytes: 0,
            saved_to: None,
        });
    }
    if last.archived && !report.last_closes {
        return Err(WalError::InvalidArgument(format!(
            "{}: the last segment is in archive/ but was never closed",
            last.path.display()
        )));
    }
    let header = report
        .last_header
        .clone()
        .ok_or_else(|| WalError::InvalidArgument("last segment has no valid header".into()))?;
    let only_header_and_seal = head.seq == last.first_seq + 1;
    Ok(RecoveryOutcome {
        log_id: report.log_id.clone().unwrap_or_default(),
        position: WritePosition {
            segment_no: last.number,
            segment_name: last.name(),
            segment_path: last.path.clone(),
            segment_len,
            file_len,
            v2,
            segment_base_len: if only_header_and_seal { segment_len } else { 0 },
            next_seq: head.seq + 1,
            head: head.hash,
            last_ts: head.timestamp,
            ops: report.ops,
        },
        closes: report.last_closes,
        max_record_bytes: header.max_record_bytes,
        max_segment_bytes: header.max_segment_bytes,
        notes,
        revoked: report.revoked.clone(),
        opened: OpenScan { trusted_seq: trusted, verified_bytes: report.scanned_bytes },
    })
}

/// Verify the log for writing: from the signed clean-close state when it still holds (only what
/// follows it is read), else all of it. A state that does not hold is no finding: the whole log
/// is then verified, and judged, as if there were none.
fn head_scan_options() -> scan::ScanOptions<'static> {
    scan::ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false }
}

fn verified(dir: &Path, key: &WriterKey, how: OpenVerify) -> Result<(verify::LogReport, Option<u64>)> {
    let state = if how == OpenVerify::All { None } else { open_state::usable(dir, key) };
    if let Some((checkpoint, prior)) = state {
        let seq = checkpoint.seq;
        let opts = VerifyOptions { keep_ops: true, checkpoint: Some(checkpoint), ..VerifyOptions::default() };
        let mut report = verify::verify(dir, &opts)?;
        let holds = !report.findings.iter().any(|f| matches!(f.code, Code::ReceiptTruncated | Code::ReceiptMismatch));
        // The head's segment (the live one, at most max_segment_bytes) is always read whole:
        // only closed segments are trusted on their names and sizes.
        let head_segment = report.segments.iter().find(|s| s.number == report.head_segment.unwrap_or(0)).cloned();
        let whole = match head_segment.filter(|_| holds) {
            Some(file) => Some(scan::scan_file(&file, &head_scan_options(), false)?),
            None => None,
        };
        if let Some(scanned) = whole.filter(|s| s.findings.is_empty()) {
            report.scanned_bytes += scanned.bytes;
            report.ops.set_prior(prior);
            return Ok((report, Some(seq)));
        }
    }
    let report = verify::verify(dir, &VerifyOptions { keep_ops: true, ..VerifyOptions::default() })?;
    Ok((report, None))
}
