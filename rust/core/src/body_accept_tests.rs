//! The fast path may only accept what `body` accepts, with the same `wal_id`: checked on valid
//! lines, on every member replaced by values of every JSON type, and on random byte mutations.

use serde_json::{json, Value};

use super::{completion, intent};
use crate::body::{self, Context};
use crate::hash;
use crate::quote_index::QuoteIndex;
use crate::record::{self, Kind};

const ID: &str = "3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f";

fn intent_body() -> Value {
    json!({
        "wal_id": ID,
        "operation": "stac_item",
        "actor": {"type": "developer", "id": "dev:jchen", "run": 98355},
        "pre_state_hash": format!("sha256:{}", "a".repeat(64)),
        "post_state_expected": format!("sha256:{}", "b".repeat(64)),
        "payload": {"actions": [{"op": "emit", "path": "x/part-1.parquet", "n": -1.5e3, "ok": true, "no": null}], "note": "ü ✓"},
        "reversal": {"steps": [{"op": "restore", "path": "x/part-1.parquet"}]},
        "tier": 1,
        "governance": {"care": "public", "approvals": [{"by": "steward:kfm", "rule": "tier2"}]},
        "lineage_links": ["wal:b17ec815-2b1d-4519-83cd-3e621a0d917f"],
        "telemetry": {"id": "tel-e4026e3a99540adb", "span": "b864400a"}
    })
}

fn completion_body() -> Value {
    json!({
        "wal_id": ID,
        "status": "succeeded",
        "post_state_hash": format!("sha256:{}", "c".repeat(64)),
        "executed_digest": format!("sha256:{}", "d".repeat(64)),
        "duration_ms": 12.5,
        "error": "none",
        "detail": {"retries": 0}
    })
}

/// A whole line around `members` (the body without braces), as the writer spells it.
fn line(kind: Kind, members: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    record::write(&mut out, 3, &hash::ZERO, kind, b"2026-01-01T00:00:00.000000Z", members);
    out
}

fn members_of(v: &Value) -> Vec<u8> {
    let text = serde_json::to_vec(v).unwrap();
    text[1..text.len() - 1].to_vec()
}

/// (fast verdict, body's verdict) for one line.
fn verdicts(line: &[u8]) -> Option<(Option<u128>, Option<u128>)> {
    let env = record::parse(line).ok()?;
    let ts_ok = crate::timestamp::is_valid(env.timestamp);
    match env.kind? {
        Kind::Intent => Some((
            intent(line, &env, ts_ok, &mut QuoteIndex::default()),
            body::check_intent(line, Context::Line).ok().and_then(|f| f.wal_id),
        )),
        Kind::Completion => Some((
            completion(line, &env, ts_ok, &mut QuoteIndex::default()),
            body::check_completion(line, Context::Line).ok().map(|f| f.wal_id),
        )),
        _ => None,
    }
}

/// The rule: whatever the fast path accepts, `body` accepts with the same id.
fn assert_sound(line: &[u8]) {
    if let Some((fast, slow)) = verdicts(line) {
        assert!(
            fast.is_none() || fast == slow,
            "fast path accepted {:?} (body: {slow:?}): {}",
            fast,
            String::from_utf8_lossy(line)
        );
    }
}

fn values() -> Vec<Value> {
    let h = format!("sha256:{}", "e".repeat(64));
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(4),
        json!(5),
        json!(12),
        json!(-1),
        json!(1.0),
        json!(1e300),
        json!(-0.0),
        json!(""),
        json!("x"),
        json!("etl_step"),
        json!("rollback"),
        json!("Bad Op"),
        json!(h),
        json!(ID),
        json!("3F2B8C1E-5D4A-4E6B-9C7D-0A1B2C3D4E5F"),
        json!("succeeded"),
        json!("maybe"),
        json!("ci"),
        json!("public"),
        json!([]),
        json!([1]),
        json!([""]),
        json!(["a", "b"]),
        json!({}),
        json!({"id": ""}),
        json!({"id": "x"}),
        json!({"type": "ci", "id": "x"}),
        json!({"type": "robot", "id": "x"}),
        json!({"steps": []}),
        json!({"steps": [1], "irreversible": false}),
        json!({"steps": [1], "irreversible": true}),
        json!({"irreversible": true}),
        json!({"irreversible": true, "reason": ""}),
        json!({"irreversible": true, "reason": "why"}),
        json!({"irreversible": "yes", "steps": [1]}),
        json!({"steps": [1], "reason": 5}),
        json!({"care": "public", "approvals": {}}),
        json!({"care": "public", "approvals": null}),
        json!({"care": "secret"}),
        json!({"care": "public"}),
    ]
}

#[test]
fn accepts_writer_shaped_lines() {
    for (kind, body) in [(Kind::Intent, intent_body()), (Kind::Completion, completion_body())] {
        let l = line(kind, &members_of(&body));
        assert_eq!(
            verdicts(&l),
            Some((
                Some(uuid::Uuid::parse_str(ID).unwrap().as_u128()),
                Some(uuid::Uuid::parse_str(ID).unwrap().as_u128())
            ))
        );
    }
    let minimal = line(Kind::Completion, format!(r#""wal_id":"{ID}","status":"failed""#).as_bytes());
    assert!(verdicts(&minimal).unwrap().0.is_some());
    let spaced = line(
        Kind::Completion,
        format!(r#" "wal_id" : "{ID}" , "status":"failed" , "detail" : {{ "a" : [ 1 , 2 ] }} "#).as_bytes(),
    );
    // Whitespace between tokens is valid JSON that no kfm-wal writer emits: the fast pass
    // leaves it to serde, which accepts it.
    assert_eq!(verdicts(&spaced).unwrap(), (None, Some(uuid::Uuid::parse_str(ID).unwrap().as_u128())));
}

#[test]
fn member_values_of_every_type() {
    for (kind, base) in [(Kind::Intent, intent_body()), (Kind::Completion, completion_body())] {
        let names: Vec<String> =
            base.as_object().unwrap().keys().cloned().chain(["seq".into(), "surprise".into()]).collect();
        for name in &names {
            for v in values() {
                let mut body = base.clone();
                body[name.as_str()] = v.clone();
                assert_sound(&line(kind, &members_of(&body)));
                // The same value one level down, where the member holds an object.
                for (outer, inner) in [
                    ("actor", "type"),
                    ("actor", "id"),
                    ("reversal", "steps"),
                    ("reversal", "reason"),
                    ("reversal", "irreversible"),
                    ("governance", "care"),
                    ("governance", "approvals"),
                    ("telemetry", "id"),
                    ("detail", "x"),
                ] {
                    let mut body = base.clone();
                    if body.get(outer).is_some_and(Value::is_object) {
                        body[outer][inner] = v.clone();
                        assert_sound(&line(kind, &members_of(&body)));
                    }
                }
            }
            let mut body = base.clone();
            body.as_object_mut().unwrap().remove(name);
            assert_sound(&line(kind, &members_of(&body)));
        }
    }
}

#[test]
fn spellings_serde_reads_differently() {
    let m = String::from_utf8(members_of(&intent_body())).unwrap();
    let c = String::from_utf8(members_of(&completion_body())).unwrap();
    let cases = [
        (Kind::Intent, m.replace("\"tier\":1", "\"tier\":1,\"tier\":1")),
        (Kind::Intent, m.replace("\"tier\":1", "\"tier\":4")),
        (Kind::Intent, m.replace("\"tier\":1", "\"tier\":01")),
        (Kind::Intent, m.replace("\"tier\":1", "\"tier\":1e0")),
        (Kind::Intent, m.replace("\"wal_id\"", "\"w\\u0061l_id\"")),
        (Kind::Intent, m.replace("\"type\":\"developer\"", "\"t\\u0079pe\":\"developer\"")),
        (Kind::Intent, m.replace("\"type\":\"developer\"", "\"type\":\"develope\\u0072\"")),
        (Kind::Intent, m.replace("\"type\":\"developer\"", "\"type\":\"developer\",\"type\":\"ci\"")),
        (Kind::Intent, m.replace("\"id\":\"dev:jchen\"", "\"id\":\"\\ud800\"")),
        (Kind::Intent, m.replace("\"id\":\"dev:jchen\"", "\"id\":\"\\ud83d\\ude00\"")),
        (Kind::Intent, m.replace("\"id\":\"dev:jchen\"", "\"id\":\"\\x\"")),
        (Kind::Intent, m.replace("\"note\":", &format!("\"deep\":{}{},\"note\":", "[".repeat(200), "]".repeat(200)))),
        (Kind::Intent, m.replace("\"note\":", &format!("\"deep\":{}{},\"note\":", "[".repeat(60), "]".repeat(60)))),
        (Kind::Intent, m.replace("-1.5e3", "-01")),
        (Kind::Intent, m.replace("-1.5e3", "1.")),
        (Kind::Intent, m.replace("-1.5e3", "+1")),
        (Kind::Intent, m.replace("\"ok\":true", "\"ok\":tru")),
        (Kind::Intent, m.replace("ü", "\t")),
        (Kind::Completion, c.replace("12.5", "1e400")),
        (Kind::Completion, c.replace("12.5", "-0")),
        (Kind::Completion, c.replace("12.5", &"9".repeat(400))),
        (Kind::Completion, c.replace("\"none\"", "\"\\u00e9\"")),
        (Kind::Completion, c.replace("\"none\"", "null")),
    ];
    for (kind, members) in cases {
        assert_sound(&line(kind, members.as_bytes()));
    }
    let mut bad_utf8 = line(Kind::Completion, c.as_bytes());
    let at = bad_utf8.windows(4).position(|w| w == b"none").unwrap();
    bad_utf8[at] = 0xC3;
    assert_sound(&bad_utf8);
}

#[test]
fn uuid_spelling_as_body_reads_it() {
    const DIGITS: &[u8] = b"0123456789abcdefABCDEF-g";
    let mut rng = fastrand::Rng::with_seed(3);
    for _ in 0..20_000 {
        let mut text = *b"3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f";
        for _ in 0..rng.usize(0..3) {
            text[rng.usize(0..36)] = DIGITS[rng.usize(0..DIGITS.len())];
        }
        let want = body::parse_uuid_v4(std::str::from_utf8(&text).unwrap());
        assert_eq!(super::uuid_v4(&text), want, "{}", String::from_utf8_lossy(&text));
    }
}

#[test]
fn random_mutations() {
    const BYTES: &[u8] = b"\"\\{}[],: 0-1e.ntfu\x00\x1f\x7f\xc3\xa9\xff";
    let mut rng = fastrand::Rng::with_seed(7);
    let bases =
        [line(Kind::Intent, &members_of(&intent_body())), line(Kind::Completion, &members_of(&completion_body()))];
    for _ in 0..60_000 {
        let mut l = bases[rng.usize(0..2)].clone();
        let env = record::parse(&l).unwrap();
        let start = env.body.as_ptr() as usize - l.as_ptr() as usize;
        let end = start + env.body.len() - 1;
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(start..end);
            let b = BYTES[rng.usize(0..BYTES.len())];
            match rng.u8(0..3) {
                0 => l[at] = b,
                1 => l.insert(at, b),
                _ => _ = l.remove(at),
            }
        }
        assert_sound(&l);
    }
}
