//! What a line's bytes alone decide, without the scanner's state: its record hash and, for an
//! intent or completion, the fast body pass's verdict. The scanner computes these itself, line
//! by line; for the last segments of a verification (when a thread would otherwise sit idle
//! while one segment finishes) the second half of a segment's facts is computed ahead on
//! another thread, and the scanner takes them from there instead. Same functions, same bytes:
//! the scan's results cannot differ (tests/split_scan.rs holds them equal).

use crate::body_accept;
use crate::hash::{self, Digest};
use crate::quote_index::QuoteIndex;
use crate::record::{self, Kind};
use crate::timestamp;

#[derive(Debug, Clone, Copy)]
pub struct LineFacts {
    /// SHA-256 of the line's hashed part (meaningless for a line `record::parse` refuses).
    pub hash: Digest,
    /// The fast body pass's verdict for an intent or completion (None: unsure, or another kind).
    pub op: Option<u128>,
}

/// The facts of every line of `bytes` (which must start at a line start), in order.
pub fn of_lines(bytes: &[u8], check_bodies: bool) -> Vec<LineFacts> {
    let mut quotes = QuoteIndex::default();
    let mut out = Vec::with_capacity(bytes.len() / 512);
    let mut pos = 0;
    while pos < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i + 1);
        let line = &bytes[pos..end];
        let hash = hash::sha256(record::hashed_part(line));
        let op = match record::parse(line) {
            Ok(env) if check_bodies => {
                let timestamp_ok = timestamp::is_valid(env.timestamp);
                match env.kind {
                    Some(Kind::Intent) => body_accept::intent(line, &env, timestamp_ok, &mut quotes),
                    Some(Kind::Completion) => body_accept::completion(line, &env, timestamp_ok, &mut quotes),
                    _ => None,
                }
            }
            _ => None,
        };
        out.push(LineFacts { hash, op });
        pos = end;
    }
    out
}
