//! The record schema of docs/FORMAT.md section 4, compiled: which members each kind's body has
//! and what their values must be. The writer runs it on every entry before anything is written;
//! the verifier runs it on every record it reads. The intent rules mirror
//! `python/kfm_wal/schemas/wal-entry-v1.json`; the Python tests hold the two in agreement.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::hash;

// The bodies of the log's own records (header, seal, key) live in their own file; their paths stay.
pub use crate::log_record_bodies::{HeaderBody, KeyBody, SealBody};

/// A schema violation: the member at fault ("" for the whole object) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// The bytes are not JSON at all (as opposed to JSON with the wrong members).
    pub syntax: bool,
}

fn err<T>(field: &str, message: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError { field: field.to_owned(), message: message.into(), syntax: false })
}

/// serde's messages already name the member ("missing field `tier`"); lift the name out.
fn from_serde(e: &serde_json::Error) -> FieldError {
    let text = e.to_string();
    let field = text.split('`').nth(1).unwrap_or("").to_owned();
    let message = text.split(" at line ").next().unwrap_or(&text).to_owned();
    FieldError { field, message, syntax: e.is_syntax() || e.is_eof() }
}

/// Parse from `&str` after one whole-buffer UTF-8 check: `serde_json`'s slice reader re-validates
/// UTF-8 string by string, which costs more than the rest of the check.
fn parse<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, FieldError> {
    let text = std::str::from_utf8(json).map_err(|e| FieldError {
        field: String::new(),
        message: format!("not UTF-8: {e}"),
        syntax: true,
    })?;
    serde_json::from_str(text).map_err(|e| from_serde(&e))
}

/// Where the object came from decides whether envelope members may appear in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A caller's entry: the writer adds the envelope, so its names are reserved.
    Entry,
    /// A whole line read from a log: the envelope has already been checked by `record::parse`.
    Line,
}

/// Envelope members, present in lines, forbidden in entries.
#[derive(Deserialize)]
struct EnvelopeSlots {
    seq: Option<IgnoredAny>,
    prev: Option<IgnoredAny>,
    kind: Option<IgnoredAny>,
    timestamp: Option<IgnoredAny>,
    hash: Option<IgnoredAny>,
}

impl EnvelopeSlots {
    fn check(&self, ctx: Context) -> Result<(), FieldError> {
        if ctx == Context::Entry {
            let names = [
                ("seq", self.seq.is_some()),
                ("prev", self.prev.is_some()),
                ("kind", self.kind.is_some()),
                ("timestamp", self.timestamp.is_some()),
                ("hash", self.hash.is_some()),
            ];
            if let Some((name, _)) = names.iter().find(|(_, present)| *present) {
                return err(name, "is assigned by the writer and must not be given");
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentShape<'a> {
    // Envelope slots are spelled out (not flattened) so deny_unknown_fields keeps working.
    seq: Option<IgnoredAny>,
    prev: Option<IgnoredAny>,
    kind: Option<IgnoredAny>,
    timestamp: Option<IgnoredAny>,
    hash: Option<IgnoredAny>,
    #[serde(borrow)]
    wal_id: Option<&'a RawValue>,
    #[serde(borrow)]
    operation: &'a RawValue,
    #[serde(borrow)]
    actor: &'a RawValue,
    #[serde(borrow)]
    pre_state_hash: &'a RawValue,
    #[serde(borrow)]
    post_state_expected: &'a RawValue,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(borrow)]
    reversal: &'a RawValue,
    #[serde(borrow)]
    tier: &'a RawValue,
    #[serde(borrow)]
    governance: &'a RawValue,
    #[serde(borrow)]
    lineage_links: &'a RawValue,
    #[serde(borrow)]
    telemetry: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletionShape<'a> {
    seq: Option<IgnoredAny>,
    prev: Option<IgnoredAny>,
    kind: Option<IgnoredAny>,
    timestamp: Option<IgnoredAny>,
    hash: Option<IgnoredAny>,
    #[serde(borrow)]
    wal_id: &'a RawValue,
    #[serde(borrow)]
    status: &'a RawValue,
    #[serde(borrow)]
    post_state_hash: Option<&'a RawValue>,
    #[serde(borrow)]
    executed_digest: Option<&'a RawValue>,
    #[serde(borrow)]
    duration_ms: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
}

macro_rules! envelope_of {
    ($shape:expr) => {
        EnvelopeSlots {
            seq: $shape.seq,
            prev: $shape.prev,
            kind: $shape.kind,
            timestamp: $shape.timestamp,
            hash: $shape.hash,
        }
    };
}

/// What the writer and the verifier need to know about a valid intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentFacts {
    /// None when an entry leaves the id to the writer.
    pub wal_id: Option<u128>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionFacts {
    pub wal_id: u128,
}

fn json_str<'a>(field: &str, raw: &'a RawValue) -> Result<Cow<'a, str>, FieldError> {
    // Borrow when the string has no escapes; allocate only when it does.
    if let Ok(s) = serde_json::from_str::<&'a str>(raw.get()) {
        return Ok(Cow::Borrowed(s));
    }
    serde_json::from_str::<String>(raw.get()).map(Cow::Owned).or_else(|_| err(field, "must be a string"))
}

fn non_empty_str<'a>(field: &str, raw: &'a RawValue) -> Result<Cow<'a, str>, FieldError> {
    let s = json_str(field, raw)?;
    if s.is_empty() {
        return err(field, "must be a non-empty string");
    }
    Ok(s)
}

fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

fn is_array(raw: &RawValue) -> bool {
    raw.get().starts_with('[')
}

fn state_hash(field: &str, raw: &RawValue) -> Result<(), FieldError> {
    let s = json_str(field, raw)?;
    if !hash::is_prefixed(&s) {
        return err(field, "must be sha256:<64 lowercase hex digits>");
    }
    Ok(())
}

/// A canonical lowercase `UUIDv4`, as a u128.
#[must_use]
pub fn parse_uuid_v4(text: &str) -> Option<u128> {
    let u = uuid::Uuid::try_parse(text).ok()?;
    if u.get_version_num() != 4
        || u.get_variant() != uuid::Variant::RFC4122
        || text.len() != 36
        || text.bytes().any(|b| b.is_ascii_uppercase())
    {
        return None;
    }
    Some(u.as_u128())
}

/// The record's `wal_id`, if it has a well-formed one (used to pair records whose other members
/// are invalid).
#[must_use]
pub fn wal_id_of(json: &[u8]) -> Option<u128> {
    #[derive(Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        wal_id: Option<&'a RawValue>,
    }
    let id: Id = parse(json).ok()?;
    uuid_field("wal_id", id.wal_id?).ok()
}

#[must_use]
pub fn format_uuid(id: u128) -> String {
    uuid::Uuid::from_u128(id).hyphenated().to_string()
}

fn uuid_field(field: &str, raw: &RawValue) -> Result<u128, FieldError> {
    let s = json_str(field, raw)?;
    parse_uuid_v4(&s).map_or_else(|| err(field, format!("must be a lowercase UUIDv4, got {s:?}")), Ok)
}

/// A stream id (docs/FORMAT.md section 4, header `stream`): `^[a-z0-9][a-z0-9._-]{0,63}$`.
#[must_use]
pub fn is_stream_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'))
}

/// A header's optional `stream`: absent, or a stream id (else the header is `chain.segment`).
pub(crate) fn check_header_stream(stream: Option<&str>) -> Result<(), String> {
    match stream {
        Some(s) if !is_stream_id(s) => {
            Err(format!("header stream {s:?} is not a stream id ([a-z0-9][a-z0-9._-]{{0,63}})"))
        }
        _ => Ok(()),
    }
}

pub(crate) fn is_operation(name: &str) -> bool {
    is_operation_bytes(name.as_bytes())
}

pub(crate) fn is_operation_bytes(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'.')
}

fn operation_name(raw: &RawValue) -> Result<Cow<'_, str>, FieldError> {
    let s = json_str("operation", raw)?;
    if !is_operation(&s) {
        return err("operation", format!("must match ^[a-z][a-z0-9_.]{{0,63}}$, got {s:?}"));
    }
    Ok(s)
}

pub(crate) const ACTOR_TYPES: &[&str] = &["developer", "ci", "system"];
pub(crate) const CARE_LABELS: &[&str] = &["public", "sensitive", "restricted"];
pub(crate) const STATUSES: &[&str] = &["succeeded", "failed", "refused", "reversed"];

/// A required member whose value is one of `allowed`.
fn one_of_member<'a>(field: &str, raw: Option<&'a RawValue>, allowed: &[&str]) -> Result<Cow<'a, str>, FieldError> {
    let value = raw.map_or_else(|| err(field, "is required"), |v| json_str(field, v))?;
    if !allowed.contains(&value.as_ref()) {
        return err(field, format!("must be one of {}, got {value:?}", allowed.join(", ")));
    }
    Ok(value)
}

fn actor(raw: &RawValue) -> Result<(), FieldError> {
    #[derive(Deserialize)]
    struct Actor<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<&'a RawValue>,
        #[serde(borrow)]
        id: Option<&'a RawValue>,
    }
    if !is_object(raw) {
        return err("actor", "must be an object with type and id");
    }
    let a: Actor = serde_json::from_str(raw.get()).or_else(|_| err("actor", "must be an object with type and id"))?;
    one_of_member("actor.type", a.kind, ACTOR_TYPES)?;
    a.id.map_or_else(|| err("actor.id", "is required"), |id| non_empty_str("actor.id", id).map(|_| ()))
}

fn reversal(raw: &RawValue) -> Result<(), FieldError> {
    #[derive(Deserialize)]
    struct Reversal<'a> {
        #[serde(borrow)]
        steps: Option<&'a RawValue>,
        irreversible: Option<bool>,
        #[serde(borrow)]
        reason: Option<&'a RawValue>,
    }
    if !is_object(raw) {
        return err("reversal", "must be an object");
    }
    let r: Reversal = serde_json::from_str(raw.get()).or_else(|_| err("reversal", "irreversible must be a boolean"))?;
    match (r.steps, r.irreversible.unwrap_or(false)) {
        (Some(_), true) => err("reversal", "cannot both list steps and be irreversible"),
        (Some(steps), false) => {
            let empty = serde_json::from_str::<Vec<IgnoredAny>>(steps.get()).map(|v| v.is_empty());
            match empty {
                Ok(false) => Ok(()),
                Ok(true) => err("reversal.steps", "must not be empty"),
                Err(_) => err("reversal.steps", "must be an array"),
            }
        }
        (None, true) => r.reason.map_or_else(
            || err("reversal.reason", "is required when irreversible"),
            |why| non_empty_str("reversal.reason", why).map(|_| ()),
        ),
        (None, false) => err("reversal", "needs steps, or irreversible: true with a reason"),
    }
}

fn tier(raw: &RawValue, operation: &str) -> Result<(), FieldError> {
    let t = serde_json::from_str::<u64>(raw.get())
        .or_else(|_| err("tier", format!("must be an integer 0-4, got {}", raw.get())))?;
    if t > 4 {
        return err("tier", format!("must be an integer 0-4, got {t}"));
    }
    if t == 4 && operation != "rollback" {
        return err("tier", "tier 4 is reserved for rollback operations");
    }
    Ok(())
}

fn governance(raw: &RawValue) -> Result<(), FieldError> {
    #[derive(Deserialize)]
    struct Governance<'a> {
        #[serde(borrow)]
        care: Option<&'a RawValue>,
        #[serde(borrow)]
        approvals: Option<&'a RawValue>,
    }
    if !is_object(raw) {
        return err("governance", "must be an object");
    }
    let g: Governance = serde_json::from_str(raw.get()).or_else(|_| err("governance", "must be an object"))?;
    one_of_member("governance.care", g.care, CARE_LABELS)?;
    match g.approvals {
        Some(a) if !is_array(a) => err("governance.approvals", "must be an array"),
        _ => Ok(()),
    }
}

fn lineage_links(raw: &RawValue) -> Result<(), FieldError> {
    let links = serde_json::from_str::<Vec<&RawValue>>(raw.get())
        .or_else(|_| err("lineage_links", "must be an array of strings"))?;
    for link in links {
        non_empty_str("lineage_links", link)?;
    }
    Ok(())
}

fn telemetry(raw: &RawValue) -> Result<(), FieldError> {
    #[derive(Deserialize)]
    struct Telemetry<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
    }
    if !is_object(raw) {
        return err("telemetry", "must be an object with an id");
    }
    let t: Telemetry = serde_json::from_str(raw.get()).or_else(|_| err("telemetry", "must be an object with an id"))?;
    t.id.map_or_else(|| err("telemetry.id", "is required"), |id| non_empty_str("telemetry.id", id).map(|_| ()))
}

/// Check an intent object (`json` is a whole JSON object: an entry or a line). One typed pass
/// decides; only a refusal pays for the member-by-member pass that says what is wrong.
pub fn check_intent(json: &[u8], ctx: Context) -> Result<IntentFacts, FieldError> {
    match fast_intent(json, ctx) {
        Some(facts) => Ok(facts),
        None => explain_intent(json, ctx),
    }
}

fn one_of(value: Option<&str>, allowed: &[&str]) -> bool {
    value.is_some_and(|v| allowed.contains(&v))
}

fn fast_intent(json: &[u8], ctx: Context) -> Option<IntentFacts> {
    let i: crate::body_fast::Intent = parse(json).ok()?;
    if ctx == Context::Entry
        && (i.seq.is_some() || i.prev.is_some() || i.kind.is_some() || i.timestamp.is_some() || i.hash.is_some())
    {
        return None;
    }
    let wal_id = match &i.wal_id {
        Some(text) => Some(parse_uuid_v4(text)?),
        None if ctx == Context::Line => return None,
        None => None,
    };
    let r = &i.reversal;
    let reversal_ok = match (&r.steps, r.irreversible.unwrap_or(false)) {
        (Some(steps), false) => steps.0 > 0,
        (None, true) => r.reason.as_deref().is_some_and(|why| !why.is_empty()),
        _ => false,
    };
    let ok = is_operation(&i.operation)
        && one_of(i.actor.kind.as_deref(), ACTOR_TYPES)
        && i.actor.id.as_deref().is_some_and(|id| !id.is_empty())
        && hash::is_prefixed(&i.pre_state_hash)
        && hash::is_prefixed(&i.post_state_expected)
        && reversal_ok
        && i.tier <= 4
        && (i.tier < 4 || i.operation == "rollback")
        && one_of(i.governance.care.as_deref(), CARE_LABELS)
        && i.telemetry.id.as_deref().is_some_and(|id| !id.is_empty());
    ok.then_some(IntentFacts { wal_id })
}

/// The member-by-member check, for the message.
fn explain_intent(json: &[u8], ctx: Context) -> Result<IntentFacts, FieldError> {
    let shape: IntentShape = parse(json)?;
    envelope_of!(shape).check(ctx)?;
    let wal_id = shape.wal_id.map(|raw| uuid_field("wal_id", raw)).transpose()?;
    if ctx == Context::Line && wal_id.is_none() {
        return err("wal_id", "is required");
    }
    let op = operation_name(shape.operation)?;
    actor(shape.actor)?;
    state_hash("pre_state_hash", shape.pre_state_hash)?;
    state_hash("post_state_expected", shape.post_state_expected)?;
    if !is_object(shape.payload) {
        return err("payload", "must be an object");
    }
    reversal(shape.reversal)?;
    tier(shape.tier, &op)?;
    governance(shape.governance)?;
    lineage_links(shape.lineage_links)?;
    telemetry(shape.telemetry)?;
    Ok(IntentFacts { wal_id })
}

pub fn check_completion(json: &[u8], ctx: Context) -> Result<CompletionFacts, FieldError> {
    let shape: CompletionShape = parse(json)?;
    envelope_of!(shape).check(ctx)?;
    let wal_id = uuid_field("wal_id", shape.wal_id)?;
    one_of_member("status", Some(shape.status), STATUSES)?;
    if let Some(raw) = shape.post_state_hash {
        state_hash("post_state_hash", raw)?;
    }
    if let Some(raw) = shape.executed_digest {
        state_hash("executed_digest", raw)?;
    }
    if let Some(raw) = shape.duration_ms {
        match serde_json::from_str::<f64>(raw.get()) {
            Ok(ms) if ms >= 0.0 => {}
            _ => return err("duration_ms", "must be a number >= 0"),
        }
    }
    if let Some(raw) = shape.error {
        json_str("error", raw)?;
    }
    if let Some(raw) = shape.detail {
        if !is_object(raw) {
            return err("detail", "must be an object");
        }
    }
    Ok(CompletionFacts { wal_id })
}

pub use crate::format_version::{is_v2, FORMAT, FORMAT_V1, FORMAT_V2, KNOWN_FORMATS};

pub fn parse_line_body<'de, T: Deserialize<'de>>(line: &'de [u8]) -> Result<T, FieldError> {
    parse(line)
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
