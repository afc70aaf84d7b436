//! Tests of entry preparation (`prepare`): the fast path against the serde check, chunked batches.

use super::*;
use crate::test_mutations::mutate;

fn entry(i: usize) -> Vec<u8> {
    let h = "a".repeat(64);
    format!(
        r#"{{"actor":{{"id":"r","type":"ci"}},"governance":{{"care":"public"}},"lineage_links":[],"operation":"etl_step","payload":{{"i":{i}}},"post_state_expected":"sha256:{h}","pre_state_hash":"sha256:{h}","reversal":{{"steps":[{{"type":"file.delete"}}]}},"telemetry":{{"id":"t"}},"tier":1}}"#
    )
    .into_bytes()
}

#[test]
fn nesting_depth_counts_brackets_outside_strings_and_the_writer_refuses_past_the_limit() {
    assert_eq!(nesting_depth(br#"{"a":[1,{"b":"[[{{\"]]"}]}"#), 3);
    assert_eq!(nesting_depth(br#"{"a":"\\"}"#), 1);
    let nested = |levels: usize| {
        let e = String::from_utf8(entry(0)).unwrap();
        let deep = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
        e.replace(r#"{"i":0}"#, &format!(r#"{{"i":{deep}}}"#)).into_bytes()
    };
    // The entry is level 1 and payload level 2, so `levels` arrays inside reach levels + 2.
    assert!(prepare(Kind::Intent, &[nested(MAX_ENTRY_DEPTH - 2)], 1 << 20).is_ok());
    match prepare(Kind::Intent, &[nested(MAX_ENTRY_DEPTH - 1)], 1 << 20) {
        Err(WalError::Schema { index: 0, message, .. }) => assert!(message.contains("128"), "{message}"),
        other => panic!("expected a schema refusal, got {other:?}"),
    }
}

/// The serde check alone (what `prepare_one` did before the fast path): its verdict and id.
#[allow(clippy::option_option, reason = "refused, or accepted with or without a wal_id: the verdict compared")]
fn slow(kind: Kind, json: &[u8]) -> Option<Option<u128>> {
    match kind {
        Kind::Intent => body::check_intent(json, Context::Entry).ok().map(|f| f.wal_id),
        _ => body::check_completion(json, Context::Entry).ok().map(|f| Some(f.wal_id)),
    }
}

#[allow(clippy::option_option, reason = "refused, or accepted with or without a wal_id")]
fn fast(kind: Kind, entry: &[u8]) -> Option<Option<u128>> {
    // As `prepare_one`: an object, its members read in place, on one line.
    let outer = trimmed(entry);
    let json = &entry[outer.clone()];
    if json.len() < 2 || json[0] != b'{' || json[json.len() - 1] != b'}' {
        return None;
    }
    let within = trimmed(&json[1..json.len() - 1]);
    let members = (outer.start + 1 + within.start)..(outer.start + 1 + within.end);
    let id = accept(kind, entry, members.clone(), &mut QuoteIndex::default())?;
    // The acceptor refused every control character from the members to the closing brace.
    assert!(memchr::memchr2(b'\n', b'\r', &entry[members.start..outer.end]).is_none());
    memchr::memchr2(b'\n', b'\r', &entry[outer.start..members.start]).is_none().then_some(id)
}

/// Whatever the fast path accepts as an entry, the serde check accepts with the same `wal_id`, or
/// as the fast path does without one (names reserved for the envelope included).
fn assert_sound(kind: Kind, json: &[u8]) {
    if let Some(id) = fast(kind, json) {
        assert_eq!(slow(kind, json), Some(id), "fast path accepted {}", String::from_utf8_lossy(json));
    }
}

const ID: &str = "3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f";

fn completion() -> Vec<u8> {
    format!(r#"{{"wal_id":"{ID}","status":"succeeded","duration_ms":1.5,"detail":{{"n":null}}}}"#).into_bytes()
}

#[test]
fn fast_path_takes_seed_entries_and_agrees_with_the_serde_check() {
    let id = uuid::Uuid::parse_str(ID).unwrap().as_u128();
    let with_id = |e: &[u8]| [format!(r#"{{"wal_id":"{ID}","#).as_bytes(), &e[1..]].concat();
    let intent = with_id(&entry(7));
    assert_eq!(fast(Kind::Intent, &intent), Some(Some(id)));
    assert_eq!(fast(Kind::Completion, &completion()), Some(Some(id)));
    // An intent without a wal_id is taken too (the writer assigns one); a completion without
    // one is not (it names the intent it completes).
    assert_eq!(fast(Kind::Intent, &entry(7)), Some(None));
    assert_eq!(slow(Kind::Intent, &entry(7)), Some(None));
    assert_eq!(fast(Kind::Completion, br#"{"status":"succeeded"}"#), None);
    // Read in place: the entry's closing brace ends its members; surrounding whitespace is
    // allowed, line breaks nowhere (a trailing comma, or whitespace before the brace, is left
    // to the serde check).
    assert_eq!(fast(Kind::Intent, &[b" ", &intent[..], b"\n"].concat()), Some(Some(id)));
    assert_eq!(fast(Kind::Intent, &[b"{\n", &intent[1..]].concat()), None);
    assert_eq!(fast(Kind::Intent, &[&intent[..intent.len() - 1], b",}"].concat()), None);
    assert_eq!(fast(Kind::Intent, &[&intent[..intent.len() - 1], b" }"].concat()), None);
    assert_eq!(fast(Kind::Intent, &[&intent[..intent.len() - 1], b"}}"].concat()), None);
    for broken in [[b"{\r\n", &intent[1..]].concat(), [&intent[..intent.len() - 1], b"\n}"].concat()] {
        match prepare(Kind::Intent, &[broken], 1 << 20) {
            Err(WalError::Schema { index: 0, message, .. }) => assert!(message.contains("line breaks"), "{message}"),
            other => panic!("a line break must be refused: {other:?}"),
        }
    }
    let reserved = [&intent[..intent.len() - 1], b",\"seq\":1}"].concat();
    assert_eq!(fast(Kind::Intent, &reserved), None);
    assert!(slow(Kind::Intent, &reserved).is_none());

    // Every member of both kinds replaced by values of every JSON type, dropped, or
    // doubled; then random byte mutations.
    let values: &[&str] = &[
        "null",
        "true",
        "false",
        "0",
        "4",
        "5",
        "-1",
        "1.5",
        "\"\"",
        "\"x\"",
        "\"etl_step\"",
        "\"rollback\"",
        "\"ci\"",
        "\"public\"",
        "\"failed\"",
        "[]",
        "[\"\"]",
        "[\"a\"]",
        "{}",
        "{\"id\":\"x\"}",
        "{\"type\":\"ci\",\"id\":\"x\"}",
        "{\"steps\":[]}",
        "{\"irreversible\":true,\"reason\":\"why\"}",
        "{\"care\":\"public\",\"approvals\":null}",
    ];
    let mut rng = fastrand::Rng::with_seed(5);
    for (kind, base) in [(Kind::Intent, intent), (Kind::Intent, entry(7)), (Kind::Completion, completion())] {
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&base).unwrap();
        for name in value.keys().map(String::as_str).chain(["seq", "hash", "extra"]) {
            for v in values.iter().map(|v| Some(*v)).chain([None]) {
                let mut members: Vec<String> = Vec::new();
                for (k, old) in &value {
                    if k != name {
                        members.push(format!("{k:?}:{old}"));
                    }
                }
                if let Some(v) = v {
                    members.push(format!("{name:?}:{v}"));
                }
                let json = format!("{{{}}}", members.join(","));
                assert_sound(kind, json.as_bytes());
                if let Some(v) = v {
                    assert_sound(kind, format!("{{{},{name:?}:{v}}}", members.join(",")).as_bytes());
                }
            }
        }
        for _ in 0..20_000 {
            assert_sound(kind, &mutate(&mut rng, &base, b"\"\\{}[]:, \t0a-.eE", false));
        }
    }
}

#[test]
fn handed_over_entries_keep_their_members_in_place_streamed_chunks_share_one_buffer() {
    let with_id = [format!(r#"{{"wal_id":"{ID}","#).as_bytes(), &entry(3)[1..]].concat();
    let spaced = [b" \t{ ".as_slice(), &with_id[1..with_id.len() - 1], b" }\t ".as_slice()].concat();
    let entries = vec![with_id.clone(), spaced, entry(4), completion()];
    let kinds = [Kind::Intent, Kind::Intent, Kind::Intent, Kind::Completion];
    for (entry, kind) in entries.into_iter().zip(kinds) {
        let lent = prepare(kind, std::slice::from_ref(&entry), 1 << 20).unwrap();
        let owned = prepare_owned(kind, vec![entry.clone()], 1 << 20).unwrap();
        let chunk = prepare_chunk(kind, &[entry.clone(), entry.clone()], 1 << 20, 0).unwrap();
        let (lent, owned) = (&lent[0], &owned[0]);
        // Every way keeps the caller's members as they are: in the entry, one buffer per chunk
        // (both entries' members in it, in order), or a copy of a lent entry.
        let Members::Arena { arena, .. } = &chunk[0].members else { panic!("{:?}", chunk[0].members) };
        assert_eq!(&arena[..], [chunk[0].members(), chunk[1].members()].concat().as_slice());
        assert!(matches!(owned.members, Members::Shared { .. }));
        assert!(matches!(lent.members, Members::Owned(_)));
        let json = &entry[trimmed(&entry)];
        let members = &json[1..json.len() - 1][trimmed(&json[1..json.len() - 1])];
        for p in [lent, owned, &chunk[0], &chunk[1]] {
            assert_eq!(p.members(), members);
        }
        if entry.windows(8).any(|w| w == b"\"wal_id\"") {
            assert!([lent, owned, &chunk[0]].iter().all(|p| p.wal_id == owned.wal_id && p.assigned_id().is_none()));
        } else {
            // An id the writer assigned: one per entry, written before the members.
            let ids = [lent, owned, &chunk[0], &chunk[1]].map(|p| p.assigned_id().unwrap());
            assert!(ids.iter().enumerate().all(|(i, a)| ids[i + 1..].iter().all(|b| a != b)), "{ids:?}");
            assert_eq!(owned.body_len(), members.len() + ASSIGNED_ID_LEN);
        }
    }
}

/// Both places to check chunks: the same answers, the same first error.
const CHECKS: [ChunkChecks; 2] = [ChunkChecks::Background, ChunkChecks::Caller];

#[test]
fn streamed_chunks_match_one_batch_and_name_the_batch_index() {
    for checks in CHECKS {
        streamed_chunks_match_one_batch(checks);
    }
}

fn streamed_chunks_match_one_batch(checks: ChunkChecks) {
    let entries: Vec<Vec<u8>> = (0..1500).map(entry).collect();
    let mut s = Streamed::new(Kind::Intent, 1 << 20, checks);
    for chunk in entries.chunks(256) {
        s.push(chunk.to_vec());
    }
    assert_eq!(s.len(), 1500);
    let streamed = s.finish().unwrap();
    let whole = prepare(Kind::Intent, &entries, 1 << 20).unwrap();
    assert_eq!(streamed.len(), whole.len());
    // Ids are assigned per entry; everything else is the same bytes in the same order.
    let strip = |p: &Prepared| p.members()[p.members().iter().position(|&b| b == b',').unwrap()..].to_vec();
    assert!(streamed.iter().zip(&whole).all(|(a, b)| strip(a) == strip(b)));

    let mut bad = entries.clone();
    bad[700] = b"{\"tier\":1}".to_vec();
    bad[1400] = b"[]".to_vec();
    let mut s = Streamed::new(Kind::Intent, 1 << 20, checks);
    for chunk in bad.chunks(256) {
        s.push(chunk.to_vec());
    }
    match s.finish() {
        Err(WalError::Schema { index, .. }) => assert_eq!(index, 700),
        other => panic!("expected the schema error of entry 700, got {other:?}"),
    }
}

/// Chunks as JSON arrays: `[e0,e1,..]` as one buffer, the way the Python layer hands them over.
fn as_array(chunk: &[Vec<u8>]) -> Vec<u8> {
    [b"[".as_slice(), &chunk.join(b",".as_slice()), b"]"].concat()
}

#[test]
fn array_chunks_prepare_as_lists_do_members_left_in_the_array() {
    for checks in CHECKS {
        array_chunks_prepare_as_lists_do(checks);
    }
}

fn array_chunks_prepare_as_lists_do(checks: ChunkChecks) {
    let entries: Vec<Vec<u8>> = (0..1500).map(entry).collect();
    let mut s = Streamed::new(Kind::Intent, 1 << 20, checks);
    for chunk in entries.chunks(256) {
        s.push_array(as_array(chunk), chunk.len());
    }
    assert_eq!(s.len(), 1500);
    let arrays = s.finish().unwrap();
    let whole = prepare(Kind::Intent, &entries, 1 << 20).unwrap();
    let strip = |p: &Prepared| p.members()[p.members().iter().position(|&b| b == b',').unwrap()..].to_vec();
    assert_eq!(arrays.len(), whole.len());
    assert!(arrays.iter().zip(&whole).all(|(a, b)| strip(a) == strip(b)));
    // An entry with its own id is kept where it is in the array, not copied.
    let with_id = [format!(r#"{{"wal_id":"{ID}","#).as_bytes(), &entry(3)[1..]].concat();
    let mut s = Streamed::new(Kind::Intent, 1 << 20, checks);
    s.push_array(as_array(&[with_id]), 1);
    assert!(matches!(s.finish().unwrap()[0].members, Members::Shared { .. }));

    // The first bad entry names its index in the whole batch, whichever chunk it is in.
    let mut bad = entries.clone();
    bad[700] = b"{\"tier\":1}".to_vec();
    bad[1400] = b"7".to_vec();
    let mut s = Streamed::new(Kind::Intent, 1 << 20, checks);
    for chunk in bad.chunks(256) {
        s.push_array(as_array(chunk), chunk.len());
    }
    match s.finish() {
        Err(WalError::Schema { index, .. }) => assert_eq!(index, 700),
        other => panic!("expected the schema error of entry 700, got {other:?}"),
    }
    // An array that does not hold as many entries as announced fails the batch, naming the chunk.
    let mut s = Streamed::new(Kind::Intent, 1 << 20, checks);
    s.push_array(as_array(&entries[..256]), 256);
    s.push_array(as_array(&entries[256..300]), 45);
    match s.finish() {
        Err(WalError::InvalidArgument(m)) => {
            assert!(m.contains("the chunk from entry 256: not one JSON array of 45 entries"), "{m}");
        }
        other => panic!("expected the chunk to be refused, got {other:?}"),
    }
    // However many it announces: nothing is set aside for entries the array cannot hold.
    let mut s = Streamed::new(Kind::Intent, 1 << 20, checks);
    s.push_array(as_array(&entries[..3]), usize::MAX);
    assert!(matches!(s.finish(), Err(WalError::InvalidArgument(_))));
}
