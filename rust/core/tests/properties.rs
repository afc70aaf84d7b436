//! Property tests of the scanner and verifier: no input makes them panic or pass garbage as a
//! log, and no single-byte change to a valid log goes unnoticed.

mod common;

use std::fs;

use common::*;
use kfm_wal_core::scan::{self, ScanOptions};
use kfm_wal_core::segment::{self, SegmentFile};
use kfm_wal_core::{Durability, Writer, WriterOptions};
use proptest::prelude::*;

fn valid_log() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let w =
        Writer::create(dir.path(), key(5), WriterOptions { durability: Durability::None, ..WriterOptions::default() })
            .unwrap();
    append(&w, 0, 3);
    append(&w, 3, 2);
    drop(w);
    let seg = segment::list(dir.path()).unwrap().pop().unwrap();
    let bytes = fs::read(&seg.path).unwrap();
    (dir, bytes)
}

fn file() -> SegmentFile {
    SegmentFile { number: 1, first_seq: 1, path: "x".into(), archived: false }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_or_verify(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: true };
        let s = scan::scan(&file(), &bytes, &opts);
        prop_assert!(s.sealed.is_none() || !s.findings.is_empty() || bytes.is_empty());
    }

    #[test]
    fn lines_of_a_valid_log_shuffled_by_one_never_verify(cut in 1usize..6, drop_line in 0usize..8) {
        let (_dir, bytes) = valid_log();
        let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
        let mut mutated: Vec<u8> = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if i == drop_line % lines.len() && i != lines.len() - 1 { continue; }
            mutated.extend_from_slice(l);
            if i == cut { mutated.extend_from_slice(l); }
        }
        let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };
        let s = scan::scan(&file(), &mutated, &opts);
        prop_assert!(!s.findings.is_empty() || !s.tail.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_byte_change_is_detected(pos in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let (dir, mut bytes) = valid_log();
        let i = pos.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(delta);
        let seg = segment::list(dir.path()).unwrap().pop().unwrap();
        fs::write(&seg.path, &bytes).unwrap();
        let report = check(dir.path());
        prop_assert!(!report.ok(), "byte {} changed by {} went unnoticed", i, delta);
    }
}
