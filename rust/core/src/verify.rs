//! Verifying a whole log: segments scanned in parallel (rayon, a window of segments at a time so
//! memory does not grow with the archive), then joined in order at their boundaries, the tail of
//! the last segment classified, and intents paired with completions.

use std::collections::HashMap;
use std::path::Path;

use crate::body;
use crate::checkpoint;
use crate::error::{IoContext, Result, WalError};
use crate::finding::{Code, Finding};
use crate::hash;
use crate::keys::PublicKey;
use crate::line_feed::{FileLines, LineFeed, SliceLines};
use crate::scan::{self, Boundary, ScanOptions, SegmentScan};
use crate::segment::{self, SegmentFile};
use crate::summary_resume;

pub use crate::log_report::{Checkpoint, LogReport, TailReport, VerifyOptions};
pub use crate::ops::OpState;
use crate::ops::{OpConflict, OpsTable};

pub(crate) struct Join {
    number: u64,
    name: String,
    boundary: Option<Boundary>,
    last_seal_offset: u64,
    closes: bool,
    key: Option<PublicKey>,
    /// Revoked key ids and the seq of the seal from which on they may sign nothing.
    pub(crate) revoked: HashMap<String, u64>,
    /// The segment ends in damage (already reported): its end cannot be linked to.
    damaged_end: bool,
}

pub fn verify(dir: &Path, opts: &VerifyOptions) -> Result<LogReport> {
    verify_with_progress(dir, opts, &|_, _| {})
}

/// `verify`, calling `progress(bytes_scanned, records_sealed)` after each window of segments.
pub fn verify_with_progress(
    dir: &Path,
    opts: &VerifyOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<LogReport> {
    if !dir.is_dir() {
        return Err(WalError::NotALog(dir.to_path_buf()));
    }
    let files = segment::list(dir)?;
    if files.is_empty() {
        return Err(WalError::NotALog(dir.to_path_buf()));
    }
    let scan_opts = ScanOptions {
        keyring: opts.keyring.as_ref(),
        check_bodies: opts.check_bodies,
        check_signatures: opts.check_signatures,
        collect_records: false,
    };
    let mut report = LogReport { keyring_used: opts.keyring.is_some(), ..LogReport::default() };
    let mut prev: Option<Join> = None;
    let mut rest: &[SegmentFile] = &files;
    if let Some(cp) = &opts.checkpoint {
        match resume_at(cp, &files, &scan_opts, &mut report)? {
            Some((index, scan)) => {
                prev = Some(Join::before(&scan.file, cp));
                report.ops.assume_pending(cp.pending.iter().copied());
                join(&mut report, &mut prev, scan, is_last(&files, index));
                rest = &files[index + 1..];
            }
            None => rest = &[],
        }
    }
    scan_and_join(rest, &scan_opts, opts.stop_after, &mut report, &mut prev, progress)?;
    if opts.checkpoint.is_none() && checkpoint::may_be_compacted(&files) {
        let first = report.first_link;
        checkpoint::settle(&mut report, first, &checkpoint::find_cuts(&files)?);
        // counted below
    }
    report.revoked = prev.map(|p| p.revoked.into_keys().collect()).unwrap_or_default();
    report.segments = files;
    report.pending = report.ops.pending_count() as u64;
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

/// Whether `files[i]` is the last segment joined (FORMAT.md 6.5): the first listed copy of the
/// highest number. A later copy of that number is a repeat (J1), never joined, so it is never the
/// last segment; the copy that is joined is, whether it sits in `DIR/` or in `archive/`.
pub(crate) fn is_last(files: &[SegmentFile], i: usize) -> bool {
    let highest = files.last().map_or(0, |f| f.number);
    files[i].number == highest && (i == 0 || files[i - 1].number != highest)
}

/// Scan `files` on the pool's threads while this thread joins them in order as they come: the
/// join (chain links, intent pairing) overlaps the scans instead of leaving a core idle between
/// windows of segments. At most two scans per thread are ahead of the join, so memory stays at a
/// few segments whatever the archive size. `stop_after` is judged every `window` segments, the
/// same points as when segments were scanned a window at a time.
fn scan_and_join(
    files: &[SegmentFile],
    opts: &ScanOptions,
    stop_after: Option<usize>,
    report: &mut LogReport,
    prev: &mut Option<Join>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<()> {
    // A scan that panics sends its panic, resumed here, so this thread never waits for it in vain.
    type Sent = (usize, std::thread::Result<Result<SegmentScan>>);
    let window = rayon::current_num_threads().max(1);
    let ahead = 2 * window;
    let (tx, rx) = std::sync::mpsc::channel::<Sent>();
    rayon::in_place_scope(|scope| {
        let spawn = |i: usize| {
            let (tx, f) = (tx.clone(), &files[i]);
            // The last segments are split, so a thread that runs out of segments helps finish them.
            let split = i + window >= files.len();
            scope.spawn(move |_| {
                let scanned =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scan::scan_file(f, opts, split)));
                let _ = tx.send((i, scanned)); // the receiver outlives the scope
            });
        };
        (0..files.len().min(ahead)).for_each(spawn);
        let mut done: HashMap<usize, std::thread::Result<Result<SegmentScan>>> = HashMap::new();
        for i in 0..files.len() {
            if i % window == 0 && stop_after.is_some_and(|n| settled(report, prev.as_ref()) >= n) {
                report.stopped = true;
                return Ok(());
            }
            let scanned = loop {
                if let Some(s) = done.remove(&i) {
                    break s;
                }
                let (j, s) = rx.recv().expect("every scan job sends its result");
                done.insert(j, s);
            };
            if i + ahead < files.len() {
                spawn(i + ahead);
            }
            let s = scanned.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            report.scanned_bytes += s.bytes;
            join(report, prev, s, is_last(files, i));
            if i == 0 {
                presize_ops(report, files);
            }
            if (i + 1) % window == 0 || i + 1 == files.len() {
                progress(report.scanned_bytes, report.records);
            }
        }
        Ok(())
    })
}

/// How many findings no later join can put anything before (FORMAT.md 6.7 order): a later join
/// reports only in its own segment, in a repeat of the last number joined (J1), or at the last
/// joined segment's last seal (J5); so a finding located in a segment of a lower number than the
/// last one joined (or in the log as a whole) is final, and so is its place in the order. Stopping
/// only once `stop_after` findings are final keeps `--fail-fast`'s finding the full run's first.
fn settled(report: &LogReport, joined: Option<&Join>) -> usize {
    let Some(last) = joined.map(|j| j.number) else { return 0 };
    // A finding a checkpoint may still anchor away is not final until the whole log is read.
    let anchorable = |i: &usize| report.unanchored.contains(i);
    let is_final = |f: &Finding| segment::parse_name(&f.segment).is_none_or(|(n, _)| n < last);
    report.findings.iter().enumerate().filter(|(i, f)| !anchorable(i) && is_final(f)).count()
}

/// Size the intent table once, after the first segment: that segment's share of intents times
/// the log's record count (the last segment's first seq, plus one more segment). On a large
/// archive the table would otherwise grow, rehashing everything, a dozen or more times.
pub(crate) fn presize_ops(report: &mut LogReport, files: &[SegmentFile]) {
    let (Some(last), records) = (files.last(), report.records.max(1)) else { return };
    let total = last.first_seq.saturating_add(records);
    let intents = usize::try_from(report.intents).unwrap_or(usize::MAX);
    let expected = u128::from(report.intents) * u128::from(total) / u128::from(records);
    let expected = usize::try_from(expected).unwrap_or(usize::MAX);
    // A file name is not evidence: a forged first seq must not size the table. No more than
    // twice the first segment's intents per segment.
    let bound = intents.saturating_mul(files.len()).saturating_mul(2);
    report.ops.reserve(expected.min(bound).saturating_sub(intents));
}

/// Check that the checkpoint's record is still there, byte for byte, and scan what follows it in
/// its segment. None when the checkpoint does not hold (the finding says why).
fn resume_at(
    cp: &Checkpoint,
    files: &[SegmentFile],
    opts: &ScanOptions,
    report: &mut LogReport,
) -> Result<Option<(usize, SegmentScan)>> {
    let Some(index) = files.iter().position(|f| f.number == cp.segment) else {
        let msg = format!("segment {} holding verified seq {} is gone: the log was cut back", cp.segment, cp.seq);
        report.findings.push(Finding::new(Code::ReceiptTruncated, "", 0, Some(cp.seq), msg));
        return Ok(None);
    };
    let file = &files[index];
    // Segments before the checkpoint are vouched for, not scanned; they still count as the log's.
    for earlier in &files[..index] {
        report.bytes += std::fs::metadata(&earlier.path).map_or(0, |m| m.len());
    }
    // Only the header line, the checkpoint's line and what follows it are read.
    let (f, path) = scan::open(&file.path, file.archived)?;
    // A compressed segment is read whole, decompressed; a plain one line by line from the file.
    let decoded = if segment::is_compressed_path(&path) {
        let (bytes, damage) = scan::load_readable(&path, true)?;
        if let Some(finding) = damage {
            report.findings.push(finding);
            return Ok(None);
        }
        Some(bytes)
    } else {
        None
    };
    let len = match &decoded {
        Some(bytes) => bytes.len() as u64,
        None => f.metadata().at(&path)?.len(),
    };
    let line_at = |at: u64| -> Result<Option<Vec<u8>>> {
        let line = match &decoded {
            Some(bytes) => SliceLines::new(bytes, scan::mem_index(at)).next_line().at(&path)?.map(|(_, l)| l.to_vec()),
            None => FileLines::new(&f, at, len).next_line().at(&path)?.map(|(_, l)| l.to_vec()),
        };
        Ok(line)
    };
    let header = scan::scan(file, &line_at(0)?.unwrap_or_default(), opts).header;
    let line = line_at(cp.offset)?;
    let (from, line_end) = match summary_resume::anchor(file, header, line.as_deref(), cp)? {
        Ok(start) => start,
        Err(finding) => {
            report.findings.push(finding);
            return Ok(None);
        }
    };
    let mut s = match &decoded {
        Some(bytes) => scan::scan_resumed(file, bytes, &from, opts),
        None => scan::scan_file_from(file, &f, len, &from, opts).at(&path)?,
    };
    // The segment as a whole is accounted for; only what follows the checkpoint was scanned.
    report.scanned_bytes += s.bytes - line_end;
    summary_resume::settle(&mut s, cp, line.as_deref().unwrap_or_default(), line_end);
    Ok(Some((index, s)))
}

impl Join {
    /// The state just before a segment resumed from a checkpoint: the scanner itself links the
    /// first record after the checkpoint, so there is no boundary to check here.
    pub(crate) fn before(file: &SegmentFile, cp: &Checkpoint) -> Join {
        let revoked = cp.revoked.iter().map(|k| (k.clone(), 0)).collect();
        Join {
            number: file.number - 1,
            name: String::new(),
            boundary: None,
            last_seal_offset: 0,
            closes: true,
            key: Some(cp.key.clone()),
            revoked,
            damaged_end: false,
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "the rules joining one segment to the one before, in the order docs/FORMAT.md states them"
)]
pub(crate) fn join(report: &mut LogReport, prev: &mut Option<Join>, mut s: SegmentScan, is_last: bool) {
    let name = s.name.clone();
    let at = |code, offset, seq, msg: String| Finding::new(code, &name, offset, seq, msg);
    report.bytes += s.bytes;
    // Segment numbering and the link to the previous segment.
    if prev.as_ref().is_some_and(|p| p.number == s.file.number) {
        // The archived twin was read; this copy is left out of the chain.
        let msg = format!("segment {} appears twice (live and archive)", s.file.number);
        report.findings.push(at(Code::ChainSegment, 0, None, msg));
        return;
    }
    report.records += s.sealed_records;
    report.keys_seen.append(&mut s.keys_seen);
    let mut findings = std::mem::take(&mut s.findings);
    // The first segment's numbering and start may be anchored by a checkpoint (checkpoint.rs).
    let base = report.findings.len();
    let mut unanchored = Vec::new();
    let expected_number = prev.as_ref().map_or(1, |p| p.number + 1);
    if s.file.number != expected_number {
        let msg = format!("expected segment {expected_number}, found {}: segments are missing", s.file.number);
        unanchored.extend(prev.is_none().then_some(base + findings.len()));
        findings.push(at(Code::ChainSegment, 0, s.first.map(|f| f.0), msg));
    }
    if prev.is_none() {
        report.first_link = checkpoint::first_link(&s);
    }
    let prev_end_sound = prev.as_ref().is_none_or(|p| !p.damaged_end);
    if let Some((first_seq, first_prev, first_ts)) = s.first.filter(|_| s.first_line_ok && prev_end_sound) {
        match prev.as_ref().and_then(|p| p.boundary.map(|b| (b, p))) {
            Some((b, p)) => {
                if first_seq != b.seq + 1 {
                    findings.push(at(
                        Code::ChainSeq,
                        0,
                        Some(first_seq),
                        format!("segment starts at seq {first_seq}, previous segment ends at {}", b.seq),
                    ));
                } else if first_prev != b.hash {
                    findings.push(at(
                        Code::ChainPrev,
                        0,
                        Some(first_seq),
                        "segment does not link to the end of the previous segment".into(),
                    ));
                }
                if first_ts < b.timestamp {
                    findings.push(at(
                        Code::TimeRegression,
                        0,
                        Some(first_seq),
                        "segment starts earlier than the previous one ends".into(),
                    ));
                }
                if !p.closes {
                    let f = Finding::new(
                        Code::SealMissing,
                        &p.name,
                        p.last_seal_offset,
                        Some(b.seq),
                        "segment does not end with a closing seal but the log continues",
                    );
                    findings.push(f);
                }
                if let (Some(h), Some(k)) = (&s.header, &p.key) {
                    if h.key.key_id != k.key_id {
                        findings.push(at(
                            Code::ChainSegment,
                            0,
                            Some(first_seq),
                            format!("header declares key {}, but the key in force is {}", h.key.key_id, k.key_id),
                        ));
                    }
                }
            }
            None if prev.is_none() && (first_seq != 1 || first_prev != hash::ZERO) => {
                unanchored.push(base + findings.len());
                findings.push(at(
                    Code::ChainPrev,
                    0,
                    Some(first_seq),
                    "the log does not start at seq 1 with the zero hash".into(),
                ));
            }
            None => {}
        }
    }
    if let Some(h) = &s.header {
        match &report.log_id {
            None => report.log_id = Some(h.log_id.clone()),
            Some(id) if *id != h.log_id => findings.push(at(
                Code::ChainSegment,
                0,
                s.first.map(|f| f.0),
                format!("segment belongs to log {}, not {id}", h.log_id),
            )),
            Some(_) => {}
        }
    }

    // The bytes after the last seal.
    let tail = std::mem::take(&mut s.tail);
    let damaged_end = !tail.findings.is_empty();
    if !tail.is_empty() {
        if is_last && tail.findings.is_empty() {
            let f = at(
                Code::TailUnsealed,
                tail.start,
                tail.first_seq,
                format!("{} record(s), {} bytes after the last seal were never sealed", tail.records, tail.len),
            );
            report.tail =
                Some(TailReport { finding: f.clone(), segment: s.file.clone(), offset: tail.start, len: tail.len });
            findings.push(f);
        } else if is_last && tail.only_torn_lines {
            let first_bad = tail.findings.first().map_or(tail.start, |f| f.offset);
            let f = at(
                Code::TailTorn,
                tail.start,
                tail.first_seq,
                format!("torn tail: {} bytes after the last seal (first bad line at offset {first_bad}); nothing valid follows", tail.len),
            );
            report.tail =
                Some(TailReport { finding: f.clone(), segment: s.file.clone(), offset: tail.start, len: tail.len });
            findings.push(f);
        } else if tail.findings.is_empty() {
            findings.push(at(
                Code::SealMissing,
                tail.start,
                tail.first_seq,
                format!("{} record(s) after the last seal of a segment that is not the last", tail.records),
            ));
        } else {
            findings.extend(tail.findings);
        }
    }
    if is_last {
        report.head_segment = Some(s.file.number);
        report.head_offset = s.last_seal_offset;
        report.last_closes = s.closes;
        report.last_header = s.header.clone();
        report.key_in_force = s.key_at_end.clone();
        if s.sealed.is_some() {
            report.head = s.sealed;
        }
    }

    // Intents and completions, paired in log order.
    for ev in &s.ops {
        let id = || Some(body::format_uuid(ev.wal_id));
        let found = if ev.completion {
            report.completions += 1;
            report.ops.complete(ev.wal_id)
        } else {
            report.intents += 1;
            report.ops.intent(ev.wal_id)
        };
        let problem = match found {
            Ok(()) => continue,
            Err(OpConflict::DuplicateIntent) => (Code::IntentDuplicate, "wal_id already used by an earlier intent"),
            Err(OpConflict::UnknownIntent) => {
                (Code::CompletionOrphan, "completion of an intent not earlier in the log")
            }
            Err(OpConflict::AlreadyCompleted) => (Code::CompletionDuplicate, "second completion of the same intent"),
        };
        findings.push(at(problem.0, ev.offset, Some(ev.seq), problem.1.into()).with_wal_id(id()));
    }
    // Keys revoked in earlier segments may sign nothing here either.
    let mut revoked = prev.as_mut().map(|p| std::mem::take(&mut p.revoked)).unwrap_or_default();
    let mut reported = std::collections::HashSet::new();
    for (seq, offset, key_id) in &s.seal_keys {
        if revoked.get(key_id).is_some_and(|from| seq > from) && reported.insert(key_id.clone()) {
            findings.push(at(
                Code::SealUntrustedKey,
                *offset,
                Some(*seq),
                format!("seal signed by revoked key {key_id}"),
            ));
        }
    }
    revoked.extend(s.revocations.drain(..));
    report.findings.extend(findings);
    report.unanchored.extend(unanchored);
    *prev = Some(Join {
        number: s.file.number,
        name: s.name.clone(),
        boundary: s.sealed.or(prev.as_ref().and_then(|p| p.boundary)),
        last_seal_offset: s.last_seal_offset,
        closes: s.closes,
        key: s.key_at_end.clone(),
        revoked,
        damaged_end,
    });
}
