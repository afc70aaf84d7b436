//! Joining segments verified elsewhere: the summaries of every segment of a log, in log order,
//! joined by the same rules (`verify::join`) the local verifier applies as its own scans come in:
//! links between segments, seq continuity, keys in force across rotations, the last segment's
//! tail, intents paired with completions. Same summaries in, same report out, wherever the
//! segments were scanned.

use crate::error::{Result, WalError};
use crate::log_report::{LogReport, VerifyOptions};
use crate::op_pairing::Paired;
use crate::ops::OpsTable;
use crate::scan::SegmentScan;
use crate::segment::SegmentFile;
use crate::verify::{is_last, join, presize_ops, Join};

/// Join `scans` (one per entry of `files`, in the same order: a listing as `segment::list`
/// orders it). `opts.checkpoint` is not supported here (every segment is scanned whole).
/// `paired`: the intents and completions already paired by partition (`op_pairing`), the scans'
/// own events split off; None pairs the scans' events here.
pub fn join_scans(
    files: Vec<SegmentFile>,
    scans: Vec<SegmentScan>,
    opts: &VerifyOptions,
    paired: Option<Paired>,
) -> Result<LogReport> {
    if files.is_empty() {
        return Err(WalError::InvalidArgument("no segments to join".to_owned()));
    }
    if opts.checkpoint.is_some() {
        return Err(WalError::InvalidArgument("a joined verification does not resume from a receipt".to_owned()));
    }
    if paired.is_some() && (opts.keep_ops || scans.iter().any(|s| !s.ops.is_empty())) {
        return Err(WalError::InvalidArgument("operations paired by partition are joined without their events".into()));
    }
    if scans.len() != files.len() {
        return Err(WalError::InvalidArgument(format!("{} segments listed, {} summaries", files.len(), scans.len())));
    }
    let mut report = LogReport { keyring_used: opts.keyring.is_some(), ..LogReport::default() };
    let mut prev: Option<Join> = None;
    for (i, (file, scan)) in files.iter().zip(scans).enumerate() {
        if scan.file.number != file.number || scan.file.first_seq != file.first_seq {
            return Err(WalError::InvalidArgument(format!(
                "summary {i} is of segment {}, the listing has {} there",
                scan.name,
                file.name()
            )));
        }
        report.scanned_bytes += scan.bytes;
        join(&mut report, &mut prev, scan, is_last(&files, i));
        if i == 0 {
            presize_ops(&mut report, &files);
        }
    }
    // As `verify_with_progress` finishes its report.
    report.revoked = prev.map(|p| p.revoked.into_keys().collect()).unwrap_or_default();
    report.segments = files;
    report.pending = report.ops.pending_count() as u64;
    if let Some(p) = paired {
        // Each operation's finding is the last on its line (see op_pairing): appended here, the
        // stable sort below puts it where the verifier's join does.
        report.intents += p.intents;
        report.completions += p.completions;
        report.pending = p.pending;
        report.findings.extend(p.findings);
    }
    if !opts.keep_ops {
        report.ops = OpsTable::default();
    }
    report.findings.sort_by(|a, b| (a.segment.as_str(), a.offset).cmp(&(b.segment.as_str(), b.offset)));
    if let Some(n) = opts.stop_after.filter(|n| report.findings.len() > *n) {
        report.findings.truncate(n);
        report.stopped = true;
    }
    Ok(report)
}
