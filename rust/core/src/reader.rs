//! Reading sealed records, segment by segment, for iteration and replay. Every record returned
//! has had its own hash and its chain link checked; anything after the last seal is never
//! returned. Signatures are the verifier's job.

use std::path::Path;

use crate::error::{Result, WalError};
use crate::record::Kind;
use crate::scan::{self, ScanOptions};
use crate::segment::{self, SegmentFile};

/// One sealed record: where it is and its exact bytes (the line, with its `\n`).
pub struct RawRecord {
    pub seq: u64,
    pub kind: Kind,
    pub offset: u64,
    pub hash: [u8; 32],
    pub line: Vec<u8>,
}

pub fn segments(dir: &Path) -> Result<Vec<SegmentFile>> {
    if !dir.is_dir() {
        return Err(WalError::NotALog(dir.to_path_buf()));
    }
    let files = segment::list(dir)?;
    if files.is_empty() {
        return Err(WalError::NotALog(dir.to_path_buf()));
    }
    Ok(files)
}

/// The sealed records of one segment with seq in `[from_seq, to_seq]`. Damage inside the sealed
/// part of the segment is an error; an unsealed tail is silently not part of the log yet.
pub fn read_segment(file: &SegmentFile, from_seq: u64, to_seq: u64) -> Result<Vec<RawRecord>> {
    read_segment_from(file, 0, from_seq, to_seq).map(|(records, _)| records)
}

/// `read_segment` starting at byte `offset` (the end of a seal, as returned before), for
/// followers. Also returns the offset just past the last seal read.
pub fn read_segment_from(file: &SegmentFile, offset: u64, from_seq: u64, to_seq: u64) -> Result<(Vec<RawRecord>, u64)> {
    let bytes = scan::load(&file.path, file.archived)?;
    read_loaded(file, &bytes, offset, from_seq, to_seq)
}

/// `read_segment_from` on a segment's bytes already in memory (read from object storage).
pub fn read_loaded(
    file: &SegmentFile,
    bytes: &[u8],
    offset: u64,
    from_seq: u64,
    to_seq: u64,
) -> Result<(Vec<RawRecord>, u64)> {
    // Signatures are the verifier's job (their findings are not damage to a reader, below), so a
    // reader does not spend an Ed25519 check on every seal it passes.
    let opts = ScanOptions { keyring: None, check_bodies: false, check_signatures: false, collect_records: true };
    let s = scan::scan_from(file, bytes, scan::mem_index(offset), &opts);
    let resumed = offset > 0;
    let damage = s.findings.into_iter().find(|f| match f.code {
        // A resumed scan has no header, hence no key.
        crate::Code::SealSignature | crate::Code::SealUntrustedKey => false,
        _ => !resumed || f.offset >= offset,
    });
    if let Some(f) = damage {
        return Err(WalError::Corruption(Box::new(f)));
    }
    let sealed_end = s.sealed_end;
    let records = s
        .records
        .into_iter()
        .filter(|r| r.seq >= from_seq && r.seq <= to_seq)
        .map(|r| RawRecord {
            seq: r.seq,
            kind: r.kind,
            offset: r.offset,
            hash: r.hash,
            line: bytes[scan::mem_index(r.offset)..scan::mem_index(r.offset + r.len)].to_vec(),
        })
        .collect();
    Ok((records, sealed_end))
}
