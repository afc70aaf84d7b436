//! Segment files cut short (and put back) underneath the verifier, the reader, salvage and a
//! verification resumed from a receipt, over and over: the verifier runs on logs it does not
//! control, and a file that shrinks while it is read must give a clear error or a finding, never
//! a crash (a mapped file truncated underneath the mapping raised SIGBUS and killed the process).

mod common;

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use kfm_wal_core::record::Kind;
use kfm_wal_core::verify::Checkpoint;
use kfm_wal_core::{reader, salvage, segment, verify, Durability, VerifyOptions, WalError, Writer, WriterOptions};

/// Stops the cutting thread however the readers' loop ends (a failed assertion included).
struct Stop<'a>(&'a AtomicBool);
impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A log of several archived segments and a live one, with nothing writing to it.
fn log() -> (tempfile::TempDir, Vec<(PathBuf, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        max_segment_bytes: 192 * 1024,
        max_record_bytes: 8 * 1024,
        durability: Durability::None,
        ..WriterOptions::default()
    };
    let w = Writer::create(dir.path(), key(2), opts).unwrap();
    for batch in 0..40 {
        w.append(Kind::Intent, &entries(batch * 50, 50)).unwrap();
    }
    drop(w);
    let files = segment::list(dir.path()).unwrap();
    assert!(files.len() >= 5 && files.iter().filter(|f| f.archived).count() >= 4, "{files:?}");
    let files = files.into_iter().map(|f| (f.path.clone(), std::fs::read(&f.path).unwrap())).collect();
    (dir, files)
}

/// A verification error must say what went wrong, where.
fn clear(e: &WalError) {
    let text = e.to_string();
    assert!(matches!(e, WalError::Io { .. } | WalError::Corruption(_) | WalError::NotALog(_)), "{text}");
    assert!(!text.is_empty());
}

#[test]
fn segments_truncated_while_they_are_read() {
    let (dir, files) = log();
    let clean = check(dir.path());
    assert!(clean.ok(), "{:?}", clean.findings);
    let head = clean.head.unwrap();
    let checkpoint = Checkpoint {
        log_id: clean.log_id.clone().unwrap(),
        seq: head.seq,
        hash: head.hash,
        segment: clean.head_segment.unwrap(),
        offset: clean.head_offset,
        timestamp: head.timestamp,
        key: clean.key_in_force.clone().unwrap(),
        revoked: clean.revoked.clone(),
        pending: Vec::new(),
    };
    let stop = AtomicBool::new(false);
    let cuts = AtomicU64::new(0);
    let (mut same, mut findings, mut errors) = (0u64, 0u64, 0u64);
    std::thread::scope(|scope| {
        let _stop = Stop(&stop);
        // Cut a segment at a random length, leave it so a moment, put its bytes back; repeat.
        scope.spawn(|| {
            let mut rng = fastrand::Rng::with_seed(11);
            while !stop.load(Ordering::Relaxed) {
                let (path, bytes) = &files[rng.usize(..files.len())];
                let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
                file.set_len(rng.u64(0..bytes.len() as u64)).unwrap();
                std::thread::sleep(Duration::from_micros(rng.u64(0..400)));
                file.write_all_at(bytes, 0).unwrap();
                cuts.fetch_add(1, Ordering::Relaxed);
            }
        });
        let started = Instant::now();
        let mut round = 0;
        while round < 20 || started.elapsed() < Duration::from_secs(3) {
            round += 1;
            let resumed = VerifyOptions { checkpoint: Some(checkpoint.clone()), ..VerifyOptions::default() };
            for opts in [VerifyOptions::default(), resumed] {
                match verify(dir.path(), &opts) {
                    Ok(r) if r.ok() => {
                        assert_eq!(r.head.map(|h| h.seq), Some(head.seq));
                        same += 1;
                    }
                    Ok(r) => {
                        assert!(r.findings.iter().all(|f| !f.message.is_empty() && !f.segment.is_empty()));
                        findings += 1;
                    }
                    Err(e) => {
                        clear(&e);
                        errors += 1;
                    }
                }
            }
            for file in segment::list(dir.path()).unwrap() {
                match reader::read_segment(&file, 0, u64::MAX) {
                    // Whatever it returns has been checked record by record: each a whole line.
                    Ok(records) => assert!(records.iter().all(|r| r.line.ends_with(b"\n"))),
                    Err(e) => clear(&e),
                }
            }
            let copy = tempfile::tempdir().unwrap();
            match salvage::salvage(dir.path(), &copy.path().join("log")) {
                // The first segment cut before its first seal: salvage refuses, naming the log.
                Err(WalError::InvalidArgument(m)) => assert!(m.contains("nothing before the damage"), "{m}"),
                Err(e) => clear(&e),
                Ok(_) => {}
            }
        }
    });
    // Every file is whole again: the log verifies as it did.
    assert!(check(dir.path()).ok());
    assert!(cuts.load(Ordering::Relaxed) > 0);
    // The cuts were seen (as findings or errors), not only missed.
    assert!(findings + errors > 0, "{same} clean runs, none saw a cut");
}
