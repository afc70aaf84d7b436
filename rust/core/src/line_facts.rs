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

/// Pieces `of_lines_in_pieces` cuts its bytes into.
const PIECES: usize = 8;

/// `of_lines`, the bytes cut at line starts into `PIECES` pieces computed as separate tasks of
/// the pool: a thread that runs out of segments takes a piece, wherever the other threads are.
/// (One task for the whole half left a thread idle at the end of a verification while the
/// other finished a segment alone.)
pub fn of_lines_in_pieces(bytes: &[u8], check_bodies: bool) -> Vec<LineFacts> {
    use rayon::prelude::*;
    let mut cuts = vec![0];
    for k in 1..PIECES {
        let nominal = (bytes.len() * k / PIECES).max(*cuts.last().expect("starts at 0"));
        let at = memchr::memchr(b'\n', &bytes[nominal..]).map_or(bytes.len(), |i| nominal + i + 1);
        cuts.push(at.max(nominal));
    }
    cuts.push(bytes.len());
    cuts.dedup();
    let pieces: Vec<Vec<LineFacts>> = cuts.par_windows(2).map(|w| of_lines(&bytes[w[0]..w[1]], check_bodies)).collect();
    pieces.concat()
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
