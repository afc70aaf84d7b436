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
    if entries.len() >= PARALLEL_FROM {
        entries.par_iter().enumerate().map(|(i, e)| prepare_one(i, kind, e.as_ref(), max_record_bytes)).collect()
    } else {
        entries.iter().enumerate().map(|(i, e)| prepare_one(i, kind, e.as_ref(), max_record_bytes)).collect()
    }
}
