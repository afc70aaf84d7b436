//! What a line's bytes alone decide, without the scanner's state: its record hash and, for an
//! intent or completion, the fast body pass's verdict. The scanner computes these itself, line
//! by line; for the last segments of a verification (when a thread would otherwise sit idle
//! while one segment finishes) the second half of a segment's facts is computed ahead on
//! another thread, and the scanner takes them from there instead. Same functions, same bytes:
//! the scan's results cannot differ (`tests/split_scan.rs` holds them equal).

use std::fs::File;
use std::io;

use crate::body_accept;
use crate::hash::{self, Digest};
use crate::hash_pair;
use crate::line_feed::{line_start_after, FileLines, LineFeed, SliceLines};
use crate::quote_index::QuoteIndex;
use crate::record::{self, Kind};
use crate::segment_bytes::mem_index;
use crate::timestamp;

#[derive(Debug, Clone, Copy)]
pub struct LineFacts {
    /// The line's offset in its segment: facts are used only for the line they were computed for.
    pub offset: u64,
    /// SHA-256 of the line's hashed part (meaningless for a line `record::parse` refuses).
    pub hash: Digest,
    /// The fast body pass's verdict for an intent or completion (None: unsure, or another kind).
    pub op: Option<u128>,
}

/// What was computed of a line before the scanner reads it: its hash (hashed together with the
/// next line, or ahead on another thread), and the fast body pass's verdict when computed ahead.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known {
    pub hash: Option<Digest>,
    /// Some: computed ahead (the verdict, None for unsure); None: not computed.
    #[allow(clippy::option_option, reason = "not computed ahead, or computed: the fast verdict (None: unsure)")]
    pub op: Option<Option<u128>>,
}

impl From<&LineFacts> for Known {
    fn from(f: &LineFacts) -> Self {
        Known { hash: Some(f.hash), op: Some(f.op) }
    }
}

/// Pieces a split segment's second half is cut into.
const PIECES: u64 = 8;

/// `of_lines`, the bytes cut at line starts into `PIECES` pieces computed as separate tasks of
/// the pool: a thread that runs out of segments takes a piece, wherever the other threads are.
/// (One task for the whole half left a thread idle at the end of a verification while the
/// other finished a segment alone.)
/// `bytes` is the whole segment; the facts are of its lines from `from` (a line start) on.
pub fn of_lines_in_pieces(bytes: &[u8], from: usize, check_bodies: bool) -> Vec<LineFacts> {
    let cuts = cuts(from as u64, bytes.len() as u64, |nominal| {
        let at = mem_index(nominal);
        Ok(memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i + 1) as u64)
    })
    .expect("a slice is read without error");
    in_pieces(&cuts, |from, to| Ok(of_lines(&bytes[..mem_index(to)], mem_index(from), check_bodies)))
        .expect("a slice is read without error")
}

/// `of_lines_in_pieces` for the bytes `[from, len)` of a segment file, each piece read by the
/// thread that takes it. `from` must be a line start.
pub fn of_file_in_pieces(file: &File, from: u64, len: u64, check_bodies: bool) -> io::Result<Vec<LineFacts>> {
    let cuts = cuts(from, len, |nominal| line_start_after(file, nominal, len))?;
    in_pieces(&cuts, |a, b| of_feed(&mut FileLines::new(file, a, b), check_bodies, mem_index(b - a)))
}

/// Line starts cutting `[from, to)` into about `PIECES` pieces, `from` and `to` included.
/// `line_end(at)`: the first line start after byte `at`.
fn cuts(from: u64, to: u64, line_end: impl Fn(u64) -> io::Result<u64>) -> io::Result<Vec<u64>> {
    let mut cuts = vec![from];
    for k in 1..PIECES {
        let nominal = (from + (to - from) * k / PIECES).max(*cuts.last().expect("starts at from"));
        cuts.push(if nominal >= to { to } else { line_end(nominal)? });
    }
    cuts.push(to);
    cuts.dedup();
    Ok(cuts)
}

fn in_pieces(
    cuts: &[u64],
    facts: impl Fn(u64, u64) -> io::Result<Vec<LineFacts>> + Sync,
) -> io::Result<Vec<LineFacts>> {
    use rayon::prelude::*;
    let pieces: Vec<Vec<LineFacts>> = cuts.par_windows(2).map(|w| facts(w[0], w[1])).collect::<io::Result<_>>()?;
    Ok(pieces.concat())
}

/// The facts of every line of `bytes` from `from` (a line start) on, in order.
pub fn of_lines(bytes: &[u8], from: usize, check_bodies: bool) -> Vec<LineFacts> {
    of_feed(&mut SliceLines::new(bytes, from), check_bodies, bytes.len().saturating_sub(from))
        .expect("a slice is read without error")
}

/// The facts of every line `feed` gives, in order; `len` (the bytes it will give) sizes the list.
fn of_feed(feed: &mut dyn LineFeed, check_bodies: bool, len: usize) -> io::Result<Vec<LineFacts>> {
    let mut quotes = QuoteIndex::default();
    let mut out = Vec::with_capacity(len / 512);
    loop {
        let (first, second) = feed.next_two()?;
        let Some((offset, line)) = first else { return Ok(out) };
        let (hash, second_hash) = record_hashes(line, second.map(|(_, l)| l));
        out.push(facts(offset, line, hash, check_bodies, &mut quotes));
        if let (Some((offset, line)), Some(hash)) = (second, second_hash) {
            out.push(facts(offset, line, hash, check_bodies, &mut quotes));
        }
    }
}

/// The record hashes of a line and, when given, of the line after it: the two hashed together
/// (`hash_pair`). Meaningless for a line `record::parse` refuses, as `LineFacts::hash` is.
pub fn record_hashes(first: &[u8], second: Option<&[u8]>) -> (Digest, Option<Digest>) {
    match second {
        Some(second) => {
            let (a, b) = hash_pair::sha256_pair(record::hashed_part(first), record::hashed_part(second));
            (a, Some(b))
        }
        None => (hash::sha256(record::hashed_part(first)), None),
    }
}

/// The facts of one line, its hash already computed.
fn facts(offset: u64, line: &[u8], hash: Digest, check_bodies: bool, quotes: &mut QuoteIndex) -> LineFacts {
    let op = match record::parse(line) {
        Ok(env) if check_bodies => {
            let timestamp_ok = timestamp::is_valid(env.timestamp);
            match env.kind {
                Some(Kind::Intent) => body_accept::intent(line, &env, timestamp_ok, quotes),
                Some(Kind::Completion) => body_accept::completion(line, &env, timestamp_ok, quotes),
                _ => None,
            }
        }
        _ => None,
    };
    LineFacts { offset, hash, op }
}
