//! A large segment verified in pieces (`kfm_wal_core::piece_scan`): one piece's byte range to an
//! encoded piece summary (a worker's task), and a segment's pieces merged into its summary. The
//! GIL is released around both.

use std::path::PathBuf;

use kfm_wal_core::scan::ScanOptions;
use kfm_wal_core::segment::{self, SegmentFile};
use kfm_wal_core::{piece_scan, segment_summary};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::errors::usage;
use crate::read::keyring_of;

/// Scan piece `index` (pieces of `piece_bytes`) of segment `path` (`total` bytes; its file name,
/// or its path where this process can open it, as the whole segment's summary names it): `data` holds
/// its bytes from offset `base` on (at most the byte before its window), `head` the segment's
/// first line. None: `data` ends before the piece's bounds are known; read more and call again.
#[pyfunction]
#[pyo3(signature = (path, archived, data, base, total, index, piece_bytes, head, keyring=None, check_bodies=true, check_signatures=true))]
#[allow(clippy::too_many_arguments)]
pub fn scan_piece<'py>(
    py: Python<'py>,
    path: PathBuf,
    archived: bool,
    data: &[u8],
    base: u64,
    total: u64,
    index: u64,
    piece_bytes: u64,
    head: &[u8],
    keyring: Option<Vec<String>>,
    check_bodies: bool,
    check_signatures: bool,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let (number, first_seq) =
        segment::parse_listed(name, archived).ok_or_else(|| usage(format!("{name:?} is not a segment file name")))?;
    if piece_bytes == 0 {
        return Err(usage("piece_bytes must be at least 1"));
    }
    if base > index.saturating_mul(piece_bytes).saturating_sub(1) || base + data.len() as u64 > total {
        return Err(usage(format!("piece {index} of {name}: bytes from {base} do not hold its window")));
    }
    let ring = keyring_of(keyring)?;
    let file = SegmentFile { number, first_seq, path, archived };
    let encoded = py.detach(|| {
        let opts = ScanOptions { keyring: ring.as_ref(), check_bodies, check_signatures, collect_records: false };
        piece_scan::encode(&piece_scan::scan_piece(&file, data, base, total, index, piece_bytes, head, &opts))
    });
    Ok(encoded.map(|e| PyBytes::new(py, &e)))
}

/// `scan_piece` of a segment file this process can open (a local or shared filesystem): the
/// core reads the piece's lines itself, streamed in chunks (memory: one chunk, not the piece).
#[pyfunction]
#[pyo3(signature = (path, archived, total, index, piece_bytes, keyring=None, check_bodies=true, check_signatures=true))]
#[allow(clippy::too_many_arguments)]
pub fn scan_file_piece(
    py: Python<'_>,
    path: PathBuf,
    archived: bool,
    total: u64,
    index: u64,
    piece_bytes: u64,
    keyring: Option<Vec<String>>,
    check_bodies: bool,
    check_signatures: bool,
) -> PyResult<Bound<'_, PyBytes>> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let (number, first_seq) = segment::parse_listed(name, archived)
        .ok_or_else(|| usage(format!("{} is not a segment file", path.display())))?;
    if piece_bytes == 0 {
        return Err(usage("piece_bytes must be at least 1"));
    }
    let ring = keyring_of(keyring)?;
    let file = SegmentFile { number, first_seq, path, archived };
    let encoded = py.detach(|| {
        let opts = ScanOptions { keyring: ring.as_ref(), check_bodies, check_signatures, collect_records: false };
        let f = std::fs::File::open(&file.path)?;
        let len = f.metadata()?.len();
        if len < total {
            // Changed since it was listed: its pieces would not tile the segment the others read.
            let msg = format!("{len} bytes, {total} when listed (the segment changed while being read)");
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, msg));
        }
        let piece = piece_scan::scan_file_piece(&file, &f, total, index, piece_bytes, &opts)?;
        Ok::<_, std::io::Error>(piece_scan::encode(&piece).unwrap_or_default())
    })?;
    Ok(PyBytes::new(py, &encoded))
}

/// A summary and its partitions of operations, as `scan_summary_split` returns them.
type Split<'py> = (Bound<'py, PyBytes>, Vec<Bound<'py, PyBytes>>);

/// A segment's pieces (in order) merged into its summary, with its intents and completions split
/// into `parts` partitions: (summary, [partition, ...]); None when the pieces cannot stand for
/// the whole segment (damage or a key rotated before the last piece): scan it whole instead.
#[pyfunction]
pub fn merge_pieces(py: Python<'_>, pieces: Vec<PyBackedBytes>, parts: usize) -> PyResult<Option<Split<'_>>> {
    if parts == 0 {
        return Err(usage("parts must be at least 1"));
    }
    let merged = py.detach(move || {
        let pieces = pieces;
        let refs: Vec<&[u8]> = pieces.iter().map(|p| &p[..]).collect();
        piece_scan::merge(&refs).map(|s| segment_summary::encode_split(s, parts))
    });
    Ok(merged.map(|(summary, split)| (PyBytes::new(py, &summary), split.iter().map(|p| PyBytes::new(py, p)).collect())))
}
