//! Pipelined submits: order, answers that stay, backpressure, and the bad input of issue 15
//! (submit after poison, a schema error with a batch in flight, close with batches in flight).

mod common;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use kfm_wal_core::fsutil::{Fs, IoHook, IoOp};
use kfm_wal_core::record::Kind;
use kfm_wal_core::{Durability, WalError, Writer, WriterOptions};

fn fsync() -> WriterOptions {
    WriterOptions { durability: Durability::Fsync, ..WriterOptions::default() }
}

#[test]
fn submits_resolve_in_order_with_increasing_seqs_and_a_valid_log() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), fsync()).unwrap();
    let handles: Vec<_> = (0..20).map(|b| w.submit_owned(Kind::Intent, entries(b * 100, 50)).unwrap()).collect();
    let mut last = 0;
    for (b, h) in handles.iter().enumerate() {
        let r = h.wait(None).unwrap().unwrap();
        assert_eq!(r.len(), 50);
        assert!(r[0].seq > last, "batch {b} starts at {} after {last}", r[0].seq);
        assert!(r.windows(2).all(|p| p[1].seq == p[0].seq + 1), "a batch is contiguous");
        last = r[49].seq;
        // A later handle never resolves before an earlier one.
        assert!(handles[..b].iter().all(kfm_wal_core::Pending::done));
    }
    // Mixed with plain appends: they join the same queue (unordered against submits in flight).
    let h = w.submit_owned(Kind::Intent, entries(5000, 3)).unwrap();
    append(&w, 6000, 2);
    assert_eq!(h.wait(None).unwrap().unwrap().len(), 3);
    drop(w);
    let rep = check(dir.path());
    assert!(rep.ok(), "{:?}", rep.findings);
    assert_eq!(rep.intents, 20 * 50 + 5);
}

#[test]
fn a_handle_waited_on_twice_gives_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), fsync()).unwrap();
    let h = w.submit_owned(Kind::Intent, entries(0, 4)).unwrap();
    let first = h.wait(None).unwrap().unwrap();
    let second = h.clone().wait(Some(Duration::ZERO)).unwrap().unwrap();
    let seqs = |r: &[kfm_wal_core::AppendReceipt]| r.iter().map(|r| (r.seq, r.hash, r.seal_seq)).collect::<Vec<_>>();
    assert_eq!(seqs(&first), seqs(&second));
    // A failed batch fails the same way every time: a completion of no intent in the log.
    let orphan = br#"{"wal_id":"0b7c1f4e-2b8a-4c1e-9f3a-6d5e4c3b2a10","status":"failed"}"#.to_vec();
    let h = w.submit_owned(Kind::Completion, vec![orphan]).unwrap();
    for _ in 0..2 {
        assert!(matches!(h.wait(None), Some(Err(WalError::Conflict { index: 0, .. }))));
    }
    // A conflict writes nothing and poisons nothing: the next batch goes through.
    assert!(w.submit_owned(Kind::Intent, entries(10, 1)).unwrap().wait(None).unwrap().is_ok());
    let empty = w.submit_owned(Kind::Intent, Vec::<Vec<u8>>::new()).unwrap();
    assert!(empty.done() && empty.wait(None).unwrap().unwrap().is_empty());
}

#[test]
fn a_schema_error_is_raised_by_submit_and_leaves_the_batch_in_flight_alone() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), fsync()).unwrap();
    let head = w.head().seq;
    let earlier = w.submit_owned(Kind::Intent, entries(0, 200)).unwrap();
    let mut bad = entries(1000, 3);
    bad[1] = br#"{"operation":"etl_step"}"#.to_vec();
    assert!(matches!(w.submit_owned(Kind::Intent, bad), Err(WalError::Schema { index: 1, .. })));
    let r = earlier.wait(None).unwrap().unwrap();
    assert_eq!(r.len(), 200);
    assert_eq!(w.head().seq, head + 201, "the earlier batch and its seal, nothing of the bad one");
    drop(w);
    let rep = check(dir.path());
    assert!(rep.ok() && rep.intents == 200, "{:?}", rep.findings);
}

#[test]
fn closing_with_batches_in_flight_resolves_every_one() {
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), fsync()).unwrap();
    let handles: Vec<_> = (0..30).map(|b| w.submit_owned(Kind::Intent, entries(b * 100, 100)).unwrap()).collect();
    w.close();
    assert!(handles.iter().all(kfm_wal_core::Pending::done), "close waits for every batch in flight");
    assert!(handles.iter().all(|h| h.wait(None).unwrap().is_ok()));
    assert!(matches!(w.submit_owned(Kind::Intent, entries(0, 1)), Err(WalError::Closed)));
    drop(w);
    assert_eq!(check(dir.path()).intents, 3000);
    // Dropping a writer with batches in flight resolves them too.
    let dir = tempfile::tempdir().unwrap();
    let w = Writer::create(dir.path(), key(1), fsync()).unwrap();
    let handles: Vec<_> = (0..5).map(|b| w.submit_owned(Kind::Intent, entries(b * 10, 10)).unwrap()).collect();
    drop(w);
    assert!(handles.iter().all(|h| h.wait(Some(Duration::ZERO)).unwrap().is_ok()));
}

#[test]
fn the_bound_on_bytes_in_flight_holds_submit_back_without_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    // Smaller than one batch: each submit waits until nothing else is in flight.
    let w = Writer::create(dir.path(), key(1), fsync()).unwrap().with_max_in_flight_bytes(1);
    let handles: Vec<_> = (0..10).map(|b| w.submit_owned(Kind::Intent, entries(b * 10, 10)).unwrap()).collect();
    // The bound is the whole batch before the one just submitted: all but the last are done.
    assert!(handles[..9].iter().all(kfm_wal_core::Pending::done));
    assert!(handles.iter().all(|h| h.wait(None).unwrap().is_ok()));
}

/// Once armed, fails every call `which` picks, with `message`.
struct FailCalls {
    armed: AtomicBool,
    which: fn(&IoOp<'_>) -> bool,
    message: &'static str,
}

impl FailCalls {
    fn syncs() -> Arc<FailCalls> {
        Arc::new(FailCalls {
            armed: AtomicBool::new(false),
            which: |op| matches!(op, IoOp::SyncFile(_)),
            message: "injected sync failure",
        })
    }

    /// The live segment's writes.
    fn writes() -> Arc<FailCalls> {
        Arc::new(FailCalls {
            armed: AtomicBool::new(false),
            which: |op| matches!(op, IoOp::WriteAt(..)),
            message: "injected write failure",
        })
    }
}

impl IoHook for FailCalls {
    fn before(&self, op: IoOp<'_>) -> io::Result<()> {
        if self.armed.load(Ordering::SeqCst) && (self.which)(&op) {
            return Err(io::Error::other(self.message));
        }
        Ok(())
    }
}

#[test]
fn after_a_failed_sync_nothing_is_acknowledged_and_a_submit_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hook = FailCalls::syncs();
    let w = Writer::create_with(dir.path(), key(1), fsync(), Fs::with_hook(hook.clone())).unwrap();
    let ok = w.submit_owned(Kind::Intent, entries(0, 5)).unwrap();
    assert!(ok.wait(None).unwrap().is_ok());
    hook.armed.store(true, Ordering::SeqCst);
    // Submitted before the failure is known: the handle fails; after: submit itself fails.
    for b in 0..4 {
        match w.submit_owned(Kind::Intent, entries(100 + b, 1)) {
            Ok(h) => assert!(matches!(h.wait(None), Some(Err(WalError::Poisoned(_)))), "batch {b} acknowledged"),
            Err(e) => assert!(b > 0 && matches!(e, WalError::Poisoned(_)), "batch {b}: {e}"),
        }
    }
    assert!(w.poisoned().is_some());
    let len = std::fs::metadata(dir.path().join(w.head().segment)).unwrap().len();
    assert!(matches!(w.submit_owned(Kind::Intent, entries(200, 1)), Err(WalError::Poisoned(_))));
    assert!(matches!(w.append(Kind::Intent, &entries(300, 1)), Err(WalError::Poisoned(_))));
    assert_eq!(std::fs::metadata(dir.path().join(w.head().segment)).unwrap().len(), len, "nothing written");
}

#[test]
fn submits_from_many_threads_and_below_fsync_all_resolve_in_submit_order() {
    for durability in [Durability::Fsync, Durability::Os] {
        let dir = tempfile::tempdir().unwrap();
        let w = Writer::create(dir.path(), key(1), WriterOptions { durability, ..WriterOptions::default() }).unwrap();
        let w = w.with_max_in_flight_bytes(16 * 1024);
        let per_thread: Vec<Vec<kfm_wal_core::Pending>> = std::thread::scope(|s| {
            let spawned: Vec<_> = (0..4)
                .map(|t| {
                    let w = &w;
                    s.spawn(move || {
                        (0..10).map(|b| w.submit_owned(Kind::Intent, entries(t * 1000 + b * 10, 5)).unwrap()).collect()
                    })
                })
                .collect();
            spawned.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for handles in &per_thread {
            let firsts: Vec<u64> = handles.iter().map(|h| h.wait(None).unwrap().unwrap()[0].seq).collect();
            assert!(firsts.windows(2).all(|p| p[0] < p[1]), "one thread's batches in its submit order");
            let got = handles[0].wait(None).unwrap().unwrap();
            assert_eq!(got[0].durability, durability);
        }
        drop(w);
        assert_eq!(check(dir.path()).intents, 4 * 10 * 5);
    }
}

/// Holds the live segment's group writes (made while the commit leader holds the log) until
/// `release`, telling `entered` when one is held.
struct HoldWrites {
    held: std::sync::Mutex<bool>,
    released: std::sync::Condvar,
    entered: std::sync::mpsc::SyncSender<()>,
    armed: AtomicBool,
}

impl IoHook for HoldWrites {
    fn before(&self, op: IoOp<'_>) -> io::Result<()> {
        if self.armed.load(Ordering::SeqCst) && matches!(op, IoOp::WriteAt(..)) {
            let _ = self.entered.try_send(());
            let mut held = self.held.lock().unwrap();
            while *held {
                held = self.released.wait(held).unwrap();
            }
        }
        Ok(())
    }
}

#[test]
fn a_submit_does_not_wait_for_the_group_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let (entered, held_now) = std::sync::mpsc::sync_channel(1);
    let hook = Arc::new(HoldWrites {
        held: std::sync::Mutex::new(true),
        released: std::sync::Condvar::new(),
        entered,
        armed: AtomicBool::new(false),
    });
    let w = Writer::create_with(dir.path(), key(1), fsync(), Fs::with_hook(hook.clone())).unwrap();
    hook.armed.store(true, Ordering::SeqCst);
    let first = w.submit_owned(Kind::Intent, entries(0, 5)).unwrap();
    held_now.recv_timeout(Duration::from_secs(30)).expect("the first group's write started");
    // The write thread now holds the log mid-group. The next submit must hand its batch over
    // and return: the producer prepares batch N+1 while batch N is written.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| tx.send(w.submit_owned(Kind::Intent, entries(100, 5)).map(|_| ())).unwrap());
        let answer = rx.recv_timeout(Duration::from_secs(10));
        *hook.held.lock().unwrap() = false;
        hook.released.notify_all();
        assert!(matches!(answer, Ok(Ok(()))), "submit waited for the group being written: {answer:?}");
    });
    assert_eq!(first.wait(None).unwrap().unwrap().len(), 5);
    drop(w);
    assert!(check(dir.path()).ok());
}

#[test]
fn after_a_failed_write_a_submit_is_refused_with_the_write_failure() {
    let dir = tempfile::tempdir().unwrap();
    let hook = FailCalls::writes();
    let w = Writer::create_with(dir.path(), key(1), fsync(), Fs::with_hook(hook.clone())).unwrap();
    assert!(w.submit_owned(Kind::Intent, entries(0, 5)).unwrap().wait(None).unwrap().is_ok());
    hook.armed.store(true, Ordering::SeqCst);
    let failed = w.submit_owned(Kind::Intent, entries(100, 5)).unwrap().wait(None).unwrap();
    assert!(matches!(failed, Err(WalError::Poisoned(_))), "{failed:?}");
    match w.submit_owned(Kind::Intent, entries(200, 1)) {
        Err(WalError::Poisoned(why)) => assert!(why.contains("injected write failure"), "{why}"),
        other => panic!("a submit after a failed write: {:?}", other.map(|_| ())),
    }
    assert!(w.poisoned().is_some_and(|why| why.contains("injected write failure")));
}
