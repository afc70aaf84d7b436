//! Schema check without writing: the same compiled check the writer runs before queueing.

use kfm_wal_core::body::{self, Context};
use pyo3::prelude::*;

/// None if `entry` (compact JSON) is a valid entry of `kind`, else (field, message).
#[pyfunction]
pub fn check_entry(kind: &str, entry: &[u8]) -> PyResult<Option<(String, String)>> {
    let result = match kind {
        "intent" => body::check_intent(entry, Context::Entry).map(|_| ()),
        "completion" => body::check_completion(entry, Context::Entry).map(|_| ()),
        other => return Err(crate::errors::to_py(kfm_wal_core::WalError::InvalidArgument(format!("no entry kind {other:?}")))),
    };
    Ok(result.err().map(|e| (e.field, e.message)))
}
