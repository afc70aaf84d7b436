//! Reading and verifying: segment listing, sealed records of one segment, and whole-log
//! verification. All file access and hashing runs detached; Python objects are built after.

use std::collections::HashMap;
use std::path::PathBuf;

use kfm_wal_core::keys::PublicKey;
use kfm_wal_core::{hash, reader, segment::SegmentFile, verify, VerifyOptions, WalError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{finding_dict, to_py, IntoPyResult};

/// (number, first_seq, path, archived) of every segment, in log order.
#[pyfunction]
pub fn segments(py: Python<'_>, path: PathBuf) -> PyResult<Vec<(u64, u64, PathBuf, bool)>> {
    let files = py.detach(|| reader::segments(&path)).py()?;
    Ok(files.into_iter().map(|f| (f.number, f.first_seq, f.path, f.archived)).collect())
}

/// (seq, kind, offset, hash, line bytes) of one sealed record.
type RecordTuple<'py> = (u64, &'static str, u64, String, Bound<'py, PyBytes>);

/// Sealed records of one segment with seq in [from_seq, to_seq], read from byte `offset` (0, or
/// an offset this function returned), and the offset just past the last seal.
#[pyfunction]
#[pyo3(signature = (path, number, first_seq, archived, from_seq=0, to_seq=u64::MAX, offset=0))]
#[allow(clippy::too_many_arguments)]
pub fn read_segment<'py>(
    py: Python<'py>,
    path: PathBuf,
    number: u64,
    first_seq: u64,
    archived: bool,
    from_seq: u64,
    to_seq: u64,
    offset: u64,
) -> PyResult<(Vec<RecordTuple<'py>>, u64)> {
    let file = SegmentFile { number, first_seq, path, archived };
    let (records, end) = py.detach(|| reader::read_segment_from(&file, offset, from_seq, to_seq)).py()?;
    let tuples =
        records.into_iter().map(|r| (r.seq, r.kind.as_str(), r.offset, hash::to_prefixed(&r.hash), PyBytes::new(py, &r.line))).collect();
    Ok((tuples, end))
}

/// Verify the log at `path`. `keyring` is a list of base64 public keys to trust; None trusts the
/// keys the log declares. Returns a plain dict (the Python layer wraps it in a report object).
#[pyfunction]
#[pyo3(signature = (path, keyring=None, check_bodies=true))]
pub fn verify_log<'py>(py: Python<'py>, path: PathBuf, keyring: Option<Vec<String>>, check_bodies: bool) -> PyResult<Bound<'py, PyDict>> {
    let ring = match keyring {
        None => None,
        Some(keys) => {
            let mut ring = HashMap::new();
            for k in keys {
                let pk = PublicKey::from_base64(&k).map_err(|e| to_py(WalError::InvalidArgument(format!("keyring: {e}"))))?;
                ring.insert(pk.key_id.clone(), pk);
            }
            Some(ring)
        }
    };
    let opts = VerifyOptions { keyring: ring, check_bodies, keep_ops: false };
    let started = std::time::Instant::now();
    let report = py.detach(|| verify(&path, &opts)).py()?;
    let elapsed = started.elapsed().as_secs_f64();
    let d = PyDict::new(py);
    let findings: PyResult<Vec<_>> = report.findings.iter().map(|f| finding_dict(py, f)).collect();
    d.set_item("findings", findings?)?;
    d.set_item("segments", report.segments.iter().map(|s| s.name()).collect::<Vec<_>>())?;
    d.set_item("records", report.records)?;
    d.set_item("bytes", report.bytes)?;
    d.set_item("intents", report.intents)?;
    d.set_item("completions", report.completions)?;
    d.set_item("pending", report.pending)?;
    d.set_item("log_id", report.log_id)?;
    d.set_item("head_seq", report.head.map(|h| h.seq))?;
    d.set_item("head_hash", report.head.map(|h| hash::to_prefixed(&h.hash)))?;
    d.set_item("keys_seen", report.keys_seen.into_iter().collect::<Vec<_>>())?;
    d.set_item("key_in_force", report.key_in_force.map(|k| k.key_id))?;
    d.set_item("trust", if report.keyring_used { "keyring" } else { "self-declared" })?;
    d.set_item("elapsed", elapsed)?;
    Ok(d)
}

/// (key_id, base64 public key) of a 32-byte Ed25519 seed.
#[pyfunction]
pub fn public_key(seed: &[u8]) -> PyResult<(String, String)> {
    let key = kfm_wal_core::keys::WriterKey::from_seed(seed).map_err(|e| to_py(WalError::InvalidArgument(e)))?;
    Ok((key.public.key_id.clone(), key.public.to_base64()))
}

/// Copy every verifiable record of the log at `src`, up to its first damage, into a new log at
/// `dst`; `src` is left untouched. Returns what was copied and where the copy stopped.
#[pyfunction]
pub fn salvage<'py>(py: Python<'py>, src: PathBuf, dst: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let s = py.detach(|| kfm_wal_core::salvage::salvage(&src, &dst)).py()?;
    let d = PyDict::new(py);
    d.set_item("destination", s.destination.display().to_string())?;
    d.set_item("stopped_at", s.stopped_at.as_ref().map(|f| finding_dict(py, f)).transpose()?)?;
    d.set_item("segments", s.segments)?;
    d.set_item("bytes", s.bytes)?;
    d.set_item("last_seq", s.last_seq)?;
    Ok(d)
}
