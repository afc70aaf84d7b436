//! The writer's fast check of a chunk handed over as one JSON array (`[{..},{..},..]`, see
//! `entry_array`), in one walk: the verifier's acceptor reads each element in place, from its
//! `{` to the `}` that closes it, and the next element starts after the comma there. Splitting
//! the array first (a pass over every byte to find its top-level commas) and then checking each
//! element (a second pass, and a quote index built per element) did the same reading twice; the
//! split and the per-element index were about two fifths of the checks' time on the producer's
//! thread (perf, AMD EPYC: 7.9% of all samples, the rest of the checks 10.5%).
//!
//! It can only accept, as the acceptor can: an array it is unsure of anywhere (an element the
//! acceptor leaves to serde, a byte outside the array's grammar, another count) yields None, and
//! the chunk takes the split-then-check path, which decides and explains as before. Whatever it
//! accepts, that path accepts with the same elements and ids: an element the acceptor reads
//! whole is well-formed JSON, so the split's cut after it falls at the same comma (tested
//! against it on mutated arrays).

use std::ops::Range;

use crate::body_accept;
use crate::quote_index::QuoteIndex;
use crate::record::Kind;

/// One element the acceptor took: where it is in the array (braces included) and its
/// `wal_id`, or none (an intent without one: the writer assigns it).
pub(crate) struct Accepted {
    pub element: Range<usize>,
    pub wal_id: Option<u128>,
}

/// The `count` elements of `data`, each accepted as an entry of `kind`, or None when unsure.
pub(crate) fn accept_array(kind: Kind, data: &[u8], count: usize) -> Option<Vec<Accepted>> {
    if count == 0 || data.first() != Some(&b'[') || !matches!(kind, Kind::Intent | Kind::Completion) {
        return None;
    }
    let mut quotes = QuoteIndex::default();
    // As `Cursor::for_entry` asks of an entry: UTF-8 without control characters (an encoder's
    // output always is; a chunk that is not is left to the per-element path).
    if !quotes.build(data, 0) && (data.iter().any(|&b| b < 0x20) || std::str::from_utf8(data).is_err()) {
        return None;
    }
    // `count` is the caller's word, judged only at the end: room for no more elements than the
    // array can hold (each at least `{}` and a comma).
    let mut accepted = Vec::with_capacity(count.min(data.len() / 3 + 1));
    let mut start = 1;
    loop {
        let (end, wal_id) = match kind {
            Kind::Intent => body_accept::intent_element(data, start, &quotes)?,
            _ => body_accept::completion_element(data, start, &quotes).map(|(end, id)| (end, Some(id)))?,
        };
        accepted.push(Accepted { element: start..end, wal_id });
        match data.get(end)? {
            b',' => start = end + 1,
            b']' if end + 1 == data.len() => break,
            _ => return None,
        }
    }
    (accepted.len() == count).then_some(accepted)
}

#[cfg(test)]
#[path = "array_accept_tests.rs"]
mod tests;
