//! Verifying a whole log: segments scanned in parallel (rayon, a window of segments at a time so
//! memory does not grow with the archive), then joined in order at their boundaries, the tail of
//! the last segment classified, and intents paired with completions.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use rayon::prelude::*;

use crate::body;
use crate::error::{Result, WalError};
use crate::finding::{Code, Finding};
use crate::hash;
use crate::keys::PublicKey;
use crate::scan::{self, Boundary, HeaderInfo, Keyring, ScanOptions, SegmentScan};
use crate::segment::{self, SegmentFile};

pub struct VerifyOptions {
    pub keyring: Option<Keyring>,
    pub check_bodies: bool,
    /// Keep the intent/completion table in the report (the writer needs it to refuse duplicate
    /// ids and orphan completions).
    pub keep_ops: bool,
}

/// State of one intent in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    Pending,
    Completed,
}

/// A recoverable tail of the last segment.
#[derive(Debug, Clone)]
pub struct TailReport {
    pub finding: Finding,
    pub segment: SegmentFile,
    pub offset: u64,
    pub len: u64,
}

#[derive(Default)]
pub struct LogReport {
    pub findings: Vec<Finding>,
    pub segments: Vec<SegmentFile>,
    pub records: u64,
    pub bytes: u64,
    pub head: Option<Boundary>,
    pub log_id: Option<String>,
    pub last_header: Option<HeaderInfo>,
    pub key_in_force: Option<PublicKey>,
    pub keys_seen: BTreeSet<String>,
    pub keyring_used: bool,
    /// The last segment ends with a closing seal (a rotation was cut short).
    pub last_closes: bool,
    pub last_sealed_end: u64,
    pub tail: Option<TailReport>,
    pub intents: u64,
    pub completions: u64,
    pub pending: u64,
    pub ops: HashMap<u128, OpState>,
}

impl LogReport {
    /// Valid = no finding at all; a recoverable tail is still a finding.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// The first finding that is not a recoverable tail.
    pub fn first_damage(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| !f.code.is_recoverable())
    }
}

struct Join {
    number: u64,
    name: String,
    boundary: Option<Boundary>,
    last_seal_offset: u64,
    closes: bool,
    key: Option<PublicKey>,
    /// Revoked key ids and the seq of the seal from which on they may sign nothing.
    revoked: HashMap<String, u64>,
}

pub fn verify(dir: &Path, opts: &VerifyOptions) -> Result<LogReport> {
    if !dir.is_dir() {
        return Err(WalError::NotALog(dir.to_path_buf()));
    }
    let files = segment::list(dir)?;
    if files.is_empty() {
        return Err(WalError::NotALog(dir.to_path_buf()));
    }
    let scan_opts = ScanOptions { keyring: opts.keyring.as_ref(), check_bodies: opts.check_bodies, collect_records: false };
    let mut report = LogReport { keyring_used: opts.keyring.is_some(), ..LogReport::default() };
    let mut prev: Option<Join> = None;
    let window = rayon::current_num_threads().max(1) * 2;
    let last_index = files.len() - 1;
    for (chunk_no, chunk) in files.chunks(window).enumerate() {
        let scans: Vec<Result<SegmentScan>> = chunk
            .par_iter()
            .map(|f| {
                let bytes = scan::load(&f.path, f.archived)?;
                Ok(scan::scan(f, &bytes, &scan_opts))
            })
            .collect();
        for (i, scanned) in scans.into_iter().enumerate() {
            let s = scanned?;
            let is_last = chunk_no * window + i == last_index;
            join(&mut report, &mut prev, s, is_last);
        }
    }
    report.segments = files;
    report.pending = report.ops.values().filter(|s| **s == OpState::Pending).count() as u64;
    if !opts.keep_ops {
        report.ops = HashMap::new();
    }
    report.findings.sort_by(|a, b| (a.segment.as_str(), a.offset).cmp(&(b.segment.as_str(), b.offset)));
    Ok(report)
}

fn join(report: &mut LogReport, prev: &mut Option<Join>, mut s: SegmentScan, is_last: bool) {
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
    let expected_number = prev.as_ref().map_or(1, |p| p.number + 1);
    if s.file.number != expected_number {
        let msg = format!("expected segment {expected_number}, found {}: segments are missing", s.file.number);
        findings.push(at(Code::ChainSegment, 0, s.first.map(|f| f.0), msg));
    }
    if let Some((first_seq, first_prev, first_ts)) = s.first {
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
                    findings.push(at(Code::TimeRegression, 0, Some(first_seq), "segment starts earlier than the previous one ends".into()));
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
                findings.push(at(Code::ChainPrev, 0, Some(first_seq), "the log does not start at seq 1 with the zero hash".into()));
            }
            None => {}
        }
    }
    if let Some(h) = &s.header {
        match &report.log_id {
            None => report.log_id = Some(h.log_id.clone()),
            Some(id) if *id != h.log_id => {
                findings.push(at(Code::ChainSegment, 0, s.first.map(|f| f.0), format!("segment belongs to log {}, not {id}", h.log_id)))
            }
            Some(_) => {}
        }
    }

    // The bytes after the last seal.
    let tail = std::mem::take(&mut s.tail);
    if !tail.is_empty() {
        if is_last && tail.findings.is_empty() {
            let f = at(
                Code::TailUnsealed,
                tail.start,
                tail.first_seq,
                format!("{} record(s), {} bytes after the last seal were never sealed", tail.records, tail.len),
            );
            report.tail = Some(TailReport { finding: f.clone(), segment: s.file.clone(), offset: tail.start, len: tail.len });
            findings.push(f);
        } else if is_last && tail.only_torn_lines {
            let first_bad = tail.findings.first().map_or(tail.start, |f| f.offset);
            let f = at(
                Code::TailTorn,
                tail.start,
                tail.first_seq,
                format!("torn tail: {} bytes after the last seal (first bad line at offset {first_bad}); nothing valid follows", tail.len),
            );
            report.tail = Some(TailReport { finding: f.clone(), segment: s.file.clone(), offset: tail.start, len: tail.len });
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
        report.last_closes = s.closes;
        report.last_sealed_end = s.sealed_end;
        report.last_header = s.header.clone();
        report.key_in_force = s.key_at_end.clone();
        if s.sealed.is_some() {
            report.head = s.sealed;
        }
    }

    // Intents and completions, paired in log order.
    for ev in &s.ops {
        let id = Some(body::format_uuid(ev.wal_id));
        if ev.completion {
            report.completions += 1;
            match report.ops.get_mut(&ev.wal_id) {
                None => findings.push(
                    at(Code::CompletionOrphan, ev.offset, Some(ev.seq), "completion of an intent not earlier in the log".into())
                        .with_wal_id(id),
                ),
                Some(state @ OpState::Pending) => *state = OpState::Completed,
                Some(OpState::Completed) => findings.push(
                    at(Code::CompletionDuplicate, ev.offset, Some(ev.seq), "second completion of the same intent".into()).with_wal_id(id),
                ),
            }
        } else {
            report.intents += 1;
            if report.ops.insert(ev.wal_id, OpState::Pending).is_some() {
                findings.push(
                    at(Code::IntentDuplicate, ev.offset, Some(ev.seq), "wal_id already used by an earlier intent".into()).with_wal_id(id),
                );
            }
        }
    }
    // Keys revoked in earlier segments may sign nothing here either.
    let mut revoked = prev.as_mut().map(|p| std::mem::take(&mut p.revoked)).unwrap_or_default();
    let mut reported = std::collections::HashSet::new();
    for (seq, offset, key_id) in &s.seal_keys {
        if revoked.get(key_id).is_some_and(|from| seq > from) && reported.insert(key_id.clone()) {
            findings.push(at(Code::SealUntrustedKey, *offset, Some(*seq), format!("seal signed by revoked key {key_id}")));
        }
    }
    revoked.extend(s.revocations.drain(..));
    report.findings.extend(findings);
    *prev = Some(Join {
        number: s.file.number,
        name: s.name.clone(),
        boundary: s.sealed.or(prev.as_ref().and_then(|p| p.boundary)),
        last_seal_offset: s.last_seal_offset,
        closes: s.closes,
        key: s.key_at_end.clone(),
        revoked,
    });
}
