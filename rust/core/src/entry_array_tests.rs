use proptest::prelude::*;
use serde_json::Value;

use super::*;

fn elements(data: &str) -> Option<Vec<&str>> {
    split_array(data.as_bytes()).map(|ranges| ranges.into_iter().map(|r| &data[r]).collect())
}

#[test]
fn splits_at_top_level_commas_only() {
    assert_eq!(
        elements(r#"[{"a":1},{"b":[1,2,{"c":"x,}]{["}]}]"#).unwrap(),
        [r#"{"a":1}"#, r#"{"b":[1,2,{"c":"x,}]{["}]}"#]
    );
    assert_eq!(elements("[]").unwrap(), Vec::<&str>::new());
    assert_eq!(elements("[1]").unwrap(), ["1"]);
    assert_eq!(elements(r#"["a",[],{}]"#).unwrap(), [r#""a""#, "[]", "{}"]);
    // Empty elements are cut as they stand (and fail their check as entries).
    assert_eq!(elements("[,]").unwrap(), ["", ""]);
}

#[test]
fn escaped_quotes_and_backslash_runs() {
    // `\"` does not end a string; `\\` before `"` does.
    assert_eq!(elements(r#"[{"a":"x\",]"},{"b":"y\\"}]"#).unwrap(), [r#"{"a":"x\",]"}"#, r#"{"b":"y\\"}"#]);
    assert_eq!(elements(r#"[{"a":"\\\",\\"},{"b":"\\\\\\"}]"#).unwrap(), [r#"{"a":"\\\",\\"}"#, r#"{"b":"\\\\\\"}"#]);
}

#[test]
fn strings_and_escapes_across_block_boundaries() {
    // Every position of a backslash run and of a string's end relative to the 64-byte blocks.
    for pad in 0..130 {
        for run in 0..5 {
            let text = format!("{}{}", "p".repeat(pad), "\\".repeat(run));
            // An odd run escapes the closing quote: make it even so the string closes, and
            // follow it with an escaped quote and a comma inside the string.
            let text = if run % 2 == 1 { format!("{text}\\\\\",]") } else { format!("{text}\\\",]") };
            let first = format!(r#"{{"s":"{text}"}}"#);
            let data = format!(r#"[{first},{{"t":1}}]"#);
            assert!(serde_json::from_str::<Value>(&data).is_ok(), "{data}");
            assert_eq!(elements(&data).unwrap(), [first.as_str(), r#"{"t":1}"#], "{data}");
        }
    }
}

#[test]
fn not_one_array() {
    for bad in [
        "",
        "x",
        "{}",
        "[",
        "]",
        "[1",
        "[1]]",
        "[1],",
        "[1] ",
        " [1]",
        "[{]",
        r#"["a]"#,
        r#"["a\"]"#,
        "[}",
        "{1]",
        "[1]x[",
    ] {
        assert!(split_array(bad.as_bytes()).is_none(), "{bad:?}");
    }
}

#[test]
fn classify_matches_its_scalar_reference() {
    let mut rng = fastrand::Rng::with_seed(7);
    let alphabet = b"{}[],\"\\ax :0";
    for _ in 0..2000 {
        let mut block = [0u8; 64];
        for b in &mut block {
            *b = if rng.bool() { alphabet[rng.usize(..alphabet.len())] } else { rng.u8(..) };
        }
        assert_eq!(classify(&block), classify_scalar(&block));
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    // Strings drawn from the characters that matter to the split, escapes included.
    let text = proptest::collection::vec(
        prop::sample::select(vec!['"', '\\', ',', '[', ']', '{', '}', 'a', ' ', 'é', '\n']),
        0..80,
    )
    .prop_map(|chars| chars.into_iter().collect::<String>());
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text.clone().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((text.clone(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any array serde_json writes compactly splits into exactly its elements' own encodings.
    #[test]
    fn splits_what_an_encoder_writes(values in proptest::collection::vec(json_value(), 0..12)) {
        let data = serde_json::to_vec(&values).unwrap();
        let ranges = split_array(&data).expect("an encoded array splits");
        let got: Vec<&[u8]> = ranges.iter().map(|r| &data[r.clone()]).collect();
        let want: Vec<Vec<u8>> = values.iter().map(|v| serde_json::to_vec(v).unwrap()).collect();
        prop_assert_eq!(got, want.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }
}
