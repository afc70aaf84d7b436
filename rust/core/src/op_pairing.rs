//! Intents paired with completions in partitions of the `wal_id` space, so that the pairing of a
//! large archive runs on many workers instead of all on the one joining the segments: whether an
//! intent is a duplicate, or a completion an orphan or a second one, depends only on the earlier
//! events of the same id. Each segment's events are split by partition (`split`); a partition's
//! events from every segment, in log order, are paired alone (`pair`); the join adds the
//! partitions' counts and findings (`summary_join`).
//!
//! The findings are the verifier's (`verify::join`), word for word: they are sorted with the
//! others by (segment, offset), and an operation's finding is the last one on its line there too.

use crate::body;
use crate::finding::{Code, Finding};
use crate::ops::{OpConflict, OpsTable};
use crate::scan::OpEvent;
use crate::segment_summary::{Reader, Writer};

const VERSION: u8 = 1;

/// The partition of `wal_id` among `parts`. The ids are random (`UUIDv4`); the multiply spreads
/// any that are not.
#[must_use]
pub fn partition_of(wal_id: u128, parts: usize) -> usize {
    #[allow(clippy::cast_possible_truncation, reason = "the two halves of the id, folded")]
    let folded = (wal_id as u64) ^ ((wal_id >> 64) as u64);
    let spread = folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    usize::try_from(spread).unwrap_or(0) % parts.max(1)
}

/// A segment's events split into `parts` partitions, each in file order, encoded.
#[must_use]
pub fn split(ops: &[OpEvent], parts: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<OpEvent>> = vec![Vec::new(); parts.max(1)];
    for op in ops {
        out[partition_of(op.wal_id, parts)].push(*op);
    }
    out.iter().map(|events| encode_events(events)).collect()
}

fn encode_events(events: &[OpEvent]) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(8 + events.len() * 24));
    w.byte(VERSION);
    w.ops(events);
    w.0
}

fn decode_events(bytes: &[u8]) -> Option<Vec<OpEvent>> {
    let mut r = Reader(bytes);
    if r.byte()? != VERSION {
        return None;
    }
    let ops = r.ops()?;
    r.0.is_empty().then_some(ops)
}

/// What pairing one partition (or all of them, merged) found.
#[derive(Debug, Default)]
pub struct Paired {
    pub intents: u64,
    pub completions: u64,
    pub pending: u64,
    pub findings: Vec<Finding>,
    /// The ids still pending (what the next verification receipt lists).
    pub pending_ids: Vec<u128>,
}

/// Pair one partition: `segments` are (segment file name, that segment's encoded events of this
/// partition), in log order, the copies the join leaves out of the chain (a segment listed twice)
/// already left out; `assumed`: this partition's ids a verification receipt says are pending
/// before the first event (an incremental run). None: an encoding this build did not write.
#[must_use]
pub fn pair<'a>(segments: impl IntoIterator<Item = (&'a str, &'a [u8])>, assumed: &[u128]) -> Option<Paired> {
    let mut table = OpsTable::default();
    table.assume_pending(assumed.iter().copied());
    let mut out = Paired::default();
    for (name, encoded) in segments {
        for ev in decode_events(encoded)? {
            let found = if ev.completion {
                out.completions += 1;
                table.complete(ev.wal_id)
            } else {
                out.intents += 1;
                table.intent(ev.wal_id)
            };
            // The verifier's words (verify::join).
            let (code, message) = match found {
                Ok(()) => continue,
                Err(OpConflict::DuplicateIntent) => (Code::IntentDuplicate, "wal_id already used by an earlier intent"),
                Err(OpConflict::UnknownIntent) => {
                    (Code::CompletionOrphan, "completion of an intent not earlier in the log")
                }
                Err(OpConflict::AlreadyCompleted) => {
                    (Code::CompletionDuplicate, "second completion of the same intent")
                }
            };
            let f = Finding::new(code, name, ev.offset, Some(ev.seq), message)
                .with_wal_id(Some(body::format_uuid(ev.wal_id)));
            out.findings.push(f);
        }
    }
    out.pending = table.pending_count() as u64;
    out.pending_ids = table.pending().collect();
    Some(out)
}

/// The partitions' results as one.
#[must_use]
pub fn merge(parts: Vec<Paired>) -> Paired {
    parts.into_iter().fold(Paired::default(), |mut all, p| {
        all.intents += p.intents;
        all.completions += p.completions;
        all.pending += p.pending;
        all.findings.extend(p.findings);
        all.pending_ids.extend(p.pending_ids);
        all
    })
}

#[must_use]
pub fn encode(p: &Paired) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64 + p.findings.len() * 96));
    w.byte(VERSION);
    w.uint(p.intents);
    w.uint(p.completions);
    w.uint(p.pending);
    w.findings(&p.findings);
    w.uint(p.pending_ids.len() as u64);
    p.pending_ids.iter().for_each(|id| w.0.extend_from_slice(&id.to_le_bytes()));
    w.0
}

#[must_use]
pub fn decode(bytes: &[u8]) -> Option<Paired> {
    let mut r = Reader(bytes);
    if r.byte()? != VERSION {
        return None;
    }
    let (intents, completions, pending, findings) = (r.uint()?, r.uint()?, r.uint()?, r.findings()?);
    let pending_ids = r.list(|r| Some(u128::from_le_bytes(r.take(16)?.try_into().ok()?)))?;
    let p = Paired { intents, completions, pending, findings, pending_ids };
    r.0.is_empty().then_some(p)
}
