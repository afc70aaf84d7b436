//! A log verified as "each segment alone, summarized, encoded, decoded, then joined" must give
//! exactly the local verifier's report: on every valid and invalid vector and on randomly
//! damaged logs.

mod common;

use std::path::Path;

use common::*;
use kfm_wal_core::scan::ScanOptions;
use kfm_wal_core::segment::{self, SegmentFile};
use kfm_wal_core::verify::{verify, Checkpoint, LogReport, VerifyOptions};
use kfm_wal_core::{op_pairing, segment_summary, summary_join, summary_resume, Durability, Writer, WriterOptions};

/// Everything a report says, spelled out (`LogReport` has no Eq of its own).
fn spelled(r: &LogReport) -> String {
    format!(
        "{:?}\n{:?} {} {} {} {} {} {} {:?} {:?} {:?} {:?} {:?} {} {:?} {}",
        r.findings,
        r.segments,
        r.records,
        r.bytes,
        r.scanned_bytes,
        r.intents,
        r.completions,
        r.pending,
        r.head,
        r.log_id,
        r.key_in_force.as_ref().map(|k| &k.key_id),
        r.keys_seen,
        r.head_segment,
        r.head_offset,
        r.revoked,
        r.last_closes
    )
}

fn joined(dir: &Path) -> LogReport {
    let files = segment::list(dir).unwrap();
    let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };
    let summaries: Vec<Vec<u8>> = files
        .iter()
        .map(|f: &SegmentFile| {
            let bytes = std::fs::read(&f.path).unwrap();
            segment_summary::encode(&segment_summary::scan_alone(f, &bytes, &opts))
        })
        .collect();
    let scans = summaries.iter().map(|s| segment_summary::decode(s).expect("a summary decodes")).collect();
    summary_join::join_scans(files, scans, &VerifyOptions::default(), None).unwrap()
}

/// Joined with the operations paired in `parts` partitions, as on a cluster.
fn joined_in_partitions(dir: &Path, parts: usize) -> LogReport {
    let files = segment::list(dir).unwrap();
    let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };
    let split: Vec<(Vec<u8>, Vec<Vec<u8>>)> = files
        .iter()
        .map(|f| {
            segment_summary::encode_split(
                segment_summary::scan_alone(f, &std::fs::read(&f.path).unwrap(), &opts),
                parts,
            )
        })
        .collect();
    // A segment listed twice is left out of the chain, so its operations are not paired either.
    let kept: Vec<usize> = (0..files.len()).filter(|&i| i == 0 || files[i].number != files[i - 1].number).collect();
    let names: Vec<String> = files.iter().map(SegmentFile::name).collect();
    let partitions = (0..parts)
        .map(|p| op_pairing::pair(kept.iter().map(|&i| (names[i].as_str(), split[i].1[p].as_slice())), &[]).unwrap())
        .map(|paired| op_pairing::decode(&op_pairing::encode(&paired)).unwrap())
        .collect();
    let scans = split.iter().map(|(s, _)| segment_summary::decode(s).unwrap()).collect();
    summary_join::join_scans(files, scans, &VerifyOptions::default(), Some(op_pairing::merge(partitions))).unwrap()
}

/// Joined as for segments read elsewhere (object storage): no segment is readable by path (each
/// is named only), and the checkpoints are found in each segment's bytes where it was read.
fn joined_from_bytes(dir: &Path) -> LogReport {
    let files = segment::list(dir).unwrap();
    let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };
    let mut cuts = Vec::new();
    let mut scans = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let raw = std::fs::read(&f.path).unwrap();
        let named = SegmentFile { path: f.path.file_name().unwrap().into(), ..f.clone() };
        if i == 0 || f.number != files[i - 1].number {
            let decoded = kfm_wal_core::segment_bytes::decode_segment(&f.name(), &raw);
            if decoded.damage.is_none() {
                cuts.extend(kfm_wal_core::checkpoint::checkpoints_in(&decoded.bytes).into_iter().flatten());
            }
        }
        let summary = segment_summary::encode(&segment_summary::scan_alone(&named, &raw, &opts));
        scans.push(segment_summary::decode(&summary).unwrap());
    }
    let named = scans.iter().map(|s| s.file.clone()).collect();
    summary_join::join_scans_with_cuts(named, scans, &VerifyOptions::default(), None, &cuts).unwrap()
}

fn same(dir: &Path) {
    let local = spelled(&verify(dir, &VerifyOptions::default()).unwrap());
    assert_eq!(spelled(&joined(dir)), local, "{}", dir.display());
    let from_bytes = spelled(&joined_from_bytes(dir));
    // Segments are named, not located, in that report's listing: compared by name.
    let located = |text: &str| text.replace(&format!("{}/", dir.display()), "").replace("archive/", "");
    assert_eq!(located(&from_bytes), located(&local), "{} from bytes", dir.display());
    for parts in [1, 3] {
        assert_eq!(spelled(&joined_in_partitions(dir, parts)), local, "{} in {parts} partitions", dir.display());
    }
}

fn vector_dirs(kind: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/vectors").join(kind);
    let mut dirs: Vec<_> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[test]
fn every_vector_joins_to_the_local_report() {
    let dirs: Vec<_> = vector_dirs("valid").into_iter().chain(vector_dirs("invalid")).collect();
    assert!(dirs.len() > 40, "the vectors are there");
    for dir in dirs {
        if segment::list(&dir).is_ok_and(|l| !l.is_empty()) {
            same(&dir);
        }
    }
}

#[test]
fn damaged_logs_join_to_the_local_report() {
    let mut rng = fastrand::Rng::with_seed(16);
    for round in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriterOptions { durability: Durability::None, ..small_segments() };
        let w = Writer::create(dir.path(), key(1), opts).unwrap();
        for batch in 0..8 {
            append(&w, batch * 7, 7);
        }
        drop(w);
        let files = segment::list(dir.path()).unwrap();
        assert!(files.len() > 2, "several segments");
        for _ in 0..=round % 3 {
            let f = &files[rng.usize(..files.len())];
            let mut bytes = std::fs::read(&f.path).unwrap();
            match rng.u8(..3) {
                0 => {
                    let at = rng.usize(..bytes.len());
                    bytes[at] ^= 1 << rng.u8(..8);
                }
                1 => bytes.truncate(rng.usize(..bytes.len())),
                _ => {
                    let at = rng.usize(..bytes.len());
                    bytes.drain(at..(at + 40).min(bytes.len()));
                }
            }
            std::fs::write(&f.path, bytes).unwrap();
        }
        same(dir.path());
    }
}

#[test]
fn a_damaged_summary_is_refused_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let w =
        Writer::create(dir.path(), key(2), WriterOptions { durability: Durability::None, ..WriterOptions::default() })
            .unwrap();
    append(&w, 0, 5);
    drop(w);
    let f = segment::list(dir.path()).unwrap().remove(0);
    let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };
    let encoded = segment_summary::encode(&segment_summary::scan_alone(&f, &std::fs::read(&f.path).unwrap(), &opts));
    assert!(segment_summary::decode(&encoded).is_some());
    for cut in [0, 1, encoded.len() / 2, encoded.len() - 1] {
        assert!(segment_summary::decode(&encoded[..cut]).is_none(), "cut at {cut}");
    }
    let mut longer = encoded.clone();
    longer.push(0);
    assert!(segment_summary::decode(&longer).is_none());
}

/// A checkpoint at the head of the log in `dir`, as a verification receipt records it.
fn checkpoint_of(dir: &Path) -> Checkpoint {
    let r = verify(dir, &VerifyOptions { keep_ops: true, ..VerifyOptions::default() }).unwrap();
    assert!(r.ok(), "{:?}", r.findings);
    let head = r.head.unwrap();
    Checkpoint {
        log_id: r.log_id.clone().unwrap(),
        seq: head.seq,
        hash: head.hash,
        segment: r.head_segment.unwrap(),
        offset: r.head_offset,
        timestamp: head.timestamp,
        key: r.key_in_force.clone().unwrap(),
        revoked: r.revoked.clone(),
        pending: r.ops.pending().collect(),
    }
}

/// An incremental run joined from summaries: the checkpoint's segment resumed alone, the later
/// ones scanned alone, the operations paired in `parts` partitions.
fn joined_from(dir: &Path, cp: &Checkpoint, parts: usize) -> LogReport {
    let files = segment::list(dir).unwrap();
    let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };
    let index = files.iter().position(|f| f.number == cp.segment);
    let vouched = files[..index.unwrap_or(0)].iter().map(|f| std::fs::metadata(&f.path).unwrap().len()).sum();
    let mut shares: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    let resumed = index.map(|i| {
        let f = &files[i];
        let r = summary_resume::resume_alone(f, &std::fs::read(&f.path).unwrap(), cp, &opts).unwrap();
        match r {
            summary_resume::Resumed::Scan(s, end) => {
                let (summary, split) = segment_summary::encode_split(*s, parts);
                shares.push((f.name(), split));
                summary_resume::Resumed::Scan(Box::new(segment_summary::decode(&summary).unwrap()), end)
            }
            gone @ summary_resume::Resumed::Gone(_) => gone,
        }
    });
    let resumed = resumed.map(|r| summary_resume::decode(&summary_resume::encode(&r)).unwrap());
    let rest: Vec<&SegmentFile> = match (&index, &resumed) {
        (Some(i), Some(summary_resume::Resumed::Scan(..))) => files[i + 1..].iter().collect(),
        _ => Vec::new(),
    };
    let mut scans = Vec::new();
    for f in rest {
        let (summary, split) = segment_summary::encode_split(
            segment_summary::scan_alone(f, &std::fs::read(&f.path).unwrap(), &opts),
            parts,
        );
        shares.push((f.name(), split));
        scans.push(segment_summary::decode(&summary).unwrap());
    }
    let partitions = (0..parts)
        .map(|p| {
            let assumed: Vec<u128> =
                cp.pending.iter().copied().filter(|id| op_pairing::partition_of(*id, parts) == p).collect();
            op_pairing::pair(shares.iter().map(|(n, s)| (n.as_str(), s[p].as_slice())), &assumed).unwrap()
        })
        .collect();
    let start = summary_join::Start { checkpoint: cp, index, resumed, vouched_bytes: vouched };
    let opts = VerifyOptions { keep_ops: true, ..VerifyOptions::default() };
    summary_join::join_from(files, Some(start), scans, &opts, Some(op_pairing::merge(partitions))).unwrap()
}

fn spelled_with_pending(r: &LogReport) -> String {
    let mut pending: Vec<u128> = r.ops.pending().collect();
    pending.sort_unstable();
    format!("{}\n{pending:?}", spelled(r))
}

#[test]
fn incremental_runs_join_to_the_local_report() {
    for (round, damage) in ["none", "append", "rewrite", "cut"].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriterOptions { durability: Durability::None, ..small_segments() };
        let w = Writer::create(dir.path(), key(4), opts).unwrap();
        for batch in 0..4 {
            append(&w, batch * 7, 7);
        }
        let cp = checkpoint_of(dir.path());
        for batch in 4..8 {
            append(&w, batch * 7, 7);
        }
        drop(w);
        let files = segment::list(dir.path()).unwrap();
        let held = files.iter().find(|f| f.number == cp.segment).unwrap().path.clone();
        match damage {
            "rewrite" => {
                // The checkpoint's own record (a seal) changed: history was rewritten.
                let mut bytes = std::fs::read(&held).unwrap();
                let at = usize::try_from(cp.offset).unwrap() + 3 + round;
                bytes[at] = if bytes[at] == b'9' { b'8' } else { b'9' };
                std::fs::write(&held, bytes).unwrap();
            }
            "cut" => {
                let bytes = std::fs::read(&held).unwrap();
                std::fs::write(&held, &bytes[..usize::try_from(cp.offset).unwrap() + 10]).unwrap();
            }
            _ => {}
        }
        let local = verify(
            dir.path(),
            &VerifyOptions { keep_ops: true, checkpoint: Some(cp.clone()), ..VerifyOptions::default() },
        );
        let local = local.unwrap();
        let expected = match damage {
            "rewrite" => vec!["receipt.mismatch"],
            "cut" => vec!["receipt.truncated"],
            _ => vec![],
        };
        assert_eq!(codes(&local), expected, "{damage}");
        let local = spelled_with_pending(&local);
        for parts in [1, 2] {
            assert_eq!(
                spelled_with_pending(&joined_from(dir.path(), &cp, parts)),
                local,
                "{damage}, {parts} partitions"
            );
        }
    }
}
