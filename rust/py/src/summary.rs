//! Verifying a log segment by segment, wherever each segment's bytes are: one segment's bytes to
//! a compact summary (run on a worker, next to the storage), and the summaries of a whole log
//! joined into the report `verify_log` gives. The GIL is released around both.

use std::path::PathBuf;

use kfm_wal_core::checkpoint::{self, Cut};
use kfm_wal_core::scan::ScanOptions;
use kfm_wal_core::segment::{self, SegmentFile};
use kfm_wal_core::verify::VerifyOptions;
use kfm_wal_core::{body, hash, op_pairing, segment_bytes, segment_summary, summary_join, summary_resume};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{usage, IntoPyResult};
use crate::read::{checkpoint as read_checkpoint, keyring_of, report_dict};

/// (number, `first_seq`) of a segment file name, None if `name` is not one.
#[pyfunction]
pub fn segment_name(name: &str) -> Option<(u64, u64)> {
    segment::parse_name(name)
}

/// The segments of a listing made elsewhere (object storage): `(file name, archived)` pairs, the
/// live directory's and archive/'s, as `(name, archived, number, first seq)` in the order the log
/// is read in (the local listing's rules: which names count, compressed twins, order).
#[pyfunction]
pub fn arrange_listing(entries: Vec<(String, bool)>) -> Vec<(String, bool, u64, u64)> {
    let mut files: Vec<SegmentFile> = entries
        .into_iter()
        .filter_map(|(name, archived)| {
            let (number, first_seq) = segment::parse_listed(&name, archived)?;
            Some(SegmentFile { number, first_seq, path: PathBuf::from(name), archived })
        })
        .collect();
    segment::arrange(&mut files);
    files.into_iter().map(|f| (f.path.to_string_lossy().into_owned(), f.archived, f.number, f.first_seq)).collect()
}

/// Verify one segment's bytes alone (`name`: its file name; `archived`: listed in `archive/`) and
/// return the encoded summary the join takes.
#[pyfunction]
#[pyo3(signature = (name, data, archived, keyring=None, check_bodies=true, check_signatures=true))]
pub fn scan_summary<'py>(
    py: Python<'py>,
    name: &str,
    data: &[u8],
    archived: bool,
    keyring: Option<Vec<String>>,
    check_bodies: bool,
    check_signatures: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let (number, first_seq) =
        segment::parse_listed(name, archived).ok_or_else(|| usage(format!("{name:?} is not a segment file name")))?;
    let ring = keyring_of(keyring)?;
    let file = SegmentFile { number, first_seq, path: PathBuf::from(name), archived };
    let encoded = py.detach(|| {
        let opts = ScanOptions { keyring: ring.as_ref(), check_bodies, check_signatures, collect_records: false };
        segment_summary::encode(&segment_summary::scan_alone(&file, data, &opts))
    });
    Ok(PyBytes::new(py, &encoded))
}

/// `scan_summary`, with the segment's intents and completions split off into `parts` partitions
/// by `wal_id` (each paired on its own by `pair_ops`): (summary, [partition, ...]).
#[pyfunction]
#[pyo3(signature = (name, data, archived, parts, keyring=None, check_bodies=true, check_signatures=true))]
#[allow(clippy::too_many_arguments)]
pub fn scan_summary_split<'py>(
    py: Python<'py>,
    name: &str,
    data: &[u8],
    archived: bool,
    parts: usize,
    keyring: Option<Vec<String>>,
    check_bodies: bool,
    check_signatures: bool,
) -> PyResult<(Bound<'py, PyBytes>, Vec<Bound<'py, PyBytes>>)> {
    let (number, first_seq) =
        segment::parse_listed(name, archived).ok_or_else(|| usage(format!("{name:?} is not a segment file name")))?;
    if parts == 0 {
        return Err(usage("parts must be at least 1"));
    }
    let ring = keyring_of(keyring)?;
    let file = SegmentFile { number, first_seq, path: PathBuf::from(name), archived };
    let (summary, split) = py.detach(|| {
        let opts = ScanOptions { keyring: ring.as_ref(), check_bodies, check_signatures, collect_records: false };
        segment_summary::encode_split(segment_summary::scan_alone(&file, data, &opts), parts)
    });
    Ok((PyBytes::new(py, &summary), split.iter().map(|p| PyBytes::new(py, p)).collect()))
}

/// `scan_summary_split` of a segment file this process can open (a local or shared filesystem):
/// read by the core's own segment reader, streamed, as the local verifier reads it.
#[pyfunction]
#[pyo3(signature = (path, archived, parts, keyring=None, check_bodies=true, check_signatures=true))]
pub fn scan_file_summary_split(
    py: Python<'_>,
    path: PathBuf,
    archived: bool,
    parts: usize,
    keyring: Option<Vec<String>>,
    check_bodies: bool,
    check_signatures: bool,
) -> PyResult<(Bound<'_, PyBytes>, Vec<Bound<'_, PyBytes>>)> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let (number, first_seq) = segment::parse_listed(name, archived)
        .ok_or_else(|| usage(format!("{} is not a segment file", path.display())))?;
    if parts == 0 {
        return Err(usage("parts must be at least 1"));
    }
    let ring = keyring_of(keyring)?;
    let file = SegmentFile { number, first_seq, path, archived };
    let scanned = py.detach(|| {
        let opts = ScanOptions { keyring: ring.as_ref(), check_bodies, check_signatures, collect_records: false };
        kfm_wal_core::scan::scan_file(&file, &opts, false).map(|s| segment_summary::encode_split(s, parts))
    });
    let (summary, split) = scanned.py()?;
    Ok((PyBytes::new(py, &summary), split.iter().map(|p| PyBytes::new(py, p)).collect()))
}

/// Pair partition `part` of `parts` of the intents and completions: (segment file name, that
/// segment's events of the partition) in log order, a segment listed twice left out after its
/// first copy. `pending`: the ids a verification receipt says are pending (an incremental run);
/// those of this partition are taken as pending before the first event.
#[pyfunction]
#[pyo3(signature = (segments, part=0, parts=1, pending=Vec::new()))]
pub fn pair_ops(
    py: Python<'_>,
    segments: Vec<(String, PyBackedBytes)>,
    part: usize,
    parts: usize,
    pending: Vec<String>,
) -> PyResult<Bound<'_, PyBytes>> {
    let mut assumed = Vec::with_capacity(pending.len());
    for id in pending {
        let id = body::parse_uuid_v4(&id).ok_or_else(|| usage(format!("receipt: bad pending id {id}")))?;
        if op_pairing::partition_of(id, parts) == part {
            assumed.push(id);
        }
    }
    let paired = py.detach(move || {
        let segments = segments;
        op_pairing::pair(segments.iter().map(|(name, events)| (name.as_str(), &events[..])), &assumed)
            .map(|p| op_pairing::encode(&p))
    });
    let paired = paired.ok_or_else(|| usage("a partition of operations is damaged or from another version"))?;
    Ok(PyBytes::new(py, &paired))
}

/// The segment holding a verification receipt's checkpoint, resumed from it on its bytes alone:
/// (the encoded resumed summary, its intents and completions after the checkpoint in `parts`
/// partitions). A segment of another log than the receipt's is a usage error.
#[pyfunction]
#[pyo3(signature = (name, data, archived, parts, checkpoint, keyring=None, check_bodies=true, check_signatures=true))]
#[allow(clippy::too_many_arguments)]
pub fn resume_summary_split<'py>(
    py: Python<'py>,
    name: &str,
    data: &[u8],
    archived: bool,
    parts: usize,
    checkpoint: &Bound<'py, PyDict>,
    keyring: Option<Vec<String>>,
    check_bodies: bool,
    check_signatures: bool,
) -> PyResult<(Bound<'py, PyBytes>, Vec<Bound<'py, PyBytes>>)> {
    let (number, first_seq) =
        segment::parse_listed(name, archived).ok_or_else(|| usage(format!("{name:?} is not a segment file name")))?;
    let cp = read_checkpoint(checkpoint)?;
    let ring = keyring_of(keyring)?;
    let file = SegmentFile { number, first_seq, path: PathBuf::from(name), archived };
    let resumed = py.detach(|| {
        let opts = ScanOptions { keyring: ring.as_ref(), check_bodies, check_signatures, collect_records: false };
        summary_resume::resume_alone(&file, data, &cp, &opts).map(|r| match r {
            summary_resume::Resumed::Scan(mut s, end) => {
                let events = std::mem::take(&mut s.ops);
                (summary_resume::encode(&summary_resume::Resumed::Scan(s, end)), op_pairing::split(&events, parts))
            }
            gone @ summary_resume::Resumed::Gone(_) => (summary_resume::encode(&gone), op_pairing::split(&[], parts)),
        })
    });
    let (summary, split) = resumed.py()?;
    Ok((PyBytes::new(py, &summary), split.iter().map(|p| PyBytes::new(py, p)).collect()))
}

/// Join the summaries of every segment of a log, in log order, into the report `verify_log`
/// gives (a plain dict). `elapsed` is the caller's: the scans ran elsewhere. `paired`: the
/// partitions `pair_ops` returned, when the summaries were split (`scan_summary_split`).
/// An incremental run gives the `checkpoint` (a receipt's dict), the whole `listing` ((name,
/// archived) in log order), the checkpoint segment's `resumed` summary (None: it is not in the
/// listing), the size of the segments before it (`vouched_bytes`), and as `summaries` only those
/// of the segments after it.
#[pyfunction]
#[pyo3(signature = (summaries, keyring=None, pending_ids=false, check_signatures=true, stop_after=None, elapsed=0.0, paired=None, checkpoint=None, listing=None, resumed=None, vouched_bytes=0, cuts=None))]
#[allow(clippy::too_many_arguments)]
pub fn join_summaries<'py>(
    py: Python<'py>,
    summaries: Vec<PyBackedBytes>,
    keyring: Option<Vec<String>>,
    pending_ids: bool,
    check_signatures: bool,
    stop_after: Option<usize>,
    elapsed: f64,
    paired: Option<Vec<PyBackedBytes>>,
    checkpoint: Option<&Bound<'py, PyDict>>,
    listing: Option<Vec<(String, bool)>>,
    resumed: Option<PyBackedBytes>,
    vouched_bytes: u64,
    cuts: Option<Vec<CutTuple>>,
) -> PyResult<Bound<'py, PyDict>> {
    let ring = keyring_of(keyring)?;
    let cuts = cuts.map(|given| given.into_iter().map(cut_of).collect::<PyResult<Vec<_>>>()).transpose()?;
    let cp = checkpoint.map(read_checkpoint).transpose()?;
    let listed = listing
        .map(|names| {
            names
                .into_iter()
                .map(|(name, archived)| {
                    let (number, first_seq) = segment::parse_name(&name)
                        .ok_or_else(|| usage(format!("{name:?} is not a segment file name")))?;
                    Ok(SegmentFile { number, first_seq, path: PathBuf::from(name), archived })
                })
                .collect::<PyResult<Vec<_>>>()
        })
        .transpose()?;
    let report = py.detach(|| {
        let damaged =
            |what: &str| kfm_wal_core::WalError::InvalidArgument(format!("{what} is damaged or from another version"));
        let paired = match paired {
            None => None,
            Some(parts) => {
                let decoded: Option<Vec<_>> = parts.iter().map(|p| op_pairing::decode(p)).collect();
                Some(op_pairing::merge(decoded.ok_or_else(|| damaged("a paired partition"))?))
            }
        };
        let mut scans = Vec::with_capacity(summaries.len());
        for (i, s) in summaries.into_iter().enumerate() {
            scans.push(segment_summary::decode(&s).ok_or_else(|| damaged(&format!("summary {i}")))?);
        }
        let opts = VerifyOptions {
            keyring: ring,
            check_signatures,
            keep_ops: pending_ids,
            stop_after,
            ..VerifyOptions::default()
        };
        match (&cp, listed) {
            (Some(cp), Some(files)) => {
                let resumed = resumed.map(|r| summary_resume::decode(&r).ok_or_else(|| damaged("the resumed summary")));
                let start = summary_join::Start {
                    checkpoint: cp,
                    index: files.iter().position(|f| f.number == cp.segment),
                    resumed: resumed.transpose()?,
                    vouched_bytes,
                };
                summary_join::join_from(files, Some(start), scans, &opts, paired)
            }
            (None, None) => {
                let files = scans.iter().map(|s| s.file.clone()).collect();
                match &cuts {
                    Some(cuts) => summary_join::join_scans_with_cuts(files, scans, &opts, paired, cuts),
                    None => summary_join::join_scans(files, scans, &opts, paired),
                }
            }
            _ => Err(kfm_wal_core::WalError::InvalidArgument("a checkpoint needs the listing, and only it".into())),
        }
    });
    report_dict(py, report.py()?, check_signatures, pending_ids, elapsed)
}

/// One checkpoint boundary (FORMAT.md 6.10) as Python sees it: (segment, seq, hash, pending ids).
type CutTuple = (u64, u64, String, Vec<String>);

fn cut_of((segment, seq, digest, pending): CutTuple) -> PyResult<Cut> {
    let bad = || usage(format!("checkpoint boundary ({segment}, {seq}, {digest:?}, ...) is not well formed"));
    let hash = digest.strip_prefix("sha256:").and_then(|h| hash::parse_hex(h.as_bytes())).ok_or_else(bad)?;
    let pending = pending.iter().map(|id| body::parse_uuid_v4(id)).collect::<Option<Vec<_>>>().ok_or_else(bad)?;
    Ok(Cut { segment, seq, hash, pending })
}

/// The checkpoints in one segment's bytes read elsewhere (object storage), as the verifier finds
/// them (FORMAT.md 6.10: intents with a valid own hash and body, followed by a valid seal), each as
/// its boundaries, its cut first. None of them in a compressed segment that does not decode to its
/// end. What `join_summaries(cuts=...)` takes, flattened, for a log whose first segment is not 1.
#[pyfunction]
pub fn segment_checkpoints(py: Python<'_>, name: &str, data: &[u8]) -> Vec<Vec<CutTuple>> {
    let found = py.detach(|| {
        let decoded = segment_bytes::decode_segment(name, data);
        if decoded.damage.is_some() {
            return Vec::new();
        }
        checkpoint::checkpoints_in(&decoded.bytes)
    });
    found
        .into_iter()
        .map(|cp| {
            cp.into_iter()
                .map(|c| {
                    let pending = c.pending.iter().map(|id| body::format_uuid(*id)).collect();
                    (c.segment, c.seq, hash::to_prefixed(&c.hash), pending)
                })
                .collect()
        })
        .collect()
}

/// What a segment's summary says about its place in the log, for an archive's manifest: its
/// number, first seq, the hash its first record links to, its last valid seal (seq, hash,
/// offset, whether it closes the segment) and where the sealed bytes end.
#[pyfunction]
pub fn summary_facts<'py>(py: Python<'py>, summary: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let s = segment_summary::decode(summary).ok_or_else(|| usage("the summary is damaged or from another version"))?;
    let d = PyDict::new(py);
    d.set_item("number", s.file.number)?;
    d.set_item("first_seq", s.first.map(|f| f.0))?;
    d.set_item("prev_hash", s.first.map(|f| hash::to_prefixed(&f.1)))?;
    d.set_item("last_seq", s.sealed.map(|b| b.seq))?;
    d.set_item("last_hash", s.sealed.map(|b| hash::to_prefixed(&b.hash)))?;
    d.set_item("last_seal_offset", s.sealed.map(|_| s.last_seal_offset))?;
    d.set_item("closes", s.closes)?;
    d.set_item("sealed_end", s.sealed_end)?;
    d.set_item("bytes", s.bytes)?;
    d.set_item("log_id", s.header.map(|h| h.log_id))?;
    d.set_item("clean", s.findings.is_empty() && s.tail.findings.is_empty())?;
    Ok(d)
}

/// (seq, kind, offset, hash, line bytes) of one sealed record.
type RecordTuple<'py> = (u64, &'static str, u64, String, Bound<'py, PyBytes>);

/// Sealed records with seq in [`from_seq`, `to_seq`] of one segment whose bytes were read
/// elsewhere (object storage), as `read_segment` gives them for a file.
#[pyfunction]
#[pyo3(signature = (name, data, archived, from_seq=0, to_seq=u64::MAX))]
pub fn read_segment_bytes<'py>(
    py: Python<'py>,
    name: &str,
    data: &[u8],
    archived: bool,
    from_seq: u64,
    to_seq: u64,
) -> PyResult<Vec<RecordTuple<'py>>> {
    let (number, first_seq) =
        segment::parse_listed(name, archived).ok_or_else(|| usage(format!("{name:?} is not a segment file name")))?;
    let file = SegmentFile { number, first_seq, path: PathBuf::from(name), archived };
    let (records, _) = py
        .detach(|| {
            // Stored bytes: a compressed segment is decoded first, and one that does not decode is
            // damage to a reader, as it is when the file is read locally.
            let decoded = kfm_wal_core::scan::decode_segment(name, data);
            match decoded.damage {
                Some(finding) => Err(kfm_wal_core::WalError::Corruption(Box::new(finding))),
                None => kfm_wal_core::reader::read_loaded(&file, &decoded.bytes, 0, from_seq, to_seq),
            }
        })
        .py()?;
    Ok(records
        .into_iter()
        .map(|r| (r.seq, r.kind.as_str(), r.offset, hash::to_prefixed(&r.hash), PyBytes::new(py, &r.line)))
        .collect())
}
