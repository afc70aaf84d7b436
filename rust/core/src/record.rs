//! The line grammar of docs/FORMAT.md section 2 and the record hash of section 3: building a
//! line on write, and splitting one into its envelope on read, without a JSON parser.

use crate::hash::{self, Digest};
use crate::timestamp::{self, Timestamp};

/// `"hash":"sha256:` + 64 hex + `"}` + `\n`.
pub const SUFFIX_LEN: usize = 82;
const SUFFIX_HEAD: &[u8] = b"\"hash\":\"sha256:";
const SUFFIX_TAIL: &[u8] = b"\"}\n";
const P_SEQ: &[u8] = b"{\"seq\":";
const P_PREV: &[u8] = b",\"prev\":\"sha256:";
const P_KIND: &[u8] = b"\",\"kind\":\"";
const P_TS: &[u8] = b"\",\"timestamp\":\"";
const P_BODY: &[u8] = b"\",";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Header,
    Intent,
    Completion,
    Seal,
    Key,
}

impl Kind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Header => "header",
            Kind::Intent => "intent",
            Kind::Completion => "completion",
            Kind::Seal => "seal",
            Kind::Key => "key",
        }
    }

    #[must_use]
    pub fn parse(name: &[u8]) -> Option<Kind> {
        Some(match name {
            b"header" => Kind::Header,
            b"intent" => Kind::Intent,
            b"completion" => Kind::Completion,
            b"seal" => Kind::Seal,
            b"key" => Kind::Key,
            _ => return None,
        })
    }
}

/// A line split into its envelope. Borrowed from the segment bytes.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    pub seq: u64,
    pub prev: Digest,
    /// None for a kind this format does not know; `kind_name` has its spelling.
    pub kind: Option<Kind>,
    pub kind_name: &'a [u8],
    pub timestamp: &'a [u8],
    /// The body members followed by their closing comma, exactly as written.
    pub body: &'a [u8],
    /// The hash the line claims for itself.
    pub claimed: Digest,
}

/// The bytes do not have the envelope shape; the text says which part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError(pub &'static str);

/// The bytes the record hash covers: everything before `"hash":"`.
#[must_use]
pub fn hashed_part(line: &[u8]) -> &[u8] {
    &line[..line.len().saturating_sub(SUFFIX_LEN)]
}

/// Split `line` (including its trailing `\n`) into its envelope. Does not hash, and does not
/// judge the kind (a line of unknown kind still has a hash and a place in the chain).
pub fn parse(line: &[u8]) -> Result<Envelope<'_>, LineError> {
    use LineError as Malformed;
    let n = line.len();
    if n < SUFFIX_LEN + P_SEQ.len() || line[n - 1] != b'\n' {
        return Err(Malformed("line is incomplete"));
    }
    let suffix = &line[n - SUFFIX_LEN..];
    if &suffix[..SUFFIX_HEAD.len()] != SUFFIX_HEAD || &suffix[SUFFIX_LEN - SUFFIX_TAIL.len()..] != SUFFIX_TAIL {
        return Err(Malformed("line does not end with the hash member"));
    }
    let claimed = hash::parse_hex(&suffix[SUFFIX_HEAD.len()..SUFFIX_HEAD.len() + 64])
        .ok_or(Malformed("hash is not 64 lowercase hex digits"))?;
    let head = &line[..n - SUFFIX_LEN];

    let rest = head.strip_prefix(P_SEQ).ok_or(Malformed("line does not start with {\"seq\":"))?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || rest[0] == b'0' {
        return Err(Malformed("seq is not a positive integer without leading zeros"));
    }
    // At most 19 digits: always below u64::MAX, so the sum cannot overflow.
    let seq = rest[..digits].iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    let rest = rest[digits..].strip_prefix(P_PREV).ok_or(Malformed("prev member missing after seq"))?;
    if rest.len() < 64 {
        return Err(Malformed("prev is truncated"));
    }
    let prev = hash::parse_hex(&rest[..64]).ok_or(Malformed("prev is not 64 lowercase hex digits"))?;
    let rest = rest[64..].strip_prefix(P_KIND).ok_or(Malformed("kind member missing after prev"))?;
    let kind_len = memchr::memchr(b'"', rest).ok_or(Malformed("kind is not terminated"))?;
    let kind_name = &rest[..kind_len];
    let rest = rest[kind_len..].strip_prefix(P_TS).ok_or(Malformed("timestamp member missing after kind"))?;
    if rest.len() < timestamp::LEN {
        return Err(Malformed("timestamp is truncated"));
    }
    // Its shape is judged after the hash: a changed byte here is a hash mismatch first.
    let ts = &rest[..timestamp::LEN];
    let body = rest[timestamp::LEN..].strip_prefix(P_BODY).ok_or(Malformed("body missing after timestamp"))?;
    if body.len() < 2 || body[body.len() - 1] != b',' {
        return Err(Malformed("body is empty or not followed by a comma"));
    }
    Ok(Envelope { seq, prev, kind: Kind::parse(kind_name), kind_name, timestamp: ts, body, claimed })
}

/// Append one complete line to `out` and return its record hash. `members` are the body's
/// JSON object members without braces and without a trailing comma; the caller guarantees
/// they are valid JSON members (see `body`).
pub fn write(out: &mut Vec<u8>, seq: u64, prev: &Digest, kind: Kind, ts: &Timestamp, members: &[u8]) -> Digest {
    write_with_id(out, seq, prev, kind, ts, None, members)
}

/// Bytes of the member `write_with_id` puts first for an assigned id: `"wal_id":"` + 36 + `",`.
pub const ASSIGNED_ID_LEN: usize = 48;

/// `write`, with `"wal_id":"<id>",` as the body's first member when `id` is given (an id the
/// writer assigned to an entry that had none; `members` must not hold a `wal_id` then).
pub fn write_with_id(
    out: &mut Vec<u8>,
    seq: u64,
    prev: &Digest,
    kind: Kind,
    ts: &Timestamp,
    id: Option<u128>,
    members: &[u8],
) -> Digest {
    let start = out.len();
    out.reserve(members.len() + 256 + ASSIGNED_ID_LEN);
    out.extend_from_slice(P_SEQ);
    out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    out.extend_from_slice(P_PREV);
    hash::push_hex(out, prev);
    out.extend_from_slice(P_KIND);
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(P_TS);
    out.extend_from_slice(ts);
    out.extend_from_slice(P_BODY);
    if let Some(id) = id {
        out.extend_from_slice(b"\"wal_id\":\"");
        out.extend_from_slice(
            uuid::Uuid::from_u128(id).hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).as_bytes(),
        );
        out.extend_from_slice(b"\",");
    }
    out.extend_from_slice(members);
    out.push(b',');
    let digest = hash::sha256(&out[start..]);
    out.extend_from_slice(SUFFIX_HEAD);
    hash::push_hex(out, &digest);
    out.extend_from_slice(SUFFIX_TAIL);
    digest
}

/// Bytes a line will take for a body of `members_len` bytes (upper bound, for rotation).
#[must_use]
pub fn line_len_bound(members_len: usize) -> usize {
    members_len + SUFFIX_LEN + 160
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_parse() {
        let ts = *b"2026-01-01T00:00:00.000000Z";
        let mut out = Vec::new();
        let h = write(&mut out, 7, &hash::ZERO, Kind::Intent, &ts, br#""a":1,"b":[2]"#);
        let env = parse(&out).unwrap();
        assert_eq!(env.seq, 7);
        assert_eq!(env.kind, Some(Kind::Intent));
        assert_eq!(env.claimed, h);
        assert_eq!(env.body, br#""a":1,"b":[2],"#);
        assert_eq!(hash::sha256(hashed_part(&out)), h);
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["timestamp"], "2026-01-01T00:00:00.000000Z");
    }

    #[test]
    fn an_assigned_id_is_written_first_and_hashed() {
        let ts = *b"2026-01-01T00:00:00.000000Z";
        let id = 0x3f2b_8c1e_5d4a_4e6b_9c7d_0a1b_2c3d_4e5f_u128;
        let (mut with_id, mut spelled) = (Vec::new(), Vec::new());
        let h = write_with_id(&mut with_id, 3, &hash::ZERO, Kind::Intent, &ts, Some(id), br#""a":1"#);
        let members = br#""wal_id":"3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f","a":1"#;
        // The same line as the id spelled by the caller, so the same hash.
        assert_eq!(write(&mut spelled, 3, &hash::ZERO, Kind::Intent, &ts, members), h);
        assert_eq!(with_id, spelled);
        assert_eq!(members.len() - br#""a":1"#.len(), ASSIGNED_ID_LEN);
        assert_eq!(parse(&with_id).unwrap().claimed, h);
    }

    #[test]
    fn rejects_shapes() {
        let ts = *b"2026-01-01T00:00:00.000000Z";
        let mut out = Vec::new();
        write(&mut out, 1, &hash::ZERO, Kind::Seal, &ts, br#""x":1"#);
        assert!(parse(&out[..out.len() - 1]).is_err());
        let mut lead0 = out.clone();
        lead0[7] = b'0';
        assert!(parse(&lead0).is_err());
        let bad_kind = String::from_utf8(out.clone()).unwrap().replace("\"seal\"", "\"lies\"");
        let env = parse(bad_kind.as_bytes()).unwrap();
        assert_eq!((env.kind, env.kind_name), (None, b"lies".as_slice()));
    }
}
