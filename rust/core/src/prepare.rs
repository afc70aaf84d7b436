//! Turning callers' entries (compact JSON objects) into record bodies before anything is queued:
//! schema check, newline refusal, writer-assigned wal_id, size limit. Runs on the caller's thread,
//! in parallel for large batches, so the commit leader only chains, hashes and writes.

use rayon::prelude::*;

use crate::body::{self, Context};
use crate::error::{Result, WalError};
use crate::record::{self, Kind};

/// One entry ready for the log.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub kind: Kind,
    /// Body members, without braces and without a trailing comma.
    pub members: Vec<u8>,
    /// Intent: its own id. Completion: the id of the intent it completes.
    pub wal_id: u128,
}

const PARALLEL_FROM: usize = 512;

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &bytes[start..end]
}

fn prepare_one(index: usize, kind: Kind, json: &[u8], max_record_bytes: usize) -> Result<Prepared> {
    let schema = |field: &str, message: &str| WalError::Schema { index, field: field.to_owned(), message: message.to_owned() };
    let json = trim(json);
    if json.first() != Some(&b'{') || json.last() != Some(&b'}') {
        return Err(schema("", "entry must be a JSON object"));
    }
    // A raw newline can only be whitespace between tokens (JSON strings cannot hold one), and
    // it would split the record: entries must be compact.
    if memchr::memchr2(b'\n', b'\r', json).is_some() {
        return Err(schema("", "entry must be compact JSON without line breaks"));
    }
    let inner = trim(&json[1..json.len() - 1]);
    let to_schema = |e: body::FieldError| WalError::Schema { index, field: e.field, message: e.message };
    let (members, wal_id) = match kind {
        Kind::Intent => {
            let facts = body::check_intent(json, Context::Entry).map_err(to_schema)?;
            match facts.wal_id {
                Some(id) => (inner.to_vec(), id),
                None => {
                    let id = uuid::Uuid::new_v4();
                    let mut m = Vec::with_capacity(inner.len() + 48);
                    m.extend_from_slice(b"\"wal_id\":\"");
                    m.extend_from_slice(id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).as_bytes());
                    m.extend_from_slice(b"\",");
                    m.extend_from_slice(inner);
                    (m, id.as_u128())
                }
            }
        }
        Kind::Completion => {
            let facts = body::check_completion(json, Context::Entry).map_err(to_schema)?;
            (inner.to_vec(), facts.wal_id)
        }
        other => return Err(WalError::InvalidArgument(format!("entries of kind {} are written by the log itself", other.as_str()))),
    };
    let size = record::line_len_bound(members.len());
    if size > max_record_bytes {
        return Err(WalError::TooLarge { index, size, limit: max_record_bytes });
    }
    Ok(Prepared { kind, members, wal_id })
}

/// Check and prepare a batch; the first bad entry (lowest index) fails the whole batch.
pub fn prepare<B: AsRef<[u8]> + Sync>(kind: Kind, entries: &[B], max_record_bytes: usize) -> Result<Vec<Prepared>> {
    prepare_from(kind, entries, max_record_bytes, 0)
}

/// `prepare` for entries that start at position `first` of a larger batch (errors name that
/// batch's index).
fn prepare_from<B: AsRef<[u8]> + Sync>(kind: Kind, entries: &[B], max_record_bytes: usize, first: usize) -> Result<Vec<Prepared>> {
    let one = |(i, e): (usize, &B)| prepare_one(first + i, kind, e.as_ref(), max_record_bytes);
    if entries.len() >= PARALLEL_FROM {
        entries.par_iter().enumerate().map(one).collect()
    } else {
        entries.iter().enumerate().map(one).collect()
    }
}

/// A batch handed over in chunks and prepared in the background, each chunk as soon as it
/// arrives, so a caller that produces entries (the Python layer encoding them, under its
/// interpreter lock) and the checks run on different cores at once. `finish` returns the
/// whole batch, or the error of its first bad entry: as `prepare` over the concatenated chunks.
pub struct Streamed {
    kind: Kind,
    max_record_bytes: usize,
    next_index: usize,
    chunks: Vec<std::sync::mpsc::Receiver<Result<Vec<Prepared>>>>,
}

impl Streamed {
    pub fn new(kind: Kind, max_record_bytes: usize) -> Streamed {
        Streamed { kind, max_record_bytes, next_index: 0, chunks: Vec::new() }
    }

    /// Entries handed over so far.
    pub fn len(&self) -> usize {
        self.next_index
    }

    pub fn is_empty(&self) -> bool {
        self.next_index == 0
    }

    /// Start preparing the next chunk on the thread pool; returns at once.
    pub fn push<B: AsRef<[u8]> + Send + Sync + 'static>(&mut self, entries: Vec<B>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (kind, max, first) = (self.kind, self.max_record_bytes, self.next_index);
        self.next_index += entries.len();
        rayon::spawn(move || {
            let _ = tx.send(prepare_from(kind, &entries, max, first));
        });
        self.chunks.push(rx);
    }

    /// Wait for every chunk; chunks are joined in order, so the first error met is the lowest
    /// index's.
    pub fn finish(self) -> Result<Vec<Prepared>> {
        let mut out = Vec::with_capacity(self.next_index);
        for rx in self.chunks {
            let chunk = rx.recv().map_err(|_| WalError::InvalidArgument("a chunk's preparation was lost".into()))??;
            out.extend(chunk);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> Vec<u8> {
        let h = "a".repeat(64);
        format!(
            r#"{{"actor":{{"id":"r","type":"ci"}},"governance":{{"care":"public"}},"lineage_links":[],"operation":"etl_step","payload":{{"i":{i}}},"post_state_expected":"sha256:{h}","pre_state_hash":"sha256:{h}","reversal":{{"steps":[{{"type":"file.delete"}}]}},"telemetry":{{"id":"t"}},"tier":1}}"#
        )
        .into_bytes()
    }

    #[test]
    fn streamed_chunks_match_one_batch_and_name_the_batch_index() {
        let entries: Vec<Vec<u8>> = (0..1500).map(entry).collect();
        let mut s = Streamed::new(Kind::Intent, 1 << 20);
        for chunk in entries.chunks(256) {
            s.push(chunk.to_vec());
        }
        assert_eq!(s.len(), 1500);
        let streamed = s.finish().unwrap();
        let whole = prepare(Kind::Intent, &entries, 1 << 20).unwrap();
        assert_eq!(streamed.len(), whole.len());
        // Ids are assigned per entry; everything else is the same bytes in the same order.
        let strip = |p: &Prepared| p.members[p.members.iter().position(|&b| b == b',').unwrap()..].to_vec();
        assert!(streamed.iter().zip(&whole).all(|(a, b)| strip(a) == strip(b)));

        let mut bad = entries.clone();
        bad[700] = b"{\"tier\":1}".to_vec();
        bad[1400] = b"[]".to_vec();
        let mut s = Streamed::new(Kind::Intent, 1 << 20);
        for chunk in bad.chunks(256) {
            s.push(chunk.to_vec());
        }
        match s.finish() {
            Err(WalError::Schema { index, .. }) => assert_eq!(index, 700),
            other => panic!("expected the schema error of entry 700, got {other:?}"),
        }
    }
}
