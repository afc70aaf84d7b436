//! Salvage: copy every verifiable record before the first damage into a new log, leaving the
//! damaged log untouched. Whole segments before the damage are copied byte for byte; the damaged
//! segment is copied up to the end of its last valid seal before the damage. The copy is itself a
//! valid log (its last segment may end with a closing seal, which the next writer completes).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result, WalError};
use crate::finding::Finding;
use crate::fsutil::Fs;
use crate::scan::{self, ScanOptions};
use crate::segment::{self, SegmentFile};
use crate::verify::{self, VerifyOptions};

#[derive(Debug, Clone)]
pub struct Salvaged {
    pub destination: PathBuf,
    /// The damage that stopped the copy; None when the whole log was copied.
    pub stopped_at: Option<Finding>,
    pub segments: u64,
    pub bytes: u64,
    /// Last seq copied (always a seal).
    pub last_seq: Option<u64>,
}

/// Offset just past the last seal that ends at or before `limit` in `file`, and its seq.
fn last_seal_before(file: &SegmentFile, limit: u64) -> Result<Option<(u64, u64)>> {
    let (bytes, _) = scan::load_readable(&file.path, file.archived)?;
    let opts = ScanOptions { keyring: None, check_bodies: false, check_signatures: true, collect_records: true };
    let s = scan::scan(file, &bytes[..scan::mem_index(limit).min(bytes.len())], &opts);
    Ok(s.sealed.map(|b| (s.sealed_end, b.seq)).filter(|_| s.findings.is_empty()))
}

pub fn salvage(src: &Path, dst: &Path) -> Result<Salvaged> {
    if !segment::list(dst).unwrap_or_default().is_empty() {
        return Err(WalError::Exists(dst.to_path_buf()));
    }
    let report = verify::verify(src, &VerifyOptions { keep_ops: false, ..VerifyOptions::default() })?;
    let stop =
        report.findings.iter().find(|f| !f.code.is_recoverable()).or(report.tail.as_ref().map(|t| &t.finding)).cloned();
    let fs = Fs::default();
    fs.create_dir_durable(dst)?;
    fs.create_dir_durable(&dst.join(segment::ARCHIVE))?;
    let mut plan: Vec<(SegmentFile, u64)> = Vec::new();
    let mut last_seq = None;
    for file in &report.segments {
        // A compressed segment's length is its decompressed length.
        let len = if file.is_compressed() {
            scan::load_readable(&file.path, file.archived)?.0.len() as u64
        } else {
            fs::metadata(&file.path).at(&file.path)?.len()
        };
        match &stop {
            Some(f) if f.segment == file.name() => {
                if let Some((end, seq)) = last_seal_before(file, f.offset)? {
                    plan.push((file.clone(), end));
                    last_seq = Some(seq);
                }
                break;
            }
            _ => {
                plan.push((file.clone(), len));
                last_seq = last_seal_before(file, len)?.map(|(_, seq)| seq).or(last_seq);
            }
        }
    }
    if plan.is_empty() {
        return Err(WalError::InvalidArgument(format!("{}: nothing before the damage can be salvaged", src.display())));
    }
    let mut bytes = 0;
    let last = plan.len() - 1;
    for (i, (file, len)) in plan.iter().enumerate() {
        let (data, _) = scan::load_readable(&file.path, file.archived)?;
        if (data.len() as u64) < *len {
            // Cut shorter since it was verified (the log is not ours to control): copy nothing
            // that was not verified.
            let why = format!("segment is {} bytes, {len} when verified: it changed while being salvaged", data.len());
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, why)).at(&file.path);
        }
        // Written plain: the salvaged copy is a fresh log whose writer applies its own setting.
        let name = segment::name(file.number, file.first_seq);
        let target = if i == last { dst.join(&name) } else { dst.join(segment::ARCHIVE).join(&name) };
        fs.write_atomic(&target, &data[..scan::mem_index(*len)], true)?;
        bytes += len;
    }
    Ok(Salvaged { destination: dst.to_path_buf(), stopped_at: stop, segments: plan.len() as u64, bytes, last_seq })
}
