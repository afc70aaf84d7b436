//! Tests of the record-body schema checks (`body`).

use super::*;

fn entry() -> serde_json::Value {
    serde_json::json!({
        "operation": "etl_step",
        "actor": {"type": "ci", "id": "runner-1"},
        "pre_state_hash": format!("sha256:{}", "a".repeat(64)),
        "post_state_expected": format!("sha256:{}", "b".repeat(64)),
        "payload": {"actions": []},
        "reversal": {"steps": [{"type": "noop"}]},
        "tier": 1,
        "governance": {"care": "public", "approvals": []},
        "lineage_links": ["wal:x"],
        "telemetry": {"id": "t-1"}
    })
}

fn check(v: &serde_json::Value) -> Result<IntentFacts, FieldError> {
    check_intent(&serde_json::to_vec(v).unwrap(), Context::Entry)
}

#[test]
fn accepts_a_seed_entry() {
    assert_eq!(check(&entry()).unwrap(), IntentFacts { wal_id: None });
}

#[test]
fn names_the_field_at_fault() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("tier", serde_json::json!(5), "tier"),
        ("tier", serde_json::json!("1"), "tier"),
        ("operation", serde_json::json!("Bad Op"), "operation"),
        ("pre_state_hash", serde_json::json!("md5:00"), "pre_state_hash"),
        ("reversal", serde_json::json!({"steps": []}), "reversal.steps"),
        ("reversal", serde_json::json!({"irreversible": true}), "reversal.reason"),
        ("governance", serde_json::json!({"care": "secret"}), "governance.care"),
        ("actor", serde_json::json!({"type": "robot", "id": "x"}), "actor.type"),
        ("telemetry", serde_json::json!({}), "telemetry.id"),
        ("wal_id", serde_json::json!("not-a-uuid"), "wal_id"),
        ("timestamp", serde_json::json!("2026-01-01T00:00:00.000000Z"), "timestamp"),
        ("surprise", serde_json::json!(1), "surprise"),
    ];
    for (member, value, field) in cases {
        let mut e = entry();
        e[member] = value;
        assert_eq!(check(&e).unwrap_err().field, field, "{member}");
    }
    let mut e = entry();
    e.as_object_mut().unwrap().remove("governance");
    assert_eq!(check(&e).unwrap_err().field, "governance");
    let mut e = entry();
    e["tier"] = serde_json::json!(4);
    assert_eq!(check(&e).unwrap_err().field, "tier");
    e["operation"] = serde_json::json!("rollback");
    assert!(check(&e).is_ok());
}

#[test]
fn fast_path_takes_valid_entries_and_lines() {
    let bytes = serde_json::to_vec(&entry()).unwrap();
    assert!(fast_intent(&bytes, Context::Entry).is_some());
    let mut line = Vec::new();
    let members = &bytes[1..bytes.len() - 1];
    let mut with_id = br#""wal_id":"3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f","#.to_vec();
    with_id.extend_from_slice(members);
    crate::record::write(
        &mut line,
        3,
        &hash::ZERO,
        crate::record::Kind::Intent,
        b"2026-01-01T00:00:00.000000Z",
        &with_id,
    );
    assert!(fast_intent(&line, Context::Line).is_some(), "{}", String::from_utf8_lossy(&line));
}

#[test]
fn fast_and_explaining_paths_agree() {
    let variants: Vec<(&str, serde_json::Value)> = vec![
        ("tier", serde_json::json!(4)),
        ("tier", serde_json::json!(1.0)),
        ("tier", serde_json::json!(-1)),
        ("reversal", serde_json::json!({"steps": [1], "irreversible": false})),
        ("reversal", serde_json::json!({"irreversible": true, "reason": "x"})),
        ("reversal", serde_json::json!({"irreversible": "yes", "steps": [1]})),
        ("governance", serde_json::json!({"care": "public", "approvals": {}})),
        ("lineage_links", serde_json::json!(["a", ""])),
        ("lineage_links", serde_json::json!([1])),
        ("actor", serde_json::json!({"type": "ci", "id": "x", "type2": 3})),
        ("payload", serde_json::json!([])),
        ("telemetry", serde_json::json!({"id": "t", "id2": ""})),
        ("wal_id", serde_json::json!("3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f")),
        ("wal_id", serde_json::json!("3f2b8c1e-5d4a-4e6b-1c7d-0a1b2c3d4e5f")),
    ];
    for (member, value) in variants {
        let mut e = entry();
        e[member] = value.clone();
        let bytes = serde_json::to_vec(&e).unwrap();
        let fast = fast_intent(&bytes, Context::Entry).is_some();
        let slow = explain_intent(&bytes, Context::Entry).is_ok();
        assert_eq!(fast, slow, "{member} = {value}");
    }
}

#[test]
fn duplicate_members_are_refused() {
    let text = serde_json::to_string(&entry()).unwrap();
    let dup = text.replacen('{', "{\"tier\":2,", 1);
    assert_eq!(check_intent(dup.as_bytes(), Context::Entry).unwrap_err().field, "tier");
}

#[test]
fn completion_rules() {
    let id = "0b7c1f4e-2b8a-4c1e-9f3a-6d5e4c3b2a10";
    let ok = format!(r#"{{"wal_id":"{id}","status":"succeeded","duration_ms":1.5}}"#);
    assert!(check_completion(ok.as_bytes(), Context::Entry).is_ok());
    let bad = format!(r#"{{"wal_id":"{id}","status":"maybe"}}"#);
    assert_eq!(check_completion(bad.as_bytes(), Context::Entry).unwrap_err().field, "status");
}

#[test]
fn stream_ids_follow_the_header_rule() {
    for ok in ["a", "0", "etl-worker-1.a_b", &"x".repeat(64)] {
        assert!(is_stream_id(ok), "{ok}");
        assert!(check_header_stream(Some(ok)).is_ok());
    }
    for bad in ["", "A", "-a", ".a", "_a", "a b", "a/b", "é", &"x".repeat(65)] {
        assert!(!is_stream_id(bad), "{bad}");
        assert!(check_header_stream(Some(bad)).is_err());
    }
    assert!(check_header_stream(None).is_ok());
}

#[test]
fn a_header_stream_must_be_a_string_when_present() {
    let base = r#"{"format":"kfm-wal/1","log_id":"x","segment":1,"key_id":"k","public_key":"p","max_record_bytes":1,"max_segment_bytes":1"#;
    let parse = |tail: &str| parse_line_body::<HeaderBody>(format!("{base}{tail}}}").as_bytes()).map(|h| h.stream);
    assert_eq!(parse("").unwrap(), None);
    assert_eq!(parse(r#","stream":"etl-a""#).unwrap().as_deref(), Some("etl-a"));
    assert!(parse(r#","stream":null"#).is_err());
    assert!(parse(r#","stream":7"#).is_err());
}
