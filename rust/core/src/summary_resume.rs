//! An incremental run over segments verified alone: the segment holding a verification receipt's
//! checkpoint, resumed from it on its bytes alone (`resume_alone`, a worker's task), then joined
//! from the checkpoint's state (`summary_join::join_resumed`). The rules are the local verifier's
//! (`verify::resume_at`), on a segment's bytes instead of its file.

use crate::error::{Result, WalError};
use crate::finding::{Code, Finding};
use crate::hash;
use crate::log_report::Checkpoint;
use crate::record;
use crate::scan::{self, Boundary, HeaderInfo, ScanOptions, ScanStart, SegmentScan};
use crate::segment::SegmentFile;
use crate::segment_summary::{self, Reader, Writer};

/// The checkpoint's segment resumed: its scan from just after the checkpoint's record (and where
/// that record's line ends), or the finding that says the checkpoint no longer holds.
pub enum Resumed {
    Scan(Box<SegmentScan>, u64),
    Gone(Finding),
}

/// The line of `bytes` starting at `at`, with its newline if it has one.
fn line_at(bytes: &[u8], at: u64) -> Option<&[u8]> {
    let rest = bytes.get(scan::mem_index(at)..).filter(|r| !r.is_empty())?;
    Some(memchr::memchr(b'\n', rest).map_or(rest, |i| &rest[..=i]))
}

/// Resume `file` (its whole `bytes`) from checkpoint `cp`, as the local verifier does.
/// Err: the segment is of another log than the receipt's.
pub fn resume_alone(file: &SegmentFile, raw: &[u8], cp: &Checkpoint, opts: &ScanOptions) -> Result<Resumed> {
    // Stored bytes: a compressed segment is decoded first; one that does not decode is its
    // `segment.compression` finding alone, as the local verifier's resumption reports it.
    let decoded = scan::decode_segment(&file.name(), raw);
    if let Some(finding) = decoded.damage {
        return Ok(Resumed::Gone(finding));
    }
    let bytes: &[u8] = &decoded.bytes;
    let header = scan::scan(file, line_at(bytes, 0).unwrap_or_default(), opts).header;
    let line = line_at(bytes, cp.offset);
    let (from, line_end) = match anchor(file, header, line, cp)? {
        Ok(start) => start,
        Err(finding) => return Ok(Resumed::Gone(finding)),
    };
    let mut s = scan::scan_resumed(file, bytes, &from, opts);
    settle(&mut s, cp, line.unwrap_or_default(), line_end);
    Ok(Resumed::Scan(Box::new(s), line_end))
}

/// Where a resumption from receipt checkpoint `cp` starts in `file`, and where the verified line
/// ends: the checks both the local verifier and a segment resumed on its bytes alone make before
/// scanning on (docs/FORMAT.md section 9). Err: the segment is of another log than the receipt's.
/// Ok(Err): the verified line is gone (`receipt.truncated`) or is another record
/// (`receipt.mismatch`). `header`: the segment's; `line`: its line at `cp.offset`, if any.
pub(crate) fn anchor(
    file: &SegmentFile,
    header: Option<HeaderInfo>,
    line: Option<&[u8]>,
    cp: &Checkpoint,
) -> Result<std::result::Result<(ScanStart, u64), Finding>> {
    if let Some(h) = &header {
        if h.log_id != cp.log_id {
            return Err(WalError::InvalidArgument(format!(
                "the receipt is for log {}, this is log {}",
                cp.log_id, h.log_id
            )));
        }
    }
    let name = file.name();
    let Some(line) = line.filter(|line| line.ends_with(b"\n")) else {
        let msg = format!("verified seq {} at offset {} is gone: the log was cut back", cp.seq, cp.offset);
        return Ok(Err(Finding::new(Code::ReceiptTruncated, &name, cp.offset, Some(cp.seq), msg)));
    };
    let same =
        record::parse(line).is_ok_and(|env| env.seq == cp.seq) && hash::sha256(record::hashed_part(line)) == cp.hash;
    if !same {
        let msg = format!(
            "the record at verified seq {} differs from the one verified: history was rewritten or forked",
            cp.seq
        );
        return Ok(Err(Finding::new(Code::ReceiptMismatch, &name, cp.offset, Some(cp.seq), msg)));
    }
    let line_end = cp.offset + line.len() as u64;
    let from = ScanStart {
        offset: line_end,
        expect: Some((cp.seq + 1, cp.hash)),
        last_ts: Some(cp.timestamp),
        header,
        key: Some(cp.key.clone()),
        revoked: cp.revoked.clone(),
    };
    Ok(Ok((from, line_end)))
}

/// A scan resumed after `cp`'s verified `line` (ending at `line_end`), completed with what the
/// receipt vouches for: the records sealed since, and the checkpoint's seal and key when nothing
/// after it was sealed.
pub(crate) fn settle(s: &mut SegmentScan, cp: &Checkpoint, line: &[u8], line_end: u64) {
    s.sealed_records = s.sealed.map_or(0, |b| b.seq - cp.seq);
    if s.sealed.is_none() {
        s.sealed = Some(Boundary { seq: cp.seq, hash: cp.hash, timestamp: cp.timestamp });
        s.sealed_end = line_end;
        s.last_seal_offset = cp.offset;
        s.closes = crate::body::parse_line_body::<crate::body::SealBody>(line).is_ok_and(|seal| seal.closes);
    }
    if s.key_at_end.is_none() {
        s.key_at_end = Some(cp.key.clone());
    }
}

const SCANNED: u8 = 1;
const GONE: u8 = 2;

/// A resumed segment encoded: a summary (without its operations when they were split off) and
/// where the checkpoint's line ends, or the finding.
#[must_use]
pub fn encode(r: &Resumed) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    match r {
        Resumed::Scan(s, line_end) => {
            w.byte(SCANNED);
            w.uint(*line_end);
            w.0.extend_from_slice(&segment_summary::encode(s));
        }
        Resumed::Gone(f) => {
            w.byte(GONE);
            w.findings(std::slice::from_ref(f));
        }
    }
    w.0
}

#[must_use]
pub fn decode(bytes: &[u8]) -> Option<Resumed> {
    let mut r = Reader(bytes);
    match r.byte()? {
        SCANNED => {
            let line_end = r.uint()?;
            Some(Resumed::Scan(Box::new(segment_summary::decode(r.0)?), line_end))
        }
        GONE => {
            let mut findings = r.findings()?;
            (findings.len() == 1 && r.0.is_empty()).then(|| Resumed::Gone(findings.remove(0)))
        }
        _ => None,
    }
}
