//! Turning callers' entries (compact JSON objects) into record bodies before anything is queued:
//! schema check, newline refusal, writer-assigned `wal_id`, size limit. Runs on the caller's thread,
//! in parallel for large batches, so the commit leader only chains, hashes and writes.

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use crate::array_accept::{self, Accepted};
use crate::body::{self, Context};
use crate::body_accept;
use crate::entry_array;
use crate::error::{Result, WalError};
use crate::quote_index::QuoteIndex;
use crate::record::{self, Kind};

/// One entry ready for the log.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub kind: Kind,
    members: Members,
    /// Intent: its own id. Completion: the id of the intent it completes.
    pub wal_id: u128,
    /// The writer assigned `wal_id` (the caller's intent had none): the record's body is
    /// `"wal_id":"<id>",` followed by `members`, written so by the line builder rather than
    /// copied into a buffer of its own per entry.
    assigned: bool,
}

pub use crate::record::ASSIGNED_ID_LEN;

/// Bytes of a record's body members: the caller's, and the assigned id's member if any.
fn body_len(members: usize, assigned: bool) -> usize {
    members + if assigned { ASSIGNED_ID_LEN } else { 0 }
}

impl Prepared {
    /// The caller's body members, without braces and without a trailing comma (without the
    /// assigned id's member, see `assigned_id`).
    #[must_use]
    pub fn members(&self) -> &[u8] {
        match &self.members {
            Members::Shared { entries, index, range } => &entries.entry(*index)[range.clone()],
            Members::Arena { arena, range } => &arena[range.clone()],
            Members::Owned(bytes) => bytes,
        }
    }

    /// The id the writer assigned, to be written as the body's first member before `members`.
    #[must_use]
    pub fn assigned_id(&self) -> Option<u128> {
        self.assigned.then_some(self.wal_id)
    }

    /// Bytes of the record's body members: `members`, and the assigned id's member if any.
    #[must_use]
    pub fn body_len(&self) -> usize {
        body_len(self.members().len(), self.assigned)
    }
}

/// A caller's entries, kept alive until they are written (a batch handed over by value).
trait Entries: Send + Sync {
    fn entry(&self, index: usize) -> &[u8];
    fn count(&self) -> usize;
}

impl<B: AsRef<[u8]> + Send + Sync> Entries for Vec<B> {
    fn entry(&self, index: usize) -> &[u8] {
        self[index].as_ref()
    }

    fn count(&self) -> usize {
        self.len()
    }
}

/// A chunk handed over as one JSON array, with where its elements are (`entry_array`).
struct ArrayEntries<B> {
    array: B,
    elements: Vec<Range<usize>>,
}

impl<B: AsRef<[u8]> + Send + Sync> Entries for ArrayEntries<B> {
    fn entry(&self, index: usize) -> &[u8] {
        &self.array.as_ref()[self.elements[index].clone()]
    }

    fn count(&self) -> usize {
        self.elements.len()
    }
}

/// Where an entry's body members are. Not in a buffer per entry: allocating a thousand small
/// buffers and freeing them on the commit leader's thread was a visible part of its time.
/// - `Shared`: inside the caller's entry itself, kept alive until written (a batch handed
///   over whole: its entries live as long as the call anyway; a chunk handed over as one
///   array: the array is no larger than a copy of its members would be).
/// - `Arena`: copied into one buffer per chunk of a streamed batch, so that the chunk's entries
///   are released as soon as they are checked (the Python layer's encoded bytes are freed while
///   it encodes the next chunks, and their memory reused, not held until the commit).
/// - `Owned`: a buffer of its own, when the entries were lent.
#[derive(Clone)]
enum Members {
    Shared { entries: Arc<dyn Entries>, index: usize, range: Range<usize> },
    Arena { arena: Arc<[u8]>, range: Range<usize> },
    Owned(Vec<u8>),
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Members::Shared { index, range, .. } => write!(f, "Shared(entry {index}, bytes {range:?})"),
            Members::Arena { range, .. } => write!(f, "Arena(bytes {range:?})"),
            Members::Owned(bytes) => write!(f, "Owned({} bytes)", bytes.len()),
        }
    }
}

/// An entry's members as `prepare_one` found them: where they are in the entry, and whether
/// the writer assigned its `wal_id` (`Prepared::assigned_id`).
struct Body {
    members: Range<usize>,
    assigned: bool,
}

const PARALLEL_FROM: usize = 512;

/// `bytes` without leading and trailing whitespace, as a range of it.
fn trimmed(bytes: &[u8]) -> Range<usize> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    start..end
}

/// Per-thread scratch space of the checks.
#[derive(Default)]
struct Scratch {
    quotes: QuoteIndex,
}

/// The verifier's one-pass acceptor (`body_accept`), run on an entry's members in place (its
/// closing brace ends them): when it accepts, the entry's `wal_id`, or none (an intent without
/// one: the writer assigns it). It accepts only what `body::check_intent` / `check_completion`
/// accept with those members, and it refuses any member name outside the schema, so an entry
/// with an envelope name is left to the serde check, which decides and explains as before. The
/// serde pass cost several times the line's SHA-256 per entry (an intent without a `wal_id`
/// took it until the acceptor learned to take those too: a pipelined batch of such entries ran
/// at 0.4x the speed of one with ids). Reading the members in place (rather than copied next to
/// a comma, as a line's body is) saves a copy of every entry.
#[allow(clippy::option_option, reason = "unsure, or accepted with or without a wal_id")]
fn accept(kind: Kind, entry: &[u8], members: Range<usize>, quotes: &mut QuoteIndex) -> Option<Option<u128>> {
    match kind {
        Kind::Intent => body_accept::intent_entry(entry, members, quotes),
        Kind::Completion => body_accept::completion_entry(entry, members, quotes).map(Some),
        _ => None,
    }
}

/// An entry's members and its `wal_id`: the caller's, or (an intent that left it out) the one
/// the writer gives it.
fn with_id(members: Range<usize>, wal_id: Option<u128>) -> (Body, u128) {
    match wal_id {
        Some(id) => (Body { members, assigned: false }, id),
        None => (Body { members, assigned: true }, uuid::Uuid::new_v4().as_u128()),
    }
}

fn prepare_one(
    index: usize,
    kind: Kind,
    entry: &[u8],
    max_record_bytes: usize,
    scratch: &mut Scratch,
) -> Result<(Body, u128)> {
    let schema =
        |field: &str, message: &str| WalError::Schema { index, field: field.to_owned(), message: message.to_owned() };
    let outer = trimmed(entry);
    let json = &entry[outer.clone()];
    if json.first() != Some(&b'{') || json.last() != Some(&b'}') {
        return Err(schema("", "entry must be a JSON object"));
    }
    let within = trimmed(&json[1..json.len() - 1]);
    let members = (outer.start + 1 + within.start)..(outer.start + 1 + within.end);
    // A raw newline can only be whitespace between tokens (JSON strings cannot hold one), and
    // it would split the record: entries must be compact. An entry the acceptor takes has no
    // control character from its members to its closing brace (it refuses them), so only the
    // whitespace before its members is left to search; any other entry is searched whole.
    let newline = |bytes: &[u8]| memchr::memchr2(b'\n', b'\r', bytes).is_some();
    if let Some(wal_id) = accept(kind, entry, members.clone(), &mut scratch.quotes) {
        if newline(&entry[outer.start..members.start]) {
            return Err(schema("", "entry must be compact JSON without line breaks"));
        }
        let (body, wal_id) = with_id(members, wal_id);
        return sized(index, body, wal_id, max_record_bytes);
    }
    if newline(json) {
        return Err(schema("", "entry must be compact JSON without line breaks"));
    }
    // The acceptor follows 64 levels; only entries it was unsure of can be deeper.
    if nesting_depth(json) > MAX_ENTRY_DEPTH {
        return Err(schema("", &format!("nested deeper than {MAX_ENTRY_DEPTH} levels (the writer's limit)")));
    }
    let to_schema = |e: body::FieldError| WalError::Schema { index, field: e.field, message: e.message };
    let (body, wal_id) = match kind {
        Kind::Intent => with_id(members, body::check_intent(json, Context::Entry).map_err(to_schema)?.wal_id),
        Kind::Completion => {
            let facts = body::check_completion(json, Context::Entry).map_err(to_schema)?;
            (Body { members, assigned: false }, facts.wal_id)
        }
        other => {
            return Err(WalError::InvalidArgument(format!(
                "entries of kind {} are written by the log itself",
                other.as_str()
            )))
        }
    };
    sized(index, body, wal_id, max_record_bytes)
}

/// Deepest nesting an entry may have, the entry object being level 1 (docs/FORMAT.md section 7):
/// every conforming reader can parse what the writer accepts without exhausting a stack.
pub const MAX_ENTRY_DEPTH: usize = 128;

/// The deepest nesting of objects and arrays in `json`, brackets inside strings not counted.
fn nesting_depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn sized(index: usize, body: Body, wal_id: u128, max_record_bytes: usize) -> Result<(Body, u128)> {
    let size = record::line_len_bound(body_len(body.members.len(), body.assigned));
    if size > max_record_bytes {
        return Err(WalError::TooLarge { index, size, limit: max_record_bytes });
    }
    Ok((body, wal_id))
}

/// Check every entry (in parallel for large batches); the first bad one (lowest index) fails
/// the whole batch. `first` is the position of `entries[0]` in the caller's batch (errors name
/// that batch's index); `make` turns an entry's body and id into what is kept of it.
fn check_all<B, T, F>(kind: Kind, entries: &[B], max_record_bytes: usize, first: usize, make: F) -> Result<Vec<T>>
where
    B: AsRef<[u8]> + Sync,
    T: Send,
    F: Fn(usize, Body, u128) -> T + Sync,
{
    let one = |scratch: &mut Scratch, (i, e): (usize, &B)| {
        prepare_one(first + i, kind, e.as_ref(), max_record_bytes, scratch).map(|(body, wal_id)| make(i, body, wal_id))
    };
    if entries.len() >= PARALLEL_FROM {
        entries.par_iter().enumerate().map_init(Scratch::default, one).collect()
    } else {
        let mut scratch = Scratch::default();
        entries.iter().enumerate().map(|e| one(&mut scratch, e)).collect()
    }
}

/// Check and prepare a batch lent by the caller (the members are copied); the first bad entry
/// (lowest index) fails the whole batch.
pub fn prepare<B: AsRef<[u8]> + Sync>(kind: Kind, entries: &[B], max_record_bytes: usize) -> Result<Vec<Prepared>> {
    check_all(kind, entries, max_record_bytes, 0, |i, body, wal_id| Prepared {
        kind,
        members: Members::Owned(entries[i].as_ref()[body.members].to_vec()),
        wal_id,
        assigned: body.assigned,
    })
}

/// `prepare` for a batch handed over: each entry's members stay in the entry, which lives as
/// long as one of its `Prepared` does.
pub fn prepare_owned<B: AsRef<[u8]> + Send + Sync + 'static>(
    kind: Kind,
    entries: Vec<B>,
    max_record_bytes: usize,
) -> Result<Vec<Prepared>> {
    prepare_shared(kind, entries, max_record_bytes, 0)
}

/// `prepare_owned` for any entries handed over by value; `first` as in `check_all`.
fn prepare_shared(
    kind: Kind,
    entries: impl Entries + 'static,
    max_record_bytes: usize,
    first: usize,
) -> Result<Vec<Prepared>> {
    let source: Arc<dyn Entries> = Arc::new(entries);
    let each: Vec<&[u8]> = (0..source.count()).map(|i| source.entry(i)).collect();
    check_all(kind, &each, max_record_bytes, first, |index, body, wal_id| shared(kind, &source, index, body, wal_id))
}

/// Entry `index` of `source`, prepared: its members stay in it.
fn shared(kind: Kind, source: &Arc<dyn Entries>, index: usize, body: Body, wal_id: u128) -> Prepared {
    Prepared {
        kind,
        members: Members::Shared { entries: source.clone(), index, range: body.members },
        wal_id,
        assigned: body.assigned,
    }
}

/// `prepare_shared` for a chunk given as one JSON array of `count` entries: checked in one walk
/// (`array_accept`) when every element is one the acceptor takes, else split and checked
/// element by element. An array that does not split into `count` elements fails the batch.
fn prepare_array<B: AsRef<[u8]> + Send + Sync + 'static>(
    kind: Kind,
    array: B,
    count: usize,
    max_record_bytes: usize,
    first: usize,
) -> Result<Vec<Prepared>> {
    if let Some(accepted) = array_accept::accept_array(kind, array.as_ref(), count) {
        let mut elements = Vec::with_capacity(count);
        let mut checked = Vec::with_capacity(count);
        for (i, Accepted { element, wal_id }) in accepted.into_iter().enumerate() {
            // The members lie between the element's braces (the acceptor read no whitespace).
            let members = 1..element.len() - 1;
            let (body, wal_id) = with_id(members, wal_id);
            checked.push(sized(first + i, body, wal_id, max_record_bytes)?);
            elements.push(element);
        }
        let source: Arc<dyn Entries> = Arc::new(ArrayEntries { array, elements });
        return Ok(checked
            .into_iter()
            .enumerate()
            .map(|(index, (body, wal_id))| shared(kind, &source, index, body, wal_id))
            .collect());
    }
    match entry_array::split_array(array.as_ref()) {
        Some(elements) if elements.len() == count => {
            prepare_shared(kind, ArrayEntries { array, elements }, max_record_bytes, first)
        }
        _ => Err(WalError::InvalidArgument(format!(
            "the chunk from entry {first}: not one JSON array of {count} entries"
        ))),
    }
}

/// `prepare` for one chunk of a streamed batch: the members of its entries are copied into one
/// buffer, and the entries dropped when this returns. `first` as in `check_all`.
fn prepare_chunk<B: AsRef<[u8]> + Sync>(
    kind: Kind,
    entries: &[B],
    max_record_bytes: usize,
    first: usize,
) -> Result<Vec<Prepared>> {
    let checked = check_all(kind, entries, max_record_bytes, first, |index, body, wal_id| (index, body, wal_id))?;
    let size = checked.iter().map(|(_, body, _)| body.members.len()).sum();
    let mut arena = Vec::with_capacity(size);
    let mut placed = Vec::with_capacity(checked.len());
    for (index, body, wal_id) in checked {
        let at = arena.len();
        arena.extend_from_slice(&entries[index].as_ref()[body.members]);
        placed.push((at..arena.len(), wal_id, body.assigned));
    }
    let arena: Arc<[u8]> = arena.into();
    Ok(placed
        .into_iter()
        .map(|(range, wal_id, assigned)| Prepared {
            kind,
            members: Members::Arena { arena: arena.clone(), range },
            wal_id,
            assigned,
        })
        .collect())
}

/// Where the chunks of a `Streamed` batch are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkChecks {
    /// On the thread pool, each chunk as soon as it arrives, while the caller produces the next:
    /// for a batch committed and waited for, when the other cores have nothing else to do.
    Background,
    /// On the caller's thread, before `push` returns: for pipelined submits, whose other cores
    /// are already busy hashing, writing and syncing earlier batches. Handing each chunk to the
    /// pool there only made the pool's threads compete with the write thread for the same cores
    /// (measured on 2 vCPUs: 5-10% less throughput, more CPU per batch).
    Caller,
}

/// A batch handed over in chunks and prepared one chunk at a time as it arrives, in the
/// background (so a caller that produces entries, the Python layer encoding them under its
/// interpreter lock, and the checks run on different cores at once) or on the caller's thread
/// (`ChunkChecks`). `finish` returns the whole batch, or the error of its first bad entry: as
/// `prepare` over the concatenated chunks.
pub struct Streamed {
    kind: Kind,
    max_record_bytes: usize,
    checks: ChunkChecks,
    next_index: usize,
    chunks: Vec<std::sync::mpsc::Receiver<Result<Vec<Prepared>>>>,
}

impl Streamed {
    #[must_use]
    pub fn new(kind: Kind, max_record_bytes: usize, checks: ChunkChecks) -> Streamed {
        Streamed { kind, max_record_bytes, checks, next_index: 0, chunks: Vec::new() }
    }

    /// Entries handed over so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.next_index
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.next_index == 0
    }

    /// Prepare the next chunk (see `ChunkChecks` for where).
    pub fn push<B: AsRef<[u8]> + Send + Sync + 'static>(&mut self, entries: Vec<B>) {
        self.spawn_chunk(entries.len(), move |kind, max, first| prepare_chunk(kind, &entries, max, first));
    }

    /// Prepare the next chunk, given as one compact JSON array of `count` entries (one encoder
    /// call for the chunk, see `entry_array`). An array that does not split into `count`
    /// elements fails the batch.
    pub fn push_array<B: AsRef<[u8]> + Send + Sync + 'static>(&mut self, array: B, count: usize) {
        self.spawn_chunk(count, move |kind, max, first| prepare_array(kind, array, count, max, first));
    }

    /// Run `prepare(kind, max_record_bytes, first)` for the next chunk of `count` entries where
    /// `checks` says, its answer kept for `finish` (in a channel either way: one slot, so the
    /// caller's own send never blocks).
    fn spawn_chunk(
        &mut self,
        count: usize,
        prepare: impl FnOnce(Kind, usize, usize) -> Result<Vec<Prepared>> + Send + 'static,
    ) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (kind, max, first) = (self.kind, self.max_record_bytes, self.next_index);
        self.next_index = self.next_index.saturating_add(count);
        match self.checks {
            ChunkChecks::Caller => {
                let _ = tx.send(prepare(kind, max, first));
            }
            ChunkChecks::Background => rayon::spawn(move || {
                let _ = tx.send(prepare(kind, max, first));
            }),
        }
        self.chunks.push(rx);
    }

    /// Wait for every chunk; chunks are joined in order, so the first error met is the lowest
    /// index's.
    pub fn finish(self) -> Result<Vec<Prepared>> {
        let mut chunks = Vec::with_capacity(self.chunks.len());
        for rx in self.chunks {
            chunks.push(rx.recv().map_err(|_| WalError::InvalidArgument("a chunk's preparation was lost".into()))??);
        }
        // Sized by what the chunks hold, not by the counts announced (a caller's word, which a
        // chunk that fails may have overstated).
        let mut out = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
        for chunk in chunks {
            out.extend(chunk);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "prepare_tests.rs"]
mod tests;
