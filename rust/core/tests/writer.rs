//! The writer end to end: create, append, rotate, reopen, lock, concurrency, bad input.

mod common;

use std::fs;
use std::sync::Arc;

use common::*;
use kfm_wal_core::record::Kind;
use kfm_wal_core::{segment, AppendReceipt, Durability, RecoveryMode, WalError, Writer, WriterOptions};

#[test]
fn create_append_verify_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), WriterOptions::default()).unwrap();
    let r = append(&w, 0, 10);
    assert_eq!(r.len(), 10);
    assert_eq!(r[0].seq, 3, "seq 1 is the header, 2 its seal");
    assert!(r.windows(2).all(|p| p[1].seq == p[0].seq + 1));
    assert_eq!(r[9].seal_seq, 13);
    drop(w);
    let rep = check(dir.path());
    assert!(rep.ok(), "{:?}", rep.findings);
    assert_eq!(rep.records, 13);
    assert_eq!(rep.intents, 10);
    assert_eq!(rep.pending, 10);
    let w = Writer::open(dir.path(), key(1), RecoveryMode::TolerateTail, Durability::Fsync).unwrap();
    assert!(w.recovery().is_empty());
    let more = append(&w, 10, 1);
    assert_eq!(more[0].seq, 14);
}

#[test]
fn completions_pair_with_intents() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), WriterOptions::default()).unwrap();
    let r = append(&w, 0, 2);
    let id = uuid::Uuid::from_u128(r[0].wal_id).to_string();
    let done = format!(r#"{{"wal_id":"{id}","status":"succeeded"}}"#);
    w.append(Kind::Completion, &[done.as_bytes()]).unwrap();
    match w.append(Kind::Completion, &[done.as_bytes()]) {
        Err(WalError::Conflict { index: 0, message }) => assert!(message.contains("already completed")),
        other => panic!("{other:?}"),
    }
    let orphan = r#"{"wal_id":"0b7c1f4e-2b8a-4c1e-9f3a-6d5e4c3b2a10","status":"failed"}"#;
    assert!(matches!(w.append(Kind::Completion, &[orphan.as_bytes()]), Err(WalError::Conflict { .. })));
    drop(w);
    let rep = check(dir.path());
    assert!(rep.ok(), "{:?}", rep.findings);
    assert_eq!((rep.intents, rep.completions, rep.pending), (2, 1, 1));
}

#[test]
fn rotation_archives_and_links_segments() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(2), small_segments()).unwrap();
    for i in 0..40 {
        append(&w, i * 5, 5);
    }
    drop(w);
    let rep = check(dir.path());
    assert!(rep.ok(), "{:?}", rep.findings);
    assert!(rep.segments.len() > 5);
    let live: Vec<_> = rep.segments.iter().filter(|s| !s.archived).collect();
    assert_eq!(live.len(), 1, "only the last segment stays live");
    assert_eq!(rep.intents, 200);
}

#[test]
fn bad_entries_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), small_segments()).unwrap();
    let before = w.head();
    let mut bad = entries(0, 3);
    bad[1] = b"{\"tier\":1}".to_vec();
    assert!(matches!(w.append(Kind::Intent, &bad), Err(WalError::Schema { index: 1, .. })));
    let mut big = String::from_utf8(entry(0)).unwrap();
    big = big.replace("\"i\":0", &format!("\"i\":\"{}\"", "x".repeat(9000)));
    assert!(matches!(w.append(Kind::Intent, &[big.as_bytes()]), Err(WalError::TooLarge { .. })));
    let newline = String::from_utf8(entry(0)).unwrap().replace(",\"tier\"", ",\n\"tier\"");
    assert!(matches!(w.append(Kind::Intent, &[newline.as_bytes()]), Err(WalError::Schema { .. })));
    assert!(matches!(w.append(Kind::Intent, &[b"[1]".as_slice()]), Err(WalError::Schema { .. })));
    assert_eq!(w.head().seq, before.seq);
    drop(w);
    assert!(check(dir.path()).ok());
}

#[test]
fn second_writer_is_refused_with_pid() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), WriterOptions::default()).unwrap();
    match Writer::open(dir.path(), key(1), RecoveryMode::TolerateTail, Durability::Fsync) {
        Err(WalError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("second writer opened"),
    }
    drop(w);
    Writer::open(dir.path(), key(1), RecoveryMode::TolerateTail, Durability::Fsync).unwrap();
}

#[test]
fn wrong_key_and_not_a_log() {
    let dir = tempfile::tempdir().unwrap();
    drop(Writer::create(dir.path(), key(1), WriterOptions::default()).unwrap());
    assert!(matches!(
        Writer::open(dir.path(), key(9), RecoveryMode::TolerateTail, Durability::Fsync),
        Err(WalError::KeyMismatch { .. })
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Writer::open(empty.path(), key(1), RecoveryMode::TolerateTail, Durability::Fsync),
        Err(WalError::NotALog(_))
    ));
    assert!(matches!(Writer::create(dir.path(), key(1), WriterOptions::default()), Err(WalError::Exists(_))));
}

#[test]
fn concurrent_appenders_share_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let w = Arc::new(
        Writer::create(
            dir.path(),
            key(3),
            WriterOptions { max_segment_bytes: 256 * 1024, max_record_bytes: 64 * 1024, ..WriterOptions::default() },
        )
        .unwrap(),
    );
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let w = Arc::clone(&w);
            std::thread::spawn(move || (0..50).flat_map(|i| append(&w, t * 1000 + i * 2, 2)).collect::<Vec<_>>())
        })
        .collect();
    let mut receipts: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    receipts.sort_by_key(|r| r.seq);
    receipts.dedup_by_key(|r| r.seq);
    assert_eq!(receipts.len(), 800);
    let seals = receipts.iter().map(|r| r.seal_seq).collect::<std::collections::BTreeSet<_>>().len();
    drop(w);
    let rep = check(dir.path());
    assert!(rep.ok(), "{:?}", rep.findings);
    assert_eq!(rep.intents, 800);
    assert!(seals <= 400, "{seals} seals for 400 batches: group commit merged nothing");
}

#[test]
fn torn_tail_is_cut_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), WriterOptions::default()).unwrap();
    let acked = append(&w, 0, 5);
    drop(w);
    let live = segment::list(dir.path()).unwrap().pop().unwrap();
    // A torn write lands where the data ends, in the zeros filled ahead of it.
    let mut bytes = fs::read(&live.path).unwrap();
    let good_len = bytes.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    assert!(bytes.len() > good_len + 100, "the live segment is padded");
    bytes[good_len..good_len + 100].copy_from_slice(&entry(99)[..100]);
    fs::write(&live.path, &bytes).unwrap();
    assert_eq!(codes(&check(dir.path())), ["tail.torn"]);
    assert!(Writer::open(dir.path(), key(1), RecoveryMode::Strict, Durability::Fsync).is_err());
    let w = Writer::open(dir.path(), key(1), RecoveryMode::TolerateTail, Durability::Fsync).unwrap();
    let note = &w.recovery()[0];
    // The torn line runs to the end of the file (its zeros are not padding: they follow no
    // newline); the copy leaves out its final zeros.
    assert_eq!((note.offset, note.bytes), (good_len as u64, (bytes.len() - good_len) as u64));
    assert_eq!(fs::read(note.saved_to.as_ref().unwrap()).unwrap(), &entry(99)[..100]);
    let next = append(&w, 5, 1);
    assert_eq!(next[0].seq, acked[4].seal_seq + 1);
    drop(w);
    assert!(check(dir.path()).ok());
}

#[test]
fn mid_log_damage_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), WriterOptions::default()).unwrap();
    let r = append(&w, 0, 3);
    append(&w, 3, 3);
    drop(w);
    let live = segment::list(dir.path()).unwrap().pop().unwrap();
    let mut bytes = fs::read(&live.path).unwrap();
    tamper_body(&mut bytes, r[1].offset);
    fs::write(&live.path, &bytes).unwrap();
    let rep = check(dir.path());
    assert_eq!(rep.findings[0].code.as_str(), "record.hash");
    assert_eq!(rep.findings[0].offset, r[1].offset);
    match Writer::open(dir.path(), key(1), RecoveryMode::TolerateTail, Durability::Fsync) {
        Err(WalError::Corruption(f)) => assert_eq!(f.offset, r[1].offset),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a corrupt log"),
    }
    assert_eq!(fs::read(&live.path).unwrap(), bytes, "refusal must not touch the log");
}

#[test]
fn salvage_copies_the_verifiable_prefix_and_leaves_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), small_segments()).unwrap();
    let mut receipts = Vec::new();
    for i in 0..30 {
        receipts.extend(append(&w, i * 4, 4));
    }
    drop(w);
    // Damage a record in an archived segment, in the middle of the log.
    let victim = &receipts[50];
    let seg = segment::list(dir.path()).unwrap().into_iter().find(|s| s.name() == *victim.segment).unwrap();
    let mut bytes = fs::read(&seg.path).unwrap();
    tamper_body(&mut bytes, victim.offset);
    fs::write(&seg.path, &bytes).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dst = out.path().join("salvaged");
    let s = kfm_wal_core::salvage::salvage(dir.path(), &dst).unwrap();
    assert_eq!(s.stopped_at.as_ref().unwrap().offset, victim.offset);
    assert!(s.last_seq.unwrap() < victim.seq);
    let rep = check(&dst);
    assert!(rep.ok(), "{:?}", rep.findings);
    assert_eq!(rep.head.unwrap().seq, s.last_seq.unwrap());
    assert_eq!(fs::read(&seg.path).unwrap(), bytes, "the damaged log is left as it was");
    // The salvaged log takes writes again (its writer finishes a cut rotation if needed).
    let w = Writer::open(&dst, key(1), RecoveryMode::TolerateTail, Durability::Fsync).unwrap();
    append(&w, 1000, 2);
    drop(w);
    assert!(check(&dst).ok());
}

#[test]
fn listing_during_rotation_never_has_a_hole() {
    // Tiny segments and no syncs: the writer rotates thousands of times a second while readers list.
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        max_segment_bytes: 6 * 1024,
        max_record_bytes: 4 * 1024,
        durability: Durability::None,
        ..WriterOptions::default()
    };
    let w = Arc::new(Writer::create(dir.path(), key(1), opts).unwrap());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (w, stop) = (w.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                append(&w, i, 3);
                i += 3;
            }
        })
    };
    let mut listings = 0;
    let until = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    while std::time::Instant::now() < until {
        let numbers: Vec<u64> = segment::list(dir.path()).unwrap().iter().map(|s| s.number).collect();
        let hole = numbers.windows(2).find(|p| p[1] != p[0] + 1 && p[1] != p[0]);
        assert!(hole.is_none(), "hole in a listing during rotation: {hole:?}");
        listings += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(listings > 10);
    drop(w);
    assert!(check(dir.path()).ok());
}

/// Makes every data sync take `ms` milliseconds, like a slow disk.
struct SlowSync(u64);

impl kfm_wal_core::fsutil::IoHook for SlowSync {
    fn before(&self, op: kfm_wal_core::fsutil::IoOp<'_>) -> std::io::Result<()> {
        if matches!(op, kfm_wal_core::fsutil::IoOp::SyncFile(_)) {
            std::thread::sleep(std::time::Duration::from_millis(self.0));
        }
        Ok(())
    }
}

#[test]
fn a_slow_disk_makes_one_sync_carry_every_waiting_caller() {
    // When a sync costs far more than the callers take to come back, the leader lets the running
    // sync end and waits for the callers it acknowledged: syncs carry (nearly) all 8 threads,
    // not two alternating halves.
    let dir = tempfile::tempdir().unwrap();
    let fs = kfm_wal_core::fsutil::Fs::with_hook(Arc::new(SlowSync(3)));
    let w = Writer::create_with(dir.path(), key(3), WriterOptions::default(), fs).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let w = &w;
            scope.spawn(move || (0..25).for_each(|i| drop(append(w, t * 1000 + i, 1))));
        }
    });
    let stats = w.stats();
    assert_eq!(stats.records, 200);
    let per_sync = f64::from(u32::try_from(stats.records).unwrap()) / f64::from(u32::try_from(stats.syncs).unwrap());
    assert!(per_sync >= 5.0, "{per_sync:.1} entries per sync ({stats:?}): callers were not merged into one sync");
    drop(w);
    assert!(check(dir.path()).ok());
}

/// Counts early writeback requests.
#[derive(Default)]
struct Writebacks(std::sync::atomic::AtomicUsize);

impl kfm_wal_core::fsutil::IoHook for Writebacks {
    fn before(&self, op: kfm_wal_core::fsutil::IoOp<'_>) -> std::io::Result<()> {
        if matches!(op, kfm_wal_core::fsutil::IoOp::Writeback(_)) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

#[test]
fn a_group_written_in_pieces_is_one_sealed_group_with_exact_offsets() {
    let (writebacks, groups) = forty_then_three(|w| append(w, 0, 40));
    assert_eq!(groups, 2);
    assert!(writebacks >= 10, "the 40-entry group was not written in pieces");
}

/// The pipeline's write thread writes a group in one write (the previous group's sync already
/// overlaps it): no pieces, no early writeback, the same exact offsets.
#[test]
fn a_pipelined_group_is_written_whole_with_exact_offsets() {
    let (writebacks, _) =
        forty_then_three(|w| w.submit_owned(Kind::Intent, entries(0, 40)).unwrap().wait(None).unwrap().unwrap());
    assert_eq!(writebacks, 0, "the pipelined group was written in pieces");
}

/// A group of 40 intents written by `first` on a writer whose pieces are 1,500 bytes, then one of
/// three by `append`: both sealed as one group each, every receipt's offset its record's line,
/// the log valid. Returns the early writeback requests made and the groups written.
fn forty_then_three(first: impl FnOnce(&Writer) -> Vec<AppendReceipt>) -> (usize, u64) {
    let dir = tempfile::tempdir().unwrap();
    let hook = Arc::new(Writebacks::default());
    let fs = kfm_wal_core::fsutil::Fs::with_hook(hook.clone()).with_write_chunk(1500);
    let w = Writer::create_with(dir.path(), key(4), WriterOptions::default(), fs).unwrap();
    let first = first(&w);
    let second = append(&w, 100, 3);
    let groups = w.stats().groups;
    assert!(first.iter().all(|r| r.seal_seq == 43) && second.iter().all(|r| r.seal_seq == 47));
    drop(w);
    assert_each_receipt_names_its_line(dir.path(), first.iter().chain(&second));
    let rep = check(dir.path());
    assert!(rep.ok(), "{:?}", rep.findings);
    assert_eq!(rep.intents, 43);
    (hook.0.load(std::sync::atomic::Ordering::Relaxed), groups)
}

fn assert_each_receipt_names_its_line<'a>(dir: &std::path::Path, receipts: impl Iterator<Item = &'a AppendReceipt>) {
    let mut receipts = receipts.peekable();
    let segment = receipts.peek().expect("receipts").segment.clone();
    let bytes = fs::read(dir.join(&*segment)).unwrap();
    for r in receipts {
        let line = &bytes[usize::try_from(r.offset).unwrap()..];
        let line = &line[..=line.iter().position(|&b| b == b'\n').unwrap()];
        let env = kfm_wal_core::record::parse(line).unwrap();
        assert_eq!((env.seq, env.claimed), (r.seq, r.hash), "receipt offset {} is not its record's line", r.offset);
    }
}

/// A segment file name is not evidence: a forged first seq in the last one's name is reported,
/// and does not size anything (the intent table was once sized from it).
#[test]
fn a_forged_first_seq_in_a_file_name_is_reported_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(2), small_segments()).unwrap();
    for i in 0..20 {
        append(&w, i * 5, 5);
    }
    drop(w);
    let live = segment::list(dir.path()).unwrap().into_iter().find(|s| !s.archived).unwrap();
    let forged = dir.path().join(segment::name(live.number, 9_000_000_000_000_000)); // 16 digits, as names have
    std::fs::rename(&live.path, forged).unwrap();
    let rep = check(dir.path());
    assert!(!rep.ok());
    assert!(rep.findings.iter().any(|f| f.message.contains("file name says first seq")), "{:?}", rep.findings);
}
