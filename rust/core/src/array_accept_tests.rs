//! Tests of the one-walk array check against the path it shortcuts: the split
//! (`entry_array::split_array`), then each element prepared on its own (`prepare::prepare`).

use super::*;
use crate::entry_array::split_array;
use crate::prepare::prepare;
use crate::test_mutations::mutate;

const ID: &str = "3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f";

fn intent(i: usize, with_id: bool) -> String {
    let h = "b".repeat(64);
    let id = if with_id { format!(r#""wal_id":"{ID}","#) } else { String::new() };
    format!(
        r#"{{{id}"operation":"etl_step","actor":{{"type":"ci","id":"São \"r\"\\{i}"}},"pre_state_hash":"sha256:{h}","post_state_expected":"sha256:{h}","payload":{{"i":[{i},1.5e3,{{"k":"}}],{{"}}]}},"tier":1,"governance":{{"care":"public"}},"reversal":{{"steps":[{{"type":"file.delete"}}]}},"lineage_links":["x"],"telemetry":{{"id":"t"}}}}"#
    )
}

fn completion(i: usize) -> String {
    format!(r#"{{"wal_id":"{ID}","status":"succeeded","duration_ms":{i}.5,"detail":{{"n":[null,"]"]}}}}"#)
}

fn array(entries: &[String]) -> Vec<u8> {
    format!("[{}]", entries.join(",")).into_bytes()
}

/// Whatever the walk accepts, the split finds the same elements and each is prepared alone with
/// the same id (or assigned one, as the walk says) and the members between its braces.
fn assert_agrees(kind: Kind, data: &[u8], count: usize) -> bool {
    let Some(accepted) = accept_array(kind, data, count) else {
        return false;
    };
    let shown = String::from_utf8_lossy(data);
    let elements = split_array(data).unwrap_or_else(|| panic!("accepted but does not split: {shown}"));
    assert_eq!(elements, accepted.iter().map(|a| a.element.clone()).collect::<Vec<_>>(), "{shown}");
    let each: Vec<&[u8]> = elements.iter().map(|e| &data[e.clone()]).collect();
    let prepared = prepare(kind, &each, 1 << 20).unwrap_or_else(|e| panic!("accepted but refused alone: {e}: {shown}"));
    for ((p, a), e) in prepared.iter().zip(&accepted).zip(&each) {
        assert_eq!(p.assigned_id().is_some(), a.wal_id.is_none(), "{shown}");
        if let Some(id) = a.wal_id {
            assert_eq!(p.wal_id, id, "{shown}");
        }
        assert_eq!(p.members(), &e[1..e.len() - 1], "{shown}");
    }
    true
}

#[test]
fn walks_whole_arrays_of_every_kind_of_entry() {
    let intents: Vec<String> = (0..5).map(|i| intent(i, i % 2 == 0)).collect();
    assert!(assert_agrees(Kind::Intent, &array(&intents), 5));
    let completions: Vec<String> = (0..4).map(completion).collect();
    assert!(assert_agrees(Kind::Completion, &array(&completions), 4));
    assert!(assert_agrees(Kind::Intent, &array(&intents[..1]), 1));
    // Another count, another kind, bytes around the array, whitespace between elements, an
    // empty array: not sure, left to the split.
    for (kind, data, count) in [
        (Kind::Intent, array(&intents), 4),
        (Kind::Intent, array(&intents), 6),
        (Kind::Completion, array(&intents), 5),
        (Kind::Intent, array(&completions), 4),
        (Kind::Seal, array(&intents), 5),
        (Kind::Intent, [&array(&intents)[..], b" "].concat(), 5),
        (Kind::Intent, [b" ", &array(&intents)[..]].concat(), 5),
        (Kind::Intent, format!("[{}, {}]", intents[0], intents[1]).into_bytes(), 2),
        (Kind::Intent, b"[]".to_vec(), 0),
        (Kind::Intent, array(&intents), usize::MAX),
    ] {
        assert!(accept_array(kind, &data, count).is_none(), "{kind:?} {count} {}", String::from_utf8_lossy(&data));
    }
    // Non-ASCII text is taken once the whole array is UTF-8; a stray byte or a control
    // character anywhere leaves it to the split (which finds the entry to blame).
    let mut bad = array(&intents);
    let at = bad.iter().position(|&b| b == 0xC3).unwrap();
    bad[at] = 0xFF;
    assert!(accept_array(Kind::Intent, &bad, 5).is_none());
    bad[at] = 0x09;
    assert!(accept_array(Kind::Intent, &bad, 5).is_none());
}

#[test]
fn accepts_nothing_the_split_then_check_path_would_not() {
    let mut rng = fastrand::Rng::with_seed(17);
    let bases = [
        (Kind::Intent, vec![intent(1, true), intent(2, false), intent(3, true)]),
        (Kind::Intent, vec![intent(4, false), intent(5, false)]),
        (Kind::Completion, vec![completion(1), completion(2), completion(3)]),
    ];
    let mut accepted = 0;
    for (kind, entries) in &bases {
        let base = array(entries);
        for _ in 0..20_000 {
            let m = mutate(&mut rng, &base, b"\"\\{}[]:, \t0a-.eEn", true);
            for count in [entries.len() - 1, entries.len(), entries.len() + 1] {
                accepted += usize::from(assert_agrees(*kind, &m, count));
            }
        }
    }
    // Some mutations keep the array acceptable (a changed digit, a doubled member of the payload).
    assert!(accepted > 500, "{accepted}");
}
