//! Shared helpers for the core's integration tests.
#![allow(dead_code)]
#![allow(
    clippy::must_use_candidate,
    clippy::missing_panics_doc,
    reason = "test helpers: they unwrap, and their callers decide what to keep"
)]

use std::path::Path;

use kfm_wal_core::keys::WriterKey;
use kfm_wal_core::record::Kind;
use kfm_wal_core::segment::{self, SegmentFile};
use kfm_wal_core::{verify, AppendReceipt, Durability, LogReport, VerifyOptions, Writer, WriterOptions};

pub fn key(n: u8) -> WriterKey {
    WriterKey::from_seed(&[n; 32]).unwrap()
}

pub fn entry(i: usize) -> Vec<u8> {
    format!(
        r#"{{"actor":{{"id":"runner","type":"ci"}},"governance":{{"approvals":[],"care":"public"}},"lineage_links":[],"operation":"etl_step","payload":{{"i":{i},"path":"processed/part-{i}.parquet"}},"post_state_expected":"sha256:{b}","pre_state_hash":"sha256:{a}","reversal":{{"steps":[{{"type":"file.delete"}}]}},"telemetry":{{"id":"t-{i}"}},"tier":1}}"#,
        a = "a".repeat(64),
        b = "b".repeat(64)
    )
    .into_bytes()
}

pub fn entries(from: usize, n: usize) -> Vec<Vec<u8>> {
    (from..from + n).map(entry).collect()
}

pub fn small_segments() -> WriterOptions {
    WriterOptions { max_segment_bytes: 16 * 1024, max_record_bytes: 8 * 1024, ..WriterOptions::default() }
}

pub fn append(w: &Writer, from: usize, n: usize) -> Vec<AppendReceipt> {
    w.append(Kind::Intent, &entries(from, n)).unwrap()
}

pub fn check(dir: &Path) -> LogReport {
    verify(dir, &VerifyOptions { keep_ops: false, ..VerifyOptions::default() }).unwrap()
}

pub fn codes(r: &LogReport) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.code.as_str()).collect()
}

/// Changes one letter of the `"runner"` actor id inside the record at `offset`: the line stays
/// well-formed JSON with an intact envelope, so only the record hash can notice. (Flipping a fixed
/// byte offset is data-dependent: it may land on a hex digit of `prev` and turn it into a
/// non-hex character, which is a malformed record rather than a hash mismatch.)
pub fn tamper_body(bytes: &mut [u8], offset: u64) {
    let start = usize::try_from(offset).unwrap();
    let end = start + bytes[start..].iter().position(|&b| b == b'\n').unwrap();
    let at = start + bytes[start..end].windows(8).position(|w| w == b"\"runner\"").unwrap() + 1;
    bytes[at] = b's';
}

/// A one-segment log of six batches of ten intents, each batch completed: the segment's file and
/// bytes (the directory kept alive with them).
pub fn completed_segment() -> (tempfile::TempDir, SegmentFile, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let w =
        Writer::create(dir.path(), key(3), WriterOptions { durability: Durability::None, ..WriterOptions::default() })
            .unwrap();
    for batch in 0..6 {
        let receipts = append(&w, batch * 10, 10);
        let done: Vec<Vec<u8>> = receipts
            .iter()
            .map(|r| {
                format!(r#"{{"wal_id":"{}","status":"succeeded"}}"#, kfm_wal_core::body::format_uuid(r.wal_id))
                    .into_bytes()
            })
            .collect();
        w.append(Kind::Completion, &done).unwrap();
    }
    drop(w);
    let seg = segment::list(dir.path()).unwrap().remove(0);
    let bytes = std::fs::read(&seg.path).unwrap();
    (dir, seg, bytes)
}

/// `bytes` with `edits` random one-byte changes (overwrite, an inserted newline, quote, brace,
/// comma or zero, a removal), then, one time in two, cut somewhere in its second half.
pub fn randomly_damaged(rng: &mut fastrand::Rng, bytes: &[u8], edits: std::ops::Range<usize>) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for _ in 0..rng.usize(edits) {
        let at = rng.usize(0..b.len());
        match rng.u8(0..3) {
            0 => b[at] = rng.u8(..),
            1 => b.insert(at, [b'\n', b'"', b'{', b',', 0][rng.usize(0..5)]),
            _ => _ = b.remove(at),
        }
    }
    if rng.bool() {
        b.truncate(rng.usize(b.len() / 2..b.len()));
    }
    b
}
