//! `kfm_wal._core`: the private extension module. A thin layer: argument conversion, the GIL
//! released around every piece of real work, and one error conversion (`errors`).

mod append_receipts;
mod check;
mod errors;
mod pending;
mod pieces;
mod read;
mod summary;
mod writer;

use pyo3::prelude::*;

#[pymodule]
mod _core {
    #[pymodule_export]
    use super::append_receipts::{Receipt, ReceiptIter, Receipts};
    #[pymodule_export]
    use super::check::{array_holding_null, check_entry, holding_null, verify_signature};
    #[pymodule_export]
    use super::pending::Pending;
    #[pymodule_export]
    use super::pieces::{merge_pieces, scan_file_piece, scan_piece};
    #[pymodule_export]
    use super::read::{public_key, read_segment, salvage, segment_bytes, segments, verify_log};
    #[pymodule_export]
    use super::summary::{
        arrange_listing, join_summaries, pair_ops, read_segment_bytes, resume_summary_split, scan_file_summary_split,
        scan_summary, scan_summary_split, segment_checkpoints, segment_name, summary_facts,
    };
    #[pymodule_export]
    use super::writer::{Batch, PyWriter};

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods as _;
        m.add("FORMAT", kfm_wal_core::body::FORMAT)?;
        m.add("DEFAULT_PREALLOCATE_BYTES", kfm_wal_core::DEFAULT_PREALLOCATE_BYTES)?;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
