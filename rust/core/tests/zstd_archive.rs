//! Compressed archives: rotated segments compressed with zstd read and verify exactly as plain
//! ones; a corrupt or truncated frame is `segment.compression` at the uncompressed offset where
//! readable data ends; and a crash at every file-system step of a compression leaves a log that
//! verifies, reads the same records, and is finished by the next writer.

mod common;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use kfm_wal_core::fsutil::{Fs, IoHook, IoOp};
use kfm_wal_core::log_settings::ArchiveCompression;
use kfm_wal_core::segment::{self, SegmentFile};
use kfm_wal_core::{reader, Code, RecoveryMode, WalError, Writer};

/// Every sealed record of the log: (seq, hash, line).
fn records(dir: &Path) -> Vec<(u64, [u8; 32], Vec<u8>)> {
    reader::segments(dir)
        .unwrap()
        .iter()
        .flat_map(|s| reader::read_segment(s, 0, u64::MAX).unwrap())
        .map(|r| (r.seq, r.hash, r.line))
        .collect()
}

fn archived(dir: &Path) -> Vec<SegmentFile> {
    segment::list(dir).unwrap().into_iter().filter(|s| s.archived).collect()
}

/// A plain log of several rotated segments.
fn plain_log(dir: &Path) {
    let w = Writer::create(dir, key(1), small_segments()).unwrap();
    for i in 0..12 {
        append(&w, i * 10, 10);
    }
    w.close();
}

fn reopen(dir: &Path) -> Writer {
    Writer::open(dir, key(1), RecoveryMode::TolerateTail, kfm_wal_core::Durability::Fsync).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_zstd_log_compresses_what_it_rotates_and_reads_as_before() {
    let dir = tempfile::tempdir().unwrap();
    plain_log(dir.path());
    let before = records(dir.path());
    let w = reopen(dir.path());
    w.set_archive_compression(ArchiveCompression::Zstd).unwrap();
    assert_eq!(w.wait_for_archive(), None);
    for i in 0..6 {
        append(&w, 1000 + i * 10, 10); // more rotations, compressed as they happen
    }
    w.close();
    let files = archived(dir.path());
    assert!(files.len() > 8, "{} archived segments", files.len());
    assert!(files.iter().all(SegmentFile::is_compressed), "every archived segment is compressed");
    let report = check(dir.path());
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let after = records(dir.path());
    assert_eq!(after[..before.len()], before[..], "the same records, byte for byte");
    assert_eq!(report.records, after.len() as u64);
    // The setting stays with the log.
    let w = reopen(dir.path());
    assert_eq!(w.archive_compression(), ArchiveCompression::Zstd);
}

#[test]
fn a_truncated_frame_is_reported_at_the_uncompressed_offset_and_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    // Segments of several zstd blocks (128 KiB each), so a cut frame still decodes a prefix.
    let opts = kfm_wal_core::WriterOptions { max_segment_bytes: 600 << 10, ..small_segments() };
    let w = Writer::create(dir.path(), key(1), opts).unwrap();
    w.set_archive_compression(ArchiveCompression::Zstd).unwrap();
    for i in 0..30 {
        append(&w, i * 100, 100);
    }
    w.close();
    let first = archived(dir.path()).into_iter().next().unwrap();
    assert!(first.is_compressed());
    let raw = std::fs::read(&first.path).unwrap();
    let plain = kfm_wal_core::segment_bytes::decode_segment(&first.name(), &raw).bytes.into_owned();
    std::fs::write(&first.path, &raw[..raw.len() / 2]).unwrap();
    let readable = kfm_wal_core::segment_bytes::decode_segment(&first.name(), &raw[..raw.len() / 2]);
    assert!(!readable.bytes.is_empty() && readable.bytes.len() < plain.len());
    assert_eq!(readable.bytes[..], plain[..readable.bytes.len()], "the readable prefix is the segment's");

    let report = check(dir.path());
    assert_eq!(codes(&report), ["segment.compression"], "{:?}", report.findings);
    let f = &report.findings[0];
    assert_eq!((f.segment.as_str(), f.offset), (first.name().as_str(), readable.bytes.len() as u64));
    match reader::read_segment(&first, 0, u64::MAX) {
        Err(WalError::Corruption(f)) => assert_eq!(f.code, Code::SegmentCompression),
        other => panic!("expected corruption, got {:?}", other.map(|r| r.len())),
    }
    let opened = Writer::open(dir.path(), key(1), RecoveryMode::TolerateTail, kfm_wal_core::Durability::Fsync);
    assert!(matches!(opened, Err(WalError::Corruption(ref f)) if f.code == Code::SegmentCompression));
    assert_eq!(std::fs::read(&first.path).unwrap(), raw[..raw.len() / 2], "nothing changed");
}

/// Fails every mutating call from number `fail_from` on (a process killed there does nothing
/// more), counting from when it is armed.
struct KillAt {
    calls: AtomicUsize,
    fail_from: usize,
}

impl IoHook for KillAt {
    fn before(&self, op: IoOp<'_>) -> io::Result<()> {
        if matches!(op, IoOp::Acknowledged(_)) {
            return Ok(());
        }
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.fail_from {
            return Err(io::Error::other("killed"));
        }
        Ok(())
    }
}

fn kill_at(dir: &Path, fail_from: usize) -> usize {
    let hook = Arc::new(KillAt { calls: AtomicUsize::new(0), fail_from });
    let fs = Fs::with_hook(hook.clone());
    let w = Writer::open_with(dir, key(1), RecoveryMode::TolerateTail, kfm_wal_core::Durability::Fsync, fs).unwrap();
    let _ = w.set_archive_compression(ArchiveCompression::Zstd);
    let _ = w.wait_for_archive(); // the injected kill is the failure expected
    drop(w);
    hook.calls.load(Ordering::SeqCst)
}

#[test]
fn a_crash_at_every_step_of_compression_leaves_a_readable_log() {
    let base = tempfile::tempdir().unwrap();
    let original = base.path().join("original");
    plain_log(&original);
    let want = records(&original);
    let segments = archived(&original).len();
    // How many calls the whole compression makes (settings file, then per segment: temp create,
    // write, fsync, rename, dir fsync, remove, dir fsync).
    let probe = base.path().join("probe");
    copy_dir(&original, &probe);
    let total = kill_at(&probe, usize::MAX);
    assert!(total >= 4 + 7 * segments, "{total} calls for {segments} segments");
    let mut states_with_both = 0;
    for n in 0..total {
        let dir: PathBuf = base.path().join(format!("kill-{n}"));
        copy_dir(&original, &dir);
        kill_at(&dir, n);
        let names: Vec<String> = archived(&dir).iter().map(SegmentFile::name).collect();
        assert_eq!(names.len(), segments, "kill at call {n}: one listed copy per segment: {names:?}");
        let archive = dir.join(segment::ARCHIVE);
        states_with_both += usize::from(archived(&dir).iter().any(|s| {
            !s.is_compressed() && archive.join(format!("{}{}", s.name(), segment::COMPRESSED_SUFFIX)).exists()
        }));
        let report = check(&dir);
        assert!(report.findings.is_empty(), "kill at call {n}: {:?}", report.findings);
        assert_eq!(records(&dir), want, "kill at call {n}: the same records");
        // The next writer finishes the job: everything compressed, no temp file, nothing lost.
        // Once the settings file is in place (its five calls), reopening alone resumes it.
        let w = reopen(&dir);
        if w.archive_compression() != ArchiveCompression::Zstd {
            assert!(n < 5, "kill at call {n}: the setting was lost");
            w.set_archive_compression(ArchiveCompression::Zstd).unwrap();
        }
        assert_eq!(w.wait_for_archive(), None);
        w.close();
        assert!(archived(&dir).iter().all(SegmentFile::is_compressed), "kill at call {n}: finished");
        let leftovers: Vec<_> = std::fs::read_dir(&archive)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| std::path::Path::new(n).extension().is_none_or(|e| e != "zst"))
            .collect();
        assert!(leftovers.is_empty(), "kill at call {n}: left {leftovers:?}");
        assert_eq!(records(&dir), want, "kill at call {n}: after finishing");
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert!(states_with_both > 0, "some crash states hold both copies of a segment");
}
