//! `kfm_wal._core.Writer`: the group-commit writer. Entries arrive as compact JSON bytes (the
//! Python layer encodes them); checking, chaining, hashing, signing, writing and syncing all run
//! detached from the interpreter so other Python threads keep running and can join the commit.

use std::path::PathBuf;
use std::sync::Mutex;

use kfm_wal_core::fsutil::Fs;
use kfm_wal_core::keys::WriterKey;
use kfm_wal_core::log_settings::ArchiveCompression;
use kfm_wal_core::pipeline::DEFAULT_MAX_IN_FLIGHT_BYTES;
use kfm_wal_core::prepare::{ChunkChecks, Streamed};
use kfm_wal_core::record::Kind;
use kfm_wal_core::{hash, timestamp, Durability, OpenVerify, RecoveryMode, Writer, WriterOptions};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyDict;

use crate::append_receipts::Receipts;
use crate::errors::{usage, IntoPyResult};
use crate::pending::Pending;

fn durability(name: &str) -> PyResult<Durability> {
    Durability::parse(name).ok_or_else(|| usage(format!("durability must be fsync, os or none, got {name:?}")))
}

fn writer_key(seed: &[u8]) -> PyResult<WriterKey> {
    WriterKey::from_seed(seed).py()
}

fn kind(name: &str) -> PyResult<Kind> {
    match name {
        "intent" => Ok(Kind::Intent),
        "completion" => Ok(Kind::Completion),
        other => Err(usage(format!("entries are intents or completions, not {other:?}"))),
    }
}

/// A batch being handed over chunk by chunk (see `PyWriter.batch`). Single use.
#[pyclass(frozen, module = "kfm_wal._core")]
pub struct Batch {
    writer: Py<PyWriter>,
    streamed: Mutex<Option<Streamed>>,
}

impl Batch {
    /// Hand a chunk to the batch, unless it was already committed.
    fn open_batch(&self, add: impl FnOnce(&mut Streamed)) -> PyResult<()> {
        let mut guard = self.streamed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        add(guard.as_mut().ok_or_else(|| usage("this batch was already committed"))?);
        Ok(())
    }

    fn take(&self) -> PyResult<Streamed> {
        self.streamed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or_else(|| usage("this batch was already committed"))
    }
}

#[pymethods]
impl Batch {
    /// Hand over the next chunk of compact JSON entries; they are checked in the background or
    /// before this returns (`PyWriter.batch`). Detached either way, the batch's lock taken and
    /// released inside (so no thread waits for it while holding the interpreter).
    fn add(&self, py: Python<'_>, entries: Vec<PyBackedBytes>) -> PyResult<()> {
        py.detach(|| self.open_batch(|streamed| streamed.push(entries)))
    }

    /// Hand over the next chunk as one compact JSON array of `count` entries (one encoder call
    /// for the chunk), checked as `add`'s are.
    fn add_array(&self, py: Python<'_>, array: PyBackedBytes, count: usize) -> PyResult<()> {
        py.detach(|| self.open_batch(|streamed| streamed.push_array(array, count)))
    }

    /// Commit every chunk as one group; returns when durable (or the first bad entry's error).
    fn commit(&self, py: Python<'_>) -> PyResult<Receipts> {
        let streamed = self.take()?;
        let writer = self.writer.bind(py).get();
        let receipts = py.detach(|| writer.inner.append_streamed(streamed)).py()?;
        Ok(Receipts::new(receipts))
    }

    /// Submit every chunk as one batch (see `PyWriter.submit`): returns its handle once checked.
    fn submit(&self, py: Python<'_>) -> PyResult<Pending> {
        let streamed = self.take()?;
        let writer = self.writer.bind(py).get();
        let pending = py.detach(|| writer.inner.submit_streamed(streamed)).py()?;
        Ok(Pending::new(pending))
    }
}

#[pyclass(frozen, module = "kfm_wal._core")]
pub struct PyWriter {
    inner: Writer,
}

#[pymethods]
impl PyWriter {
    #[staticmethod]
    #[pyo3(signature = (path, seed, max_segment_bytes, max_record_bytes, durability, max_in_flight_bytes=DEFAULT_MAX_IN_FLIGHT_BYTES, stream=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        path: PathBuf,
        seed: &[u8],
        max_segment_bytes: u64,
        max_record_bytes: u64,
        durability: &str,
        max_in_flight_bytes: u64,
        stream: Option<String>,
    ) -> PyResult<PyWriter> {
        let key = writer_key(seed)?;
        let opts = WriterOptions {
            max_segment_bytes,
            max_record_bytes,
            durability: self::durability(durability)?,
            ..WriterOptions::default()
        };
        let inner =
            py.detach(move || Writer::create_stream(&path, key, opts, stream.as_deref(), Fs::default())).py()?;
        Ok(PyWriter { inner: inner.with_max_in_flight_bytes(max_in_flight_bytes) })
    }

    #[staticmethod]
    #[pyo3(signature = (path, seed, recovery, durability, max_in_flight_bytes=DEFAULT_MAX_IN_FLIGHT_BYTES, verify="since-close"))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        seed: &[u8],
        recovery: &str,
        durability: &str,
        max_in_flight_bytes: u64,
        verify: &str,
    ) -> PyResult<PyWriter> {
        let key = writer_key(seed)?;
        let mode = RecoveryMode::parse(recovery)
            .ok_or_else(|| usage(format!("recovery must be strict or tolerate-tail, got {recovery:?}")))?;
        let durability = self::durability(durability)?;
        let verify = OpenVerify::parse(verify)
            .ok_or_else(|| usage(format!("verify must be since-close or all, got {verify:?}")))?;
        let inner =
            py.detach(move || Writer::open_verifying(&path, key, mode, durability, verify, Fs::default())).py()?;
        Ok(PyWriter { inner: inner.with_max_in_flight_bytes(max_in_flight_bytes) })
    }

    /// Append compact JSON entries of one kind as one group commit; returns when durable.
    fn append(&self, py: Python<'_>, kind: &str, entries: Vec<PyBackedBytes>) -> PyResult<Receipts> {
        let kind = self::kind(kind)?;
        let receipts = py.detach(|| self.inner.append_owned(kind, entries)).py()?;
        Ok(Receipts::new(receipts))
    }

    /// Check compact JSON entries of one kind and hand them over as one batch; returns its
    /// handle at once (blocks only while the bytes in flight are at their bound). Schema errors
    /// are raised here; the batch's own failure by `Pending.result`.
    fn submit(&self, py: Python<'_>, kind: &str, entries: Vec<PyBackedBytes>) -> PyResult<Pending> {
        let kind = self::kind(kind)?;
        let pending = py.detach(|| self.inner.submit_owned(kind, entries)).py()?;
        Ok(Pending::new(pending))
    }

    /// A batch to hand over in chunks (`Batch.add`) and commit (`Batch.commit`) or submit
    /// (`Batch.submit`) as one group. `background`: each chunk is checked on the thread pool
    /// while the caller encodes the next (for a commit: the other cores are idle), else on the
    /// caller's thread before `add` returns (for a submit: the other cores are busy with the
    /// batches in flight).
    #[pyo3(signature = (kind, background = true))]
    fn batch(slf: Bound<'_, Self>, kind: &str, background: bool) -> PyResult<Batch> {
        let kind = self::kind(kind)?;
        let checks = if background { ChunkChecks::Background } else { ChunkChecks::Caller };
        let streamed = slf.get().inner.stream(kind, checks);
        Ok(Batch { writer: slf.unbind(), streamed: Mutex::new(Some(streamed)) })
    }

    /// How rotated segments are archived: "none" or "zstd" (the log's setting).
    #[getter]
    fn archive_compression(&self) -> &'static str {
        self.inner.archive_compression().as_str()
    }

    /// Change how rotated segments are archived ("none" or "zstd"), durably; with zstd, the
    /// archived segments still plain are compressed in the background.
    /// How far ahead of its data the live segment is kept filled with zeros (0: not at all).
    fn set_preallocate_bytes(&self, bytes: u64) -> PyResult<()> {
        self.inner.set_preallocate_bytes(bytes).py()
    }

    fn set_archive_compression(&self, py: Python<'_>, value: &str) -> PyResult<()> {
        let c = ArchiveCompression::parse(value)
            .ok_or_else(|| usage(format!("archive_compression must be none or zstd, got {value:?}")))?;
        py.detach(|| self.inner.set_archive_compression(c)).py()
    }

    /// (trusted seq or None, bytes verified): how much of the log opening read.
    #[getter]
    fn opened(&self) -> (Option<u64>, u64) {
        let o = self.inner.opened();
        (o.trusted_seq, o.verified_bytes)
    }

    /// Wait for the background compression under way; why the last one failed, if one did.
    fn wait_for_archive(&self, py: Python<'_>) -> Option<String> {
        py.detach(|| self.inner.wait_for_archive())
    }

    /// Stop writing; batches in flight resolve first (close waits for them, detached).
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.inner.close());
    }

    #[getter]
    fn log_id(&self) -> &str {
        self.inner.log_id()
    }

    #[getter]
    fn key_id(&self) -> String {
        self.inner.key_id()
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.dir().to_path_buf()
    }

    #[getter]
    fn poisoned(&self) -> Option<String> {
        self.inner.poisoned()
    }

    /// Counters since the writer opened: records, groups (seals), syncs.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("records", s.records)?;
        d.set_item("groups", s.groups)?;
        d.set_item("syncs", s.syncs)?;
        Ok(d)
    }

    /// (seq, hash, timestamp, segment) of the last record, always a seal.
    fn head(&self) -> (u64, String, String, String) {
        let h = self.inner.head();
        (
            h.seq,
            hash::to_prefixed(&h.hash),
            String::from_utf8_lossy(&h.timestamp[..timestamp::LEN]).into_owned(),
            h.segment,
        )
    }

    /// What recovery did when the log was opened.
    #[getter]
    fn recovery<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .recovery()
            .iter()
            .map(|n| {
                let d = PyDict::new(py);
                d.set_item("action", &n.action)?;
                d.set_item("segment", &n.segment)?;
                d.set_item("offset", n.offset)?;
                d.set_item("bytes", n.bytes)?;
                d.set_item("saved_to", n.saved_to.as_ref().map(|p| p.display().to_string()))?;
                Ok(d)
            })
            .collect()
    }
}
