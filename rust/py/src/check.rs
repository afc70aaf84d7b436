//! Schema check without writing: the same compiled check the writer runs before queueing; and
//! the byte scan the encoder runs on every batch.

use kfm_wal_core::body::{self, Context};
use pyo3::prelude::*;

/// None if `entry` (compact JSON) is a valid entry of `kind`, else (field, message).
#[pyfunction]
pub fn check_entry(kind: &str, entry: &[u8]) -> PyResult<Option<(String, String)>> {
    let result = match kind {
        "intent" => body::check_intent(entry, Context::Entry).map(|_| ()),
        "completion" => body::check_completion(entry, Context::Entry).map(|_| ()),
        other => return Err(crate::errors::usage(format!("no entry kind {other:?}"))),
    };
    Ok(result.err().map(|e| (e.field, e.message)))
}

/// Positions of the entries whose bytes contain `null` anywhere. orjson writes NaN and Infinity
/// as `null`, so the encoder re-walks these entries (and only these) for values JSON cannot
/// hold. One SIMD substring search per entry: Python's `in`, entry by entry, cost as much as
/// encoding the batch.
#[pyfunction]
pub fn holding_null(entries: Vec<pyo3::pybacked::PyBackedBytes>) -> Vec<usize> {
    let finder = memchr::memmem::Finder::new(b"null");
    entries.into_iter().enumerate().filter(|(_, e)| finder.find(e).is_some()).map(|(i, _)| i).collect()
}

/// `holding_null` for a chunk encoded as one JSON array: the positions of its elements that
/// contain `null`. The whole array is searched first, and only an array holding a `null` is split
/// (None when it does not split: not one JSON array).
#[pyfunction]
pub fn array_holding_null(py: Python<'_>, array: &[u8]) -> Option<Vec<usize>> {
    py.detach(|| {
        let finder = memchr::memmem::Finder::new(b"null");
        if finder.find(array).is_none() {
            return Some(Vec::new());
        }
        let elements = kfm_wal_core::entry_array::split_array(array)?;
        Some(
            elements
                .into_iter()
                .enumerate()
                .filter(|(_, r)| finder.find(&array[r.clone()]).is_some())
                .map(|(i, _)| i)
                .collect(),
        )
    })
}

/// Whether `signature` (base64) is a valid Ed25519 signature of `message` by `public_key`
/// (base64), by the rules seals are verified with (FORMAT.md section 5: strict base64, strict
/// point decoding, small-order points refused, S below L, the cofactored equation).
#[pyfunction]
pub fn verify_signature(public_key: &str, message: &[u8], signature: &str) -> bool {
    let (Ok(key), Some(signature)) =
        (kfm_wal_core::keys::PublicKey::from_base64(public_key), kfm_wal_core::keys::decode_signature(signature))
    else {
        return false;
    };
    kfm_wal_core::signature_rules::verify_one(message, &signature, &key.key)
}
