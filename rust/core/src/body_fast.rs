//! The fast path of the intent check: one typed pass over the bytes, no allocation unless a
//! string has escapes. It decides acceptance only; when it refuses, `body` re-checks the entry
//! member by member to say precisely what is wrong. Both must accept exactly the same entries:
//! `body`'s tests and `tests/test_schema_agreement.py` hold them to it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Any JSON object, contents skipped (validated, not kept).
pub struct AnyObject;

impl<'de> Deserialize<'de> for AnyObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyObject, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyObject)
            }
        }
        d.deserialize_map(V)
    }
}

/// Any JSON array; keeps its length.
pub struct ArrayLen(pub usize);

impl<'de> Deserialize<'de> for ArrayLen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ArrayLen;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ArrayLen, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(ArrayLen(n))
            }
        }
        d.deserialize_seq(V)
    }
}

/// An array of non-empty strings.
pub struct NonEmptyStrings;

impl<'de> Deserialize<'de> for NonEmptyStrings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NonEmptyStrings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of non-empty strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NonEmptyStrings, A::Error> {
                while let Some(s) = seq.next_element::<Cow<'de, str>>()? {
                    if s.is_empty() {
                        return Err(de::Error::custom("empty string"));
                    }
                }
                Ok(NonEmptyStrings)
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
pub struct Actor<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub struct Reversal<'a> {
    pub steps: Option<ArrayLen>,
    pub irreversible: Option<bool>,
    #[serde(borrow)]
    pub reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub struct Governance<'a> {
    #[serde(borrow)]
    pub care: Option<Cow<'a, str>>,
    /// Only its type is checked: it must be an array when present.
    #[allow(dead_code)]
    pub approvals: Option<ArrayLen>,
}

#[derive(Deserialize)]
pub struct Telemetry<'a> {
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // envelope slots exist only to be accepted in lines
pub struct Intent<'a> {
    pub seq: Option<IgnoredAny>,
    pub prev: Option<IgnoredAny>,
    pub kind: Option<IgnoredAny>,
    pub timestamp: Option<IgnoredAny>,
    pub hash: Option<IgnoredAny>,
    #[serde(borrow)]
    pub wal_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub operation: Cow<'a, str>,
    #[serde(borrow)]
    pub actor: Actor<'a>,
    #[serde(borrow)]
    pub pre_state_hash: Cow<'a, str>,
    #[serde(borrow)]
    pub post_state_expected: Cow<'a, str>,
    pub payload: AnyObject,
    #[serde(borrow)]
    pub reversal: Reversal<'a>,
    pub tier: u64,
    #[serde(borrow)]
    pub governance: Governance<'a>,
    pub lineage_links: NonEmptyStrings,
    #[serde(borrow)]
    pub telemetry: Telemetry<'a>,
}
