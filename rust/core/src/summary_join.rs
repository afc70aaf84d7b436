//! Joining segments verified elsewhere: the summaries of every segment of a log, in log order,
//! joined by the same rules (`verify::join`) the local verifier applies as its own scans come in:
//! links between segments, seq continuity, keys in force across rotations, the last segment's
//! tail, intents paired with completions. Same summaries in, same report out, wherever the
//! segments were scanned. An incremental run starts from a receipt's checkpoint instead
//! (`summary_resume`), as the local verifier's does.

use crate::checkpoint::Cut;
use crate::error::{Result, WalError};
use crate::log_report::{Checkpoint, LogReport, VerifyOptions};
use crate::op_pairing::Paired;
use crate::ops::OpsTable;
use crate::scan::SegmentScan;
use crate::segment::SegmentFile;
use crate::summary_resume::Resumed;
use crate::verify::{is_last, join, presize_ops, Join};

/// Where an incremental run starts: the checkpoint, the listing's index of its segment (None: the
/// segment is gone), that segment resumed, and the size of the segments before it (vouched for by
/// the receipt, not scanned).
pub struct Start<'a> {
    pub checkpoint: &'a Checkpoint,
    pub index: Option<usize>,
    pub resumed: Option<Resumed>,
    pub vouched_bytes: u64,
}

/// Join `scans` (one per entry of `files`, in the same order: a listing as `segment::list`
/// orders it). `paired`: the intents and completions already paired by partition
/// (`op_pairing`), the scans' own events split off; None pairs the scans' events here.
pub fn join_scans(
    files: Vec<SegmentFile>,
    scans: Vec<SegmentScan>,
    opts: &VerifyOptions,
    paired: Option<Paired>,
) -> Result<LogReport> {
    join_from(files, None, scans, opts, paired)
}

/// `join_scans` of segments this process cannot open (object storage): `cuts` are the checkpoint
/// boundaries found in their bytes where they were read (`checkpoint::checkpoints_in`, in log
/// order, repeats skipped), given in place of those `checkpoint::find_cuts` reads from files.
pub fn join_scans_with_cuts(
    files: Vec<SegmentFile>,
    scans: Vec<SegmentScan>,
    opts: &VerifyOptions,
    paired: Option<Paired>,
    cuts: &[Cut],
) -> Result<LogReport> {
    join_all(files, None, scans, opts, paired, Some(cuts))
}

/// `join_scans` of an incremental run: `scans` are those of the segments after the checkpoint's
/// (none when its segment is gone).
#[allow(clippy::needless_pass_by_value, reason = "the start is consumed: its resumed scan is joined")]
pub fn join_from(
    files: Vec<SegmentFile>,
    start: Option<Start<'_>>,
    scans: Vec<SegmentScan>,
    opts: &VerifyOptions,
    paired: Option<Paired>,
) -> Result<LogReport> {
    join_all(files, start, scans, opts, paired, None)
}

#[allow(clippy::needless_pass_by_value, reason = "the start is consumed: its resumed scan is joined")]
fn join_all(
    files: Vec<SegmentFile>,
    start: Option<Start<'_>>,
    mut scans: Vec<SegmentScan>,
    opts: &VerifyOptions,
    mut paired: Option<Paired>,
    cuts: Option<&[Cut]>,
) -> Result<LogReport> {
    if files.is_empty() {
        return Err(WalError::InvalidArgument("no segments to join".to_owned()));
    }
    if paired.is_some() && scans.iter().any(|s| !s.ops.is_empty()) {
        return Err(WalError::InvalidArgument("operations paired by partition are joined without their events".into()));
    }
    let mut report = LogReport { keyring_used: opts.keyring.is_some(), ..LogReport::default() };
    let mut prev: Option<Join> = None;
    let mut first = 0;
    let incremental = start.is_some();
    if let Some(start) = start {
        report.bytes += start.vouched_bytes;
        match (start.index, start.resumed) {
            (Some(index), Some(Resumed::Scan(s, line_end))) => {
                let file = &files[index];
                if s.file.number != file.number {
                    return Err(WalError::InvalidArgument(format!("the resumed summary is not of {}", file.name())));
                }
                prev = Some(Join::before(file, start.checkpoint));
                report.ops.assume_pending(start.checkpoint.pending.iter().copied());
                report.scanned_bytes += s.bytes - line_end;
                join(&mut report, &mut prev, *s, is_last(&files, index));
                first = index + 1;
            }
            (_, Some(Resumed::Gone(f))) => {
                report.findings.push(f);
                first = files.len();
                // Nothing after a checkpoint that does not hold is joined (nor scanned, locally).
                paired = None;
                scans.clear();
            }
            (None, None) => {
                let cp = start.checkpoint;
                let msg =
                    format!("segment {} holding verified seq {} is gone: the log was cut back", cp.segment, cp.seq);
                report.findings.push(crate::Finding::new(crate::Code::ReceiptTruncated, "", 0, Some(cp.seq), msg));
                first = files.len();
                paired = None;
                scans.clear();
            }
            (Some(_), None) | (None, Some(Resumed::Scan(..))) => {
                return Err(WalError::InvalidArgument("the checkpoint's segment and its resumed scan disagree".into()));
            }
        }
    }
    if scans.len() != files.len() - first {
        return Err(WalError::InvalidArgument(format!(
            "{} segments to join, {} summaries",
            files.len() - first,
            scans.len()
        )));
    }
    for (i, scan) in (first..).zip(scans) {
        let file = &files[i];
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
        report.ops = OpsTable::default();
        report.ops.assume_pending(p.pending_ids);
    }
    if !incremental && crate::checkpoint::may_be_compacted(&report.segments) {
        // A compacted log, anchored by its checkpoint (FORMAT.md 6.10) as the local verifier does.
        // The cuts are read where the segments are readable from here; a segment that is not
        // contributes none, so such a log is reported unanchored (missing segments), never accepted.
        let read_here;
        let cuts = if let Some(given) = cuts {
            given
        } else {
            read_here = crate::checkpoint::find_cuts(&report.segments).unwrap_or_default();
            &read_here
        };
        let first_link = report.first_link;
        report.pending += crate::checkpoint::settle(&mut report, first_link, cuts);
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
