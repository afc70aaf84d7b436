//! The bodies of the records the log writes about itself: the segment header, the seal and the
//! key record (docs/FORMAT.md section 4), parsed with serde. Each also accepts the envelope's
//! member names as slots so that one parse of the whole line serves; `body::parse_line_body`
//! reads them.

use serde::de::IgnoredAny;
use serde::Deserialize;

/// Header body, parsed (lines only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // envelope slots exist only to be accepted
pub struct HeaderBody {
    seq: Option<IgnoredAny>,
    prev: Option<IgnoredAny>,
    kind: Option<IgnoredAny>,
    timestamp: Option<IgnoredAny>,
    hash: Option<IgnoredAny>,
    pub format: String,
    pub log_id: String,
    pub segment: u64,
    pub key_id: String,
    pub public_key: String,
    pub max_record_bytes: u64,
    pub max_segment_bytes: u64,
    /// Optional: the writer's stream id in a log set (present means a string; `null` is refused).
    #[serde(default, deserialize_with = "present_string")]
    pub stream: Option<String>,
}

/// A member that, when present, must be a string (serde's `Option` would take `null` as absent).
fn present_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // envelope slots exist only to be accepted
pub struct SealBody {
    seq: Option<IgnoredAny>,
    prev: Option<IgnoredAny>,
    kind: Option<IgnoredAny>,
    timestamp: Option<IgnoredAny>,
    hash: Option<IgnoredAny>,
    pub key_id: String,
    pub signature: String,
    pub closes: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // envelope slots exist only to be accepted
pub struct KeyBody {
    seq: Option<IgnoredAny>,
    prev: Option<IgnoredAny>,
    kind: Option<IgnoredAny>,
    timestamp: Option<IgnoredAny>,
    hash: Option<IgnoredAny>,
    pub action: String,
    pub key_id: String,
    pub public_key: Option<String>,
}
