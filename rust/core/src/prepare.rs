//! Turning callers' entries (compact JSON objects) into record bodies before anything is queued:
//! schema check, newline refusal, writer-assigned wal_id, size limit. Runs on the caller's thread,
//! in parallel for large batches, so the commit leader only chains, hashes and writes.

use rayon::prelude::*;

use crate::body::{self, Context};
use crate::body_accept;
use crate::error::{Result, WalError};
use crate::hash;
use crate::quote_index::QuoteIndex;
use crate::record::{self, Envelope, Kind};

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

/// The verifier's one-pass acceptor (`body_accept`), run on an entry's members followed by the
/// comma a line puts after them: the wal_id when it accepts. It reads only the body it is given
/// and accepts only what `body::check_intent` / `check_completion` accept on a line with that
/// body; it refuses any member name outside the schema, so an entry with an envelope name or
/// without a wal_id is left to the serde check, which decides and explains as before. The
/// serde pass cost several times the line's SHA-256 per entry.
fn accept(kind: Kind, body: &[u8], quotes: &mut QuoteIndex) -> Option<u128> {
    let env = Envelope { seq: 0, prev: hash::ZERO, kind: Some(kind), kind_name: b"", timestamp: b"", body, claimed: hash::ZERO };
    match kind {
        Kind::Intent => body_accept::intent(body, &env, true, quotes),
        Kind::Completion => body_accept::completion(body, &env, true, quotes),
        _ => None,
    }
}

fn prepare_one(index: usize, kind: Kind, json: &[u8], max_record_bytes: usize, quotes: &mut QuoteIndex) -> Result<Prepared> {
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
    let mut body = Vec::with_capacity(inner.len() + 1);
    body.extend_from_slice(inner);
    body.push(b',');
    if let Some(wal_id) = accept(kind, &body, quotes) {
        body.pop();
        return sized(index, Prepared { kind, members: body, wal_id }, max_record_bytes);
    }
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
    sized(index, Prepared { kind, members, wal_id }, max_record_bytes)
}

fn sized(index: usize, item: Prepared, max_record_bytes: usize) -> Result<Prepared> {
    let size = record::line_len_bound(item.members.len());
    if size > max_record_bytes {
        return Err(WalError::TooLarge { index, size, limit: max_record_bytes });
    }
    Ok(item)
}

/// Check and prepare a batch; the first bad entry (lowest index) fails the whole batch.
pub fn prepare<B: AsRef<[u8]> + Sync>(kind: Kind, entries: &[B], max_record_bytes: usize) -> Result<Vec<Prepared>> {
    prepare_from(kind, entries, max_record_bytes, 0)
}

/// `prepare` for entries that start at position `first` of a larger batch (errors name that
/// batch's index).
fn prepare_from<B: AsRef<[u8]> + Sync>(kind: Kind, entries: &[B], max_record_bytes: usize, first: usize) -> Result<Vec<Prepared>> {
    let one = |quotes: &mut QuoteIndex, (i, e): (usize, &B)| prepare_one(first + i, kind, e.as_ref(), max_record_bytes, quotes);
    if entries.len() >= PARALLEL_FROM {
        entries.par_iter().enumerate().map_init(QuoteIndex::default, one).collect()
    } else {
        let mut quotes = QuoteIndex::default();
        entries.iter().enumerate().map(|e| one(&mut quotes, e)).collect()
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

    /// The serde check alone (what `prepare_one` did before the fast path): its verdict and id.
    fn slow(kind: Kind, json: &[u8]) -> Option<Option<u128>> {
        match kind {
            Kind::Intent => body::check_intent(json, Context::Entry).ok().map(|f| f.wal_id),
            _ => body::check_completion(json, Context::Entry).ok().map(|f| Some(f.wal_id)),
        }
    }

    fn fast(kind: Kind, json: &[u8]) -> Option<u128> {
        // As `prepare_one`: an object, on one line.
        let json = trim(json);
        if json.len() < 2 || json[0] != b'{' || json[json.len() - 1] != b'}' || memchr::memchr2(b'\n', b'\r', json).is_some() {
            return None;
        }
        let inner = trim(&json[1..json.len() - 1]);
        let mut body = inner.to_vec();
        body.push(b',');
        accept(kind, &body, &mut QuoteIndex::default())
    }

    /// Whatever the fast path accepts as an entry, the serde check accepts with the same wal_id
    /// (names reserved for the envelope and entries without a wal_id included).
    fn assert_sound(kind: Kind, json: &[u8]) {
        if let Some(id) = fast(kind, json) {
            assert_eq!(slow(kind, json), Some(Some(id)), "fast path accepted {}", String::from_utf8_lossy(json));
        }
    }

    const ID: &str = "3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f";

    fn completion() -> Vec<u8> {
        format!(r#"{{"wal_id":"{ID}","status":"succeeded","duration_ms":1.5,"detail":{{"n":null}}}}"#).into_bytes()
    }

    #[test]
    fn fast_path_takes_seed_entries_and_agrees_with_the_serde_check() {
        let id = uuid::Uuid::parse_str(ID).unwrap().as_u128();
        let with_id = |e: &[u8]| [format!(r#"{{"wal_id":"{ID}","#).as_bytes(), &e[1..]].concat();
        let intent = with_id(&entry(7));
        assert_eq!(fast(Kind::Intent, &intent), Some(id));
        assert_eq!(fast(Kind::Completion, &completion()), Some(id));
        // Left to the serde check: no wal_id (the writer assigns one), an envelope name.
        assert_eq!(fast(Kind::Intent, &entry(7)), None);
        let reserved = [&intent[..intent.len() - 1], b",\"seq\":1}"].concat();
        assert_eq!(fast(Kind::Intent, &reserved), None);
        assert!(slow(Kind::Intent, &reserved).is_none());

        // Every member of both kinds replaced by values of every JSON type, dropped, or
        // doubled; then random byte mutations.
        let values: &[&str] = &[
            "null",
            "true",
            "false",
            "0",
            "4",
            "5",
            "-1",
            "1.5",
            "\"\"",
            "\"x\"",
            "\"etl_step\"",
            "\"rollback\"",
            "\"ci\"",
            "\"public\"",
            "\"failed\"",
            "[]",
            "[\"\"]",
            "[\"a\"]",
            "{}",
            "{\"id\":\"x\"}",
            "{\"type\":\"ci\",\"id\":\"x\"}",
            "{\"steps\":[]}",
            "{\"irreversible\":true,\"reason\":\"why\"}",
            "{\"care\":\"public\",\"approvals\":null}",
        ];
        let mut rng = fastrand::Rng::with_seed(5);
        for (kind, base) in [(Kind::Intent, intent), (Kind::Completion, completion())] {
            let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&base).unwrap();
            for name in value.keys().map(String::as_str).chain(["seq", "hash", "extra"]) {
                for v in values.iter().map(|v| Some(*v)).chain([None]) {
                    let mut members: Vec<String> = Vec::new();
                    for (k, old) in &value {
                        if k != name {
                            members.push(format!("{k:?}:{old}"));
                        }
                    }
                    if let Some(v) = v {
                        members.push(format!("{name:?}:{v}"));
                    }
                    let json = format!("{{{}}}", members.join(","));
                    assert_sound(kind, json.as_bytes());
                    if let Some(v) = v {
                        assert_sound(kind, format!("{{{},{name:?}:{v}}}", members.join(",")).as_bytes());
                    }
                }
            }
            for _ in 0..20_000 {
                let mut m = base.clone();
                for _ in 0..rng.usize(1..4) {
                    let at = rng.usize(..m.len());
                    match rng.u8(..3) {
                        0 => m[at] = b"\"\\{}[]:, \t0a-.eE"[rng.usize(..16)],
                        1 => _ = m.remove(at),
                        _ => m.insert(at, rng.u8(..)),
                    }
                }
                assert_sound(kind, &m);
            }
        }
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
