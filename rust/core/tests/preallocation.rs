//! The zeros a writer keeps ahead of its live segment's data (docs/FORMAT.md section 7,
//! "Preallocation"): where records go, when the zeros are cut, and logs whose live segment the
//! writer did not pad itself (a kfm-wal/2 segment ending in padding, a kfm-wal/1 segment).

mod common;

use std::fs;
use std::path::Path;

use common::*;
use kfm_wal_core::keys::WriterKey;
use kfm_wal_core::{segment, Durability, RecoveryMode, Writer, WriterOptions};

/// A copy of the segments of vector `name` (`data/vectors/valid/`), and the vector's writer key.
fn vector_copy(name: &str) -> (tempfile::TempDir, WriterKey) {
    let vector = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/vectors/valid").join(name);
    let dir = tempfile::tempdir().unwrap();
    for sub in ["", "archive"] {
        fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in fs::read_dir(vector.join(sub)).unwrap() {
            let path = e.unwrap().path();
            if path.is_file() && path.extension().is_some_and(|x| x == "jsonl") {
                fs::copy(&path, dir.path().join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    (dir, WriterKey::from_seed(&kfm_wal_core::hash::sha256(b"kfm-wal test vector key")).unwrap())
}

#[test]
fn a_kfm_wal_2_live_segment_is_continued_where_its_data_ends() {
    // The vector's live segment ends in 4,096 bytes of padding: the writer's records go where its
    // data ends, not after the zeros, and a clean close leaves no zeros behind.
    let (dir, vector_key) = vector_copy("padded-live-segment");
    let live = segment::list(dir.path()).unwrap().pop().unwrap();
    let padded = fs::read(&live.path).unwrap();
    let data_end = padded.len() - 4096;
    assert!(padded[data_end..].iter().all(|&b| b == 0) && padded[data_end - 1] == b'\n');
    let w = Writer::open(dir.path(), vector_key, RecoveryMode::Strict, Durability::Fsync).unwrap();
    assert!(w.recovery().is_empty(), "padding is not a tail: {:?}", w.recovery());
    // The vector's segments are small: the first append closes this one and starts the next.
    let receipts = append(&w, 0, 2);
    assert_ne!(receipts[0].segment.as_ref(), live.name());
    w.close();
    let closed = segment::list(dir.path()).unwrap().into_iter().find(|s| s.name() == live.name()).unwrap();
    let after = fs::read(&closed.path).unwrap();
    assert!(closed.archived && after.len() > data_end);
    assert_eq!(after[..data_end], padded[..data_end], "the closing seal follows the data");
    assert!(!after.contains(&0), "a closed segment holds no padding");
    let rep = check(dir.path());
    assert!(rep.ok(), "{:?}", rep.findings);
}

#[test]
fn the_live_segment_is_padded_ahead_of_its_data_and_cut_back_at_rotation_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions { max_segment_bytes: 64 * 1024, ..small_segments() };
    let w = Writer::create(dir.path(), key(1), opts).unwrap();
    let first = append(&w, 0, 1);
    let live = dir.path().join(first[0].segment.as_ref());
    let size = fs::metadata(&live).unwrap().len();
    assert_eq!(size, 64 * 1024, "small groups are written into zeros filled up to max_segment_bytes");
    for i in 1..60 {
        append(&w, i * 2, 2);
    }
    let rep = check(dir.path());
    assert!(rep.ok(), "padding is not a finding: {:?}", rep.findings);
    let archived: Vec<_> = segment::list(dir.path()).unwrap().into_iter().filter(|s| s.archived).collect();
    assert!(!archived.is_empty(), "the log rotated");
    for s in &archived {
        assert!(!fs::read(&s.path).unwrap().contains(&0), "{}: a rotated segment is cut back to its data", s.name());
    }
    w.close();
    let live = segment::list(dir.path()).unwrap().pop().unwrap();
    let bytes = fs::read(&live.path).unwrap();
    assert!(!bytes.contains(&0) && bytes.ends_with(b"\n"), "clean close cuts the padding");
    // Reopened from the clean-close state, it pads again.
    let w = Writer::open(dir.path(), key(1), RecoveryMode::Strict, Durability::Fsync).unwrap();
    assert!(w.opened().trusted_seq.is_some(), "the clean-close state held");
    append(&w, 500, 1);
    assert!(fs::metadata(&live.path).unwrap().len() > bytes.len() as u64 + 1024);
    drop(w); // no clean close: the padding stays, and the log is valid
    assert!(check(dir.path()).ok());
    let w = Writer::open(dir.path(), key(1), RecoveryMode::Strict, Durability::Fsync).unwrap();
    assert!(w.recovery().is_empty(), "{:?}", w.recovery());
    let r = append(&w, 600, 1);
    w.close();
    let rep = check(dir.path());
    assert!(rep.ok(), "{:?}", rep.findings);
    assert_eq!(rep.head.unwrap().seq, r[0].seal_seq);
}

#[test]
fn without_fsync_or_with_preallocation_off_nothing_is_padded() {
    for opts in [
        WriterOptions { durability: Durability::Os, ..small_segments() },
        WriterOptions { preallocate_bytes: 0, ..small_segments() },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let w = Writer::create(dir.path(), key(1), opts).unwrap();
        let r = append(&w, 0, 3);
        let live = dir.path().join(r[0].segment.as_ref());
        assert!(!fs::read(&live).unwrap().contains(&0), "{opts:?}");
    }
}

#[test]
fn a_kfm_wal_1_live_segment_is_continued_unpadded_and_its_successors_are_kfm_wal_2() {
    let (dir, vector_key) = vector_copy("stream-header"); // its live segment has room for appends
    let live = segment::list(dir.path()).unwrap().pop().unwrap();
    let before = fs::read(&live.path).unwrap();
    assert!(String::from_utf8_lossy(&before[..200]).contains(r#""format":"kfm-wal/1""#));
    // Durability fsync and preallocation on: a v1 segment is still not padded (its zeros would
    // read as a torn tail).
    let w = Writer::open(dir.path(), vector_key, RecoveryMode::Strict, Durability::Fsync).unwrap();
    let mut segments = std::collections::BTreeSet::new();
    for i in 0..40 {
        let r = append(&w, i * 2, 2);
        segments.insert(r[0].segment.to_string());
        if r[0].segment.as_ref() == live.name() {
            let bytes = fs::read(&live.path).unwrap();
            assert!(bytes.starts_with(&before) && !bytes.contains(&0), "append {i}: the v1 segment holds zeros");
        }
    }
    assert!(segments.len() > 1, "the log rotated into new segments");
    let old = segment::list(dir.path()).unwrap().into_iter().find(|s| s.name() == live.name()).unwrap();
    let closed = fs::read(&old.path).unwrap();
    assert!(closed.starts_with(&before) && !closed.contains(&0), "the v1 segment was closed unpadded");
    let newest = segment::list(dir.path()).unwrap().pop().unwrap();
    let head = fs::read(&newest.path).unwrap();
    assert!(String::from_utf8_lossy(&head[..200]).contains(r#""format":"kfm-wal/2""#));
    assert!(head.ends_with(&[0]), "the writer's own live segment is padded");
    drop(w);
    let rep = check(dir.path());
    assert!(rep.ok(), "{:?}", rep.findings);
}
