//! The clean-close state (docs/FORMAT.md section 7): what a writer that closes cleanly leaves so
//! that the next one opens without re-reading history. `DIR/open-state.json` names the head seal
//! (segment, offset, seq, hash, timestamp), the key in force, the revoked keys, the pending
//! intents and the name and size of every segment, and is signed with the writer key;
//! `DIR/open-state.ids` holds every intent's `wal_id` up to the head (sorted, 16 bytes each), the
//! writer's duplicate check, vouched for by its SHA-256 in the signed state and only read when an
//! append first needs it. A writer opening with the same key trusts history up to that head when
//! the signature verifies, every segment still has its recorded name and size, and the head
//! seal is byte for byte the one recorded; it then scans only what follows. Anything else, and
//! it verifies the whole log as before. `validate` never reads these files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IoContext, Result, WalError};
use crate::fsutil::Fs;
use crate::hash::{self, Digest};
use crate::keys::{self, PublicKey, WriterKey};
use crate::log_report::Checkpoint;
use crate::ops::PriorIds;
use crate::record;
use crate::segment;
use crate::timestamp;

pub const STATE: &str = "open-state.json";
pub const IDS: &str = "open-state.ids";
const FORMAT: &str = "kfm-wal-open-state/1";
/// The signed message: this line, then the state's JSON exactly as written.
const SIGNED_PREFIX: &[u8] = b"kfm-wal open-state/1\n";

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    log_id: String,
    seq: u64,
    hash: String,
    segment: u64,
    offset: u64,
    timestamp: String,
    key_id: String,
    revoked: Vec<String>,
    pending: Vec<String>,
    /// (file name, size) of every segment, in order, the head's included.
    segments: Vec<(String, u64)>,
    intents: u64,
    intents_sha256: String,
}

/// What a clean close records: the head seal and the trust state there.
pub(crate) struct Closing<'a> {
    pub log_id: &'a str,
    pub seq: u64,
    pub hash: Digest,
    pub segment_no: u64,
    pub segment_path: &'a Path,
    pub revoked: &'a [String],
    pub pending: Vec<u128>,
    /// Every intent's `wal_id` up to the head, sorted.
    pub ids: Vec<u128>,
}

/// Write the clean-close state of the log in `dir`: the ids first, then the signed state, each
/// atomically. Fails (and the caller ignores it: the next open verifies everything) when the
/// live segment does not end with the head seal. `sync` as the writer's durability says: a state
/// lost or torn by a power loss fails its signature or hash check, and the next open verifies all.
pub(crate) fn write(fs: &Fs, dir: &Path, key: &WriterKey, c: &Closing<'_>, sync: bool) -> Result<()> {
    let (offset, ts) = last_seal(c.segment_path, c.seq, &c.hash)?;
    let mut ids = Vec::with_capacity(c.ids.len() * 16);
    for id in &c.ids {
        ids.extend_from_slice(&id.to_be_bytes());
    }
    let segments = segment::list(dir)?
        .into_iter()
        .filter(|s| s.number <= c.segment_no)
        .map(|s| Ok((s.name(), std::fs::metadata(&s.path).at(&s.path)?.len())))
        .collect::<Result<Vec<_>>>()?;
    let mut pending: Vec<String> = c.pending.iter().map(|&id| crate::body::format_uuid(id)).collect();
    pending.sort();
    let state = StateFile {
        format: FORMAT.into(),
        log_id: c.log_id.into(),
        seq: c.seq,
        hash: hash::to_prefixed(&c.hash),
        segment: c.segment_no,
        offset,
        timestamp: String::from_utf8_lossy(&ts).into_owned(),
        key_id: key.public.key_id.clone(),
        revoked: c.revoked.to_vec(),
        pending,
        segments,
        intents: c.ids.len() as u64,
        intents_sha256: hash::to_prefixed(&hash::sha256(&ids)),
    };
    let body = serde_json::to_vec(&state).map_err(|e| WalError::InvalidArgument(e.to_string()))?;
    let signature = key.sign(&[SIGNED_PREFIX, &body].concat());
    let mut file = body;
    file.push(b'\n');
    file.extend_from_slice(keys::encode_signature(&signature).as_bytes());
    file.push(b'\n');
    fs.write_atomic(&dir.join(IDS), &ids, sync)?;
    fs.write_atomic(&dir.join(STATE), &file, sync)
}

/// Where the head seal (`seq`, `hash`) starts in the live segment, and its timestamp: it must be
/// the segment's last line.
fn last_seal(path: &Path, seq: u64, head: &Digest) -> Result<(u64, timestamp::Timestamp)> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut f = std::fs::File::open(path).at(path)?;
    let len = f.metadata().at(path)?.len();
    let back = len.min(64 << 10);
    f.seek(SeekFrom::Start(len - back)).at(path)?;
    let mut tail = Vec::with_capacity(usize::try_from(back).unwrap_or(0));
    f.read_to_end(&mut tail).at(path)?;
    let start = tail[..tail.len().saturating_sub(1)].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = &tail[start..];
    let env = record::parse(line).map_err(|_| not_at_head(path))?;
    if env.seq != seq || hash::sha256(record::hashed_part(line)) != *head {
        return Err(not_at_head(path));
    }
    let ts: timestamp::Timestamp = env.timestamp.try_into().map_err(|_| not_at_head(path))?;
    Ok((len - back + start as u64, ts))
}

fn not_at_head(path: &Path) -> WalError {
    WalError::InvalidArgument(format!("{}: does not end with the head seal", path.display()))
}

/// A clean-close state that still holds for the log in `dir` and the writer key `key`: the
/// checkpoint to verify from, and the intent ids before it. None (verify everything) when there
/// is none, it is not this key's, or anything it records has changed.
pub(crate) fn usable(dir: &Path, key: &WriterKey) -> Option<(Checkpoint, Arc<PriorIds>)> {
    let text = std::fs::read(dir.join(STATE)).ok()?;
    let mut lines = text.split(|&b| b == b'\n');
    let (body, sig) = (lines.next()?, lines.next()?);
    let sig = keys::decode_signature(std::str::from_utf8(sig).ok()?)?;
    key.public.key.verify_strict(&[SIGNED_PREFIX, body].concat(), &sig).ok()?;
    let state: StateFile = serde_json::from_slice(body).ok()?;
    if state.format != FORMAT || state.key_id != key.public.key_id {
        return None;
    }
    // Cheap metadata: every segment up to the head's has its recorded name and size; the
    // head's segment may have grown (appends after a crash are scanned).
    let now = segment::list(dir).ok()?;
    let before: Vec<_> = now.iter().filter(|s| s.number <= state.segment).collect();
    if before.len() != state.segments.len() {
        return None;
    }
    for (s, (name, size)) in before.iter().zip(&state.segments) {
        let len = std::fs::metadata(&s.path).ok()?.len();
        let same = s.name() == *name && (len == *size || (s.number == state.segment && len > *size));
        if !same {
            return None;
        }
    }
    let timestamp: timestamp::Timestamp = state.timestamp.as_bytes().try_into().ok()?;
    let pending = state.pending.iter().map(|p| crate::body::parse_uuid_v4(p)).collect::<Option<Vec<_>>>()?;
    let cp = Checkpoint {
        log_id: state.log_id,
        seq: state.seq,
        hash: hash::parse_prefixed(&state.hash)?,
        segment: state.segment,
        offset: state.offset,
        timestamp,
        key: PublicKey::new(key.public.key),
        revoked: state.revoked,
        pending,
    };
    let ids_hash = hash::parse_prefixed(&state.intents_sha256)?;
    let (path, count) = (dir.join(IDS), state.intents);
    let fallback_dir = dir.to_path_buf();
    let prior =
        PriorIds::lazy(Box::new(move || load_ids(&path, count, &ids_hash).unwrap_or_else(|| rebuilt(&fallback_dir))));
    Some((cp, Arc::new(prior)))
}

/// The ids file, if it is exactly what the signed state vouches for.
fn load_ids(path: &PathBuf, count: u64, expected: &Digest) -> Option<Vec<u128>> {
    let raw = std::fs::read(path).ok()?;
    if raw.len() as u64 != count.checked_mul(16)? || hash::sha256(&raw) != *expected {
        return None;
    }
    Some(raw.chunks_exact(16).map(|c| u128::from_be_bytes(c.try_into().expect("16 bytes"))).collect())
}

/// The ids file cannot be trusted: every intent id of the log, read from the log itself.
fn rebuilt(dir: &Path) -> Vec<u128> {
    let opts = crate::VerifyOptions { keep_ops: true, check_signatures: false, ..crate::VerifyOptions::default() };
    let mut ids: Vec<u128> = crate::verify(dir, &opts).map(|r| r.ops.seen().collect()).unwrap_or_default();
    ids.sort_unstable();
    ids
}
