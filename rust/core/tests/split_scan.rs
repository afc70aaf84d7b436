//! A segment scanned with its second half's line facts computed on another thread must give
//! exactly the scan of one thread: on valid segments, on segments with bad bodies (schema,
//! syntax, duplicate and orphan operations) and on randomly damaged bytes.

mod common;

use common::*;
use kfm_wal_core::record;
use kfm_wal_core::scan::{self, ScanOptions, SegmentBytes, SegmentScan};
use kfm_wal_core::segment::SegmentFile;

/// Everything a scan reports, spelled out (`SegmentScan` has no Eq of its own).
fn summary(s: &SegmentScan) -> String {
    format!(
        "{:?} {:?} {} {} {} {:?} {:?} | {} {} {} {:?} {} {:?}",
        s.findings,
        s.sealed,
        s.sealed_end,
        s.sealed_records,
        s.closes,
        s.ops,
        s.seal_keys,
        s.tail.start,
        s.tail.len,
        s.tail.records,
        s.tail.first_seq,
        s.tail.only_torn_lines,
        s.tail.findings
    )
}

/// One thread over the bytes in memory is the reference; a split scan, and the same bytes as an
/// archived segment streamed from disk (`scan_file`, split or not), must report the same.
fn assert_same(file: &SegmentFile, bytes: &[u8], what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let archived = SegmentFile { path: dir.path().join(file.name()), archived: true, ..file.clone() };
    std::fs::write(&archived.path, bytes).unwrap();
    for check_bodies in [true, false] {
        let opts = ScanOptions { keyring: None, check_bodies, check_signatures: true, collect_records: false };
        let loaded = SegmentBytes::Read(bytes.to_vec());
        let one = summary(&scan::scan_segment(file, &loaded, &opts, false));
        let split = scan::scan_segment(file, &loaded, &opts, true);
        assert_eq!(one, summary(&split), "{what} (check_bodies={check_bodies})");
        for split in [false, true] {
            let streamed = scan::scan_file(&archived, &opts, split).unwrap();
            assert_eq!(one, summary(&streamed), "{what}: streamed, split={split} (check_bodies={check_bodies})");
        }
    }
}

#[test]
fn valid_segment() {
    let (_dir, file, bytes) = completed_segment();
    let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };
    let s = scan::scan_segment(&file, &SegmentBytes::Read(bytes.clone()), &opts, true);
    assert!(s.findings.is_empty() && s.tail.is_empty() && s.ops.len() == 120, "{}", summary(&s));
    assert_same(&file, &bytes, "valid");
}

#[test]
fn bodies_the_fast_pass_refuses() {
    let (_dir, file, bytes) = completed_segment();
    let text = String::from_utf8(bytes).unwrap();
    // (from, to, whether `to` breaks a rule: an escape the fast pass leaves to serde may be valid)
    let cases = [
        ("\"tier\":1", "\"tier\":9", true),
        ("\"care\":\"public\"", "\"care\":\"secret\"", true),
        ("\"status\":\"succeeded\"", "\"status\":\"maybe\"", true),
        ("\"type\":\"ci\"", "\"type\":\"c\\u0069\"", false),
        ("\"type\":\"ci\"", "\"type\":\"c\\u0078\"", true),
        ("\"lineage_links\":[]", "\"lineage_links\":[1]", true),
        ("\"runner\"", "\"runner\",\"id\":\"x\"", true),
    ];
    for (from, to, broken) in cases {
        // Rewrite the last line holding `from` (second half of the segment) with its own hash
        // recomputed, so the body check runs on it; the next line's link then breaks, which both
        // paths report alike.
        let at = text.rfind(from).unwrap();
        let (start, end) = (text[..at].rfind('\n').unwrap() + 1, at + text[at..].find('\n').unwrap() + 1);
        let env = record::parse(&text.as_bytes()[start..end]).unwrap();
        let members = String::from_utf8(env.body[..env.body.len() - 1].to_vec()).unwrap().replacen(from, to, 1);
        let mut line = Vec::new();
        let ts: [u8; 27] = env.timestamp.try_into().unwrap();
        record::write(&mut line, env.seq, &env.prev, env.kind.unwrap(), &ts, members.as_bytes());
        let mut changed = text.as_bytes()[..start].to_vec();
        changed.extend_from_slice(&line);
        changed.extend_from_slice(&text.as_bytes()[end..]);
        let one = scan::scan_segment(&file, &SegmentBytes::Read(changed.clone()), &OPTS, false);
        assert_eq!(one.findings.iter().any(|f| f.offset == start as u64), broken, "{to}: {:?}", one.findings);
        assert_same(&file, &changed, to);
    }
}

const OPTS: ScanOptions =
    ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };

#[test]
fn random_damage() {
    let (_dir, file, bytes) = completed_segment();
    let mut rng = fastrand::Rng::with_seed(9);
    for round in 0..200 {
        let b = randomly_damaged(&mut rng, &bytes, 1..4);
        assert_same(&file, &b, &format!("round {round}"));
    }
}
