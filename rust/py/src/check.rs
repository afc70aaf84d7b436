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
