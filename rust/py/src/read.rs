//! Reading and verifying: segment listing, sealed records of one segment, and whole-log
//! verification. All file access and hashing runs detached; Python objects are built after.

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kfm_wal_core::keys::PublicKey;
use kfm_wal_core::verify::{verify_with_progress, Checkpoint};
use kfm_wal_core::{body, hash, reader, segment::SegmentFile, timestamp, VerifyOptions};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{finding_dict, usage, IntoPyResult};

/// (number, `first_seq`, path, archived) of every segment, in log order.
#[pyfunction]
pub fn segments(py: Python<'_>, path: PathBuf) -> PyResult<Vec<(u64, u64, PathBuf, bool)>> {
    let files = py.detach(move || reader::segments(&path)).py()?;
    Ok(files.into_iter().map(|f| (f.number, f.first_seq, f.path, f.archived)).collect())
}

/// (seq, kind, offset, hash, line bytes) of one sealed record.
type RecordTuple<'py> = (u64, &'static str, u64, String, Bound<'py, PyBytes>);

/// Sealed records of one segment with seq in [`from_seq`, `to_seq`], read from byte `offset` (0, or
/// an offset this function returned), and the offset just past the last seal.
#[pyfunction]
#[pyo3(signature = (path, number, first_seq, archived, from_seq=0, to_seq=u64::MAX, offset=0))]
#[allow(clippy::too_many_arguments)]
pub fn read_segment(
    py: Python<'_>,
    path: PathBuf,
    number: u64,
    first_seq: u64,
    archived: bool,
    from_seq: u64,
    to_seq: u64,
    offset: u64,
) -> PyResult<(Vec<RecordTuple<'_>>, u64)> {
    let file = SegmentFile { number, first_seq, path, archived };
    let (records, end) = py.detach(|| reader::read_segment_from(&file, offset, from_seq, to_seq)).py()?;
    let tuples = records
        .into_iter()
        .map(|r| (r.seq, r.kind.as_str(), r.offset, hash::to_prefixed(&r.hash), PyBytes::new(py, &r.line)))
        .collect();
    Ok((tuples, end))
}

/// The bytes of one segment file as the chain hashes them: a compressed segment decompressed
/// (as far as it decodes: a frame cut short gives its readable prefix).
#[pyfunction]
pub fn segment_bytes(py: Python<'_>, path: PathBuf, archived: bool) -> PyResult<Bound<'_, PyBytes>> {
    let (bytes, _) = py.detach(move || kfm_wal_core::segment_bytes::load_readable(&path, archived)).py()?;
    Ok(PyBytes::new(py, &bytes))
}

/// A checkpoint from the dict a receipt holds.
pub(crate) fn checkpoint(d: &Bound<'_, PyDict>) -> PyResult<Checkpoint> {
    let get = |k: &str| d.get_item(k)?.ok_or_else(|| usage(format!("receipt: {k} is missing")));
    let hash_text: String = get("hash")?.extract()?;
    let ts_text: String = get("timestamp")?.extract()?;
    let ts: [u8; timestamp::LEN] = ts_text
        .as_bytes()
        .try_into()
        .ok()
        .filter(|t: &[u8; timestamp::LEN]| timestamp::is_valid(t))
        .ok_or_else(|| usage("receipt: bad timestamp"))?;
    let pending: Vec<String> = get("pending")?.extract()?;
    Ok(Checkpoint {
        log_id: get("log_id")?.extract()?,
        seq: get("seq")?.extract()?,
        hash: hash::parse_prefixed(&hash_text).ok_or_else(|| usage("receipt: bad hash"))?,
        segment: get("segment_number")?.extract()?,
        offset: get("offset")?.extract()?,
        timestamp: ts,
        key: PublicKey::from_base64(&get("public_key")?.extract::<String>()?)
            .map_err(|e| usage(format!("receipt: {e}")))?,
        revoked: get("revoked")?.extract()?,
        pending: pending
            .iter()
            .map(|id| body::parse_uuid_v4(id).ok_or_else(|| usage(format!("receipt: bad pending id {id}"))))
            .collect::<PyResult<_>>()?,
    })
}

/// What a scan is unwound with when its progress step raised (the exception is kept beside it).
struct Stopped;

/// `verify_with_progress`, detached, stopped by Python: between windows of segments it attaches,
/// runs pending signal handlers (Ctrl-C raises `KeyboardInterrupt` here) and calls `progress`.
/// When either raises, the scan is unwound from the progress step (`resume_unwind`: no panic
/// message) and the exception is returned. Scans already running finish first (at most two per
/// thread); nothing of the abandoned verification is kept.
///
/// Unwinding is the one way out of the core's scan its `progress` signature leaves (it returns
/// nothing); it needs `panic = "unwind"`, which every profile of the workspace keeps. If the
/// core's `progress` one day returns whether to go on, this becomes a plain return.
fn scan_stoppable(
    path: &Path,
    opts: &VerifyOptions,
    progress: Option<Py<PyAny>>,
) -> PyResult<kfm_wal_core::verify::LogReport> {
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let raised_ref = &raised;
    let step = move |done: u64, records: u64| {
        let outcome = Python::attach(|py| {
            py.check_signals()?;
            progress.as_ref().map_or(Ok(()), |cb| cb.call1(py, (done, records)).map(drop))
        });
        if let Err(e) = outcome {
            *raised_ref.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
            panic::resume_unwind(Box::new(Stopped));
        }
    };
    match panic::catch_unwind(AssertUnwindSafe(|| verify_with_progress(path, opts, &step))) {
        Ok(report) => report.py(),
        Err(payload) if payload.is::<Stopped>() => {
            let e = raised.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
            Err(e.expect("a scan is stopped only after its exception is kept"))
        }
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Verify the log at `path`. `keyring` is a list of base64 public keys to trust; None trusts the
/// keys the log declares. `checkpoint` (a receipt's dict) limits the work to what follows it;
/// `progress(bytes, records)` is called between windows of segments; an exception it raises (or
/// a signal handler's, such as `KeyboardInterrupt`) stops the scan and is raised here. Returns a
/// plain dict (the Python layer wraps it in a report object).
#[pyfunction]
#[pyo3(signature = (path, keyring=None, check_bodies=true, checkpoint=None, stop_after=None, progress=None, pending_ids=false, check_signatures=true))]
#[allow(clippy::too_many_arguments)]
pub fn verify_log<'py>(
    py: Python<'py>,
    path: PathBuf,
    keyring: Option<Vec<String>>,
    check_bodies: bool,
    checkpoint: Option<&Bound<'py, PyDict>>,
    stop_after: Option<usize>,
    progress: Option<Py<PyAny>>,
    pending_ids: bool,
    check_signatures: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let ring = keyring_of(keyring)?;
    let checkpoint = checkpoint.map(self::checkpoint).transpose()?;
    let opts =
        VerifyOptions { keyring: ring, check_bodies, check_signatures, keep_ops: pending_ids, checkpoint, stop_after };
    let started = std::time::Instant::now();
    let report = py.detach(move || scan_stoppable(&path, &opts, progress))?;
    let elapsed = started.elapsed().as_secs_f64();
    report_dict(py, report, check_signatures, pending_ids, elapsed)
}

/// A keyring from base64 public keys; None trusts the keys the log declares.
pub(crate) fn keyring_of(keyring: Option<Vec<String>>) -> PyResult<Option<HashMap<String, PublicKey>>> {
    let Some(keys) = keyring else { return Ok(None) };
    let mut ring = HashMap::new();
    for k in keys {
        let pk = PublicKey::from_base64(&k).map_err(|e| usage(format!("keyring: {e}")))?;
        ring.insert(pk.key_id.clone(), pk);
    }
    Ok(Some(ring))
}

/// The plain dict a verification report is handed to Python as (`verify_log`, `join_summaries`).
pub(crate) fn report_dict(
    py: Python<'_>,
    report: kfm_wal_core::verify::LogReport,
    check_signatures: bool,
    pending_ids: bool,
    elapsed: f64,
) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let findings: PyResult<Vec<_>> = report.findings.iter().map(|f| finding_dict(py, f)).collect();
    d.set_item("findings", findings?)?;
    d.set_item("segments", report.segments.iter().map(kfm_wal_core::segment::SegmentFile::name).collect::<Vec<_>>())?;
    d.set_item("records", report.records)?;
    d.set_item("signatures_checked", check_signatures)?;
    d.set_item("bytes", report.bytes)?;
    d.set_item("scanned_bytes", report.scanned_bytes)?;
    d.set_item("intents", report.intents)?;
    d.set_item("completions", report.completions)?;
    d.set_item("pending", report.pending)?;
    d.set_item("log_id", &report.log_id)?;
    d.set_item("head_seq", report.head.map(|h| h.seq))?;
    d.set_item("head_hash", report.head.map(|h| hash::to_prefixed(&h.hash)))?;
    let head_segment = report.head_segment.and_then(|n| report.segments.iter().find(|s| s.number == n));
    let head = report.head.zip(head_segment).map(|(h, seg)| {
        let state = PyDict::new(py);
        state.set_item("segment", seg.name())?;
        state.set_item("segment_number", seg.number)?;
        state.set_item("offset", report.head_offset)?;
        state.set_item("timestamp", String::from_utf8_lossy(&h.timestamp).into_owned())?;
        state.set_item("public_key", report.key_in_force.as_ref().map(PublicKey::to_base64))?;
        state.set_item("revoked", &report.revoked)?;
        Ok::<_, PyErr>(state)
    });
    d.set_item("head_state", head.transpose()?)?;
    if pending_ids {
        let ids: Vec<String> = report.ops.pending().map(body::format_uuid).collect();
        d.set_item("pending_ids", ids)?;
    }
    d.set_item("keys_seen", report.keys_seen.into_iter().collect::<Vec<_>>())?;
    d.set_item("key_in_force", report.key_in_force.map(|k| k.key_id))?;
    d.set_item("trust", if report.keyring_used { "keyring" } else { "self-declared" })?;
    d.set_item("stopped", report.stopped)?;
    d.set_item("elapsed", elapsed)?;
    Ok(d)
}

/// (`key_id`, base64 public key) of a 32-byte Ed25519 seed.
#[pyfunction]
pub fn public_key(seed: &[u8]) -> PyResult<(String, String)> {
    let key = kfm_wal_core::keys::WriterKey::from_seed(seed).py()?;
    Ok((key.public.key_id.clone(), key.public.to_base64()))
}

/// Copy every verifiable record of the log at `src`, up to its first damage, into a new log at
/// `dst`; `src` is left untouched. Returns what was copied and where the copy stopped.
#[pyfunction]
pub fn salvage(py: Python<'_>, src: PathBuf, dst: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let s = py.detach(move || kfm_wal_core::salvage::salvage(&src, &dst)).py()?;
    let d = PyDict::new(py);
    d.set_item("destination", s.destination.display().to_string())?;
    d.set_item("stopped_at", s.stopped_at.as_ref().map(|f| finding_dict(py, f)).transpose()?)?;
    d.set_item("segments", s.segments)?;
    d.set_item("bytes", s.bytes)?;
    d.set_item("last_seq", s.last_seq)?;
    Ok(d)
}
