//! Opening from a clean close (docs/FORMAT.md section 7): the next writer reads only what was
//! written after the last clean close, trusting history before it on the signed state; anything
//! the state records that has changed makes it verify everything; later tampering with older
//! segments is still caught by a full verification; duplicate ids from before are still refused.

mod common;

use std::path::Path;

use common::*;
use kfm_wal_core::record::Kind;
use kfm_wal_core::{Code, Durability, RecoveryMode, WalError, Writer};

fn open(dir: &Path) -> Result<Writer, WalError> {
    Writer::open(dir, key(1), RecoveryMode::TolerateTail, Durability::Fsync)
}

fn log_bytes(dir: &Path) -> u64 {
    kfm_wal_core::segment::list(dir).unwrap().iter().map(|s| std::fs::metadata(&s.path).unwrap().len()).sum()
}

fn with_id(i: usize, id: &str) -> Vec<u8> {
    let e = String::from_utf8(entry(i)).unwrap();
    format!(r#"{{"wal_id":"{id}",{}"#, &e[1..]).into_bytes()
}

const OLD_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

/// A log of several segments, one intent with a known id completed early on, closed cleanly.
fn closed_log(dir: &Path) -> u64 {
    let w = Writer::create(dir, key(1), small_segments()).unwrap();
    w.append(Kind::Intent, &[with_id(0, OLD_ID)]).unwrap();
    w.append(Kind::Completion, &[format!(r#"{{"wal_id":"{OLD_ID}","status":"succeeded"}}"#).into_bytes()]).unwrap();
    for i in 0..20 {
        append(&w, 10 + i * 10, 10);
    }
    let head = w.head().seq;
    w.close();
    head
}

#[test]
fn after_a_clean_close_only_what_follows_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let head = closed_log(dir.path());
    let w = open(dir.path()).unwrap();
    let opened = w.opened();
    assert_eq!(opened.trusted_seq, Some(head));
    // The live segment, read whole, and nothing before it.
    let live = std::fs::metadata(&kfm_wal_core::segment::list(dir.path()).unwrap().pop().unwrap().path).unwrap().len();
    assert!(opened.verified_bytes <= live + 1024, "read {} bytes of {}", opened.verified_bytes, log_bytes(dir.path()));
    assert!(log_bytes(dir.path()) > 8 * live);
    // Written since, then a crash (no clean close): the next open reads what was written since.
    append(&w, 5000, 30);
    drop(w);
    let w = open(dir.path()).unwrap();
    assert_eq!(w.opened().trusted_seq, Some(head));
    assert!(w.opened().verified_bytes > 30 * 500, "{:?}", w.opened());
    append(&w, 6000, 5);
    w.close();
    let report = check(dir.path());
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn ids_from_before_the_close_are_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    closed_log(dir.path());
    // The ids file damaged: the duplicate check reads the ids from the log instead.
    for damage_ids in [false, true] {
        if damage_ids {
            std::fs::write(dir.path().join("open-state.ids"), b"not the ids").unwrap();
        }
        let w = open(dir.path()).unwrap();
        assert!(w.opened().trusted_seq.is_some());
        let dup = w.append(Kind::Intent, &[with_id(1, OLD_ID)]);
        assert!(matches!(dup, Err(ref e) if e.to_string().contains("wal_id")), "{dup:?}");
        let again =
            w.append(Kind::Completion, &[format!(r#"{{"wal_id":"{OLD_ID}","status":"succeeded"}}"#).into_bytes()]);
        assert!(again.is_err());
        append(&w, 7000, 3);
        w.close();
        assert!(check(dir.path()).findings.is_empty());
    }
}

#[test]
fn tampering_is_caught_by_validation_and_a_changed_size_by_opening() {
    let dir = tempfile::tempdir().unwrap();
    closed_log(dir.path());
    let first = kfm_wal_core::segment::list(dir.path()).unwrap().into_iter().find(|s| s.archived).unwrap();
    let original = std::fs::read(&first.path).unwrap();
    // Same size, one letter changed: opening trusts the signed state (it does not re-read), but
    // a full verification, which always reads everything, reports it.
    let mut changed = original.clone();
    let at = changed.windows(8).position(|w| w == b"\"runner\"").unwrap() + 1;
    changed[at] = b's';
    std::fs::write(&first.path, &changed).unwrap();
    let w = open(dir.path()).unwrap();
    assert!(w.opened().trusted_seq.is_some());
    drop(w);
    assert_eq!(codes(&check(dir.path()))[0], "record.hash");
    // Cut short: the recorded size no longer holds, so opening verifies everything and refuses.
    std::fs::write(&first.path, &changed[..changed.len() - 10]).unwrap();
    assert!(matches!(open(dir.path()), Err(WalError::Corruption(_))));
    std::fs::write(&first.path, &original).unwrap();
    assert!(open(dir.path()).unwrap().opened().trusted_seq.is_some());
    // The live segment is always read whole: damage there refuses to open, as without the state.
    let live = kfm_wal_core::segment::list(dir.path()).unwrap().pop().unwrap();
    let mut bytes = std::fs::read(&live.path).unwrap();
    let at = bytes.windows(8).position(|w| w == b"\"runner\"").unwrap() + 1;
    bytes[at] = b's';
    std::fs::write(&live.path, &bytes).unwrap();
    assert!(matches!(open(dir.path()), Err(WalError::Corruption(ref f)) if f.code == Code::RecordHash));
}

#[test]
fn a_state_not_signed_by_this_key_or_changed_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    closed_log(dir.path());
    let state = dir.path().join("open-state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, text.replacen("\"seq\":", "\"seq\":1", 1)).unwrap();
    let w = open(dir.path()).unwrap();
    assert_eq!(w.opened().trusted_seq, None, "a changed state: everything verified");
    assert_eq!(w.opened().verified_bytes, log_bytes(dir.path()));
    drop(w);
    // Another writer key: refused as before (the key in force is the log's), state unused.
    let other = Writer::open(dir.path(), key(2), RecoveryMode::TolerateTail, Durability::Fsync);
    assert!(matches!(other, Err(WalError::KeyMismatch { .. })));
}

#[test]
fn a_torn_tail_after_the_close_is_cut_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let head = closed_log(dir.path());
    let live = kfm_wal_core::segment::list(dir.path()).unwrap().pop().unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&live.path).unwrap();
    std::io::Write::write_all(&mut f, b"{\"seq\":99999,\"prev\":\"torn").unwrap();
    let w = open(dir.path()).unwrap();
    assert_eq!(w.opened().trusted_seq, Some(head));
    assert_eq!(w.recovery().len(), 1);
    assert!(w.recovery()[0].action.contains(Code::TailTorn.as_str()));
}
