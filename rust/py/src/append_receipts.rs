//! What appends return to Python. A batch's receipts stay one Rust vector behind one `Receipts`
//! sequence; a `Receipt` object is made only for the entry asked for. Python objects made by
//! `PyO3` are tracked by the cyclic garbage collector, so 1,000 receipt objects per batch set off
//! a collection on every batch, whether or not the caller ever reads them.

use kfm_wal_core::hash;
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PySlice;

/// What an append got: the record's place in the log and the seal that made it durable. Kept
/// raw; strings are made only when asked for (a batch of 10,000 receipts is mostly never read).
#[pyclass(frozen, module = "kfm_wal._core")]
pub struct Receipt {
    inner: kfm_wal_core::AppendReceipt,
}

#[pymethods]
impl Receipt {
    #[getter]
    fn seq(&self) -> u64 {
        self.inner.seq
    }

    #[getter]
    fn hash(&self) -> String {
        hash::to_prefixed(&self.inner.hash)
    }

    #[getter]
    fn wal_id(&self) -> String {
        kfm_wal_core::body::format_uuid(self.inner.wal_id)
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }

    #[getter]
    fn segment(&self) -> &str {
        &self.inner.segment
    }

    #[getter]
    fn offset(&self) -> u64 {
        self.inner.offset
    }

    #[getter]
    fn seal_seq(&self) -> u64 {
        self.inner.seal_seq
    }

    #[getter]
    fn durability(&self) -> &'static str {
        self.inner.durability.as_str()
    }

    fn __repr__(&self) -> String {
        format!(
            "Receipt(seq={}, kind={:?}, wal_id={:?}, hash={:?}, seal_seq={}, durability={:?})",
            self.inner.seq,
            self.kind(),
            self.wal_id(),
            self.hash(),
            self.inner.seal_seq,
            self.durability()
        )
    }
}

/// The receipts of one append, in entry order: a read-only sequence (len, index, slice, iter).
#[pyclass(frozen, sequence, module = "kfm_wal._core")]
pub struct Receipts {
    inner: Vec<kfm_wal_core::AppendReceipt>,
}

impl Receipts {
    pub fn new(inner: Vec<kfm_wal_core::AppendReceipt>) -> Receipts {
        Receipts { inner }
    }

    fn at(&self, index: usize) -> Receipt {
        Receipt { inner: self.inner[index].clone() }
    }
}

#[pymethods]
impl Receipts {
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// An index (negative counts from the end) gives a `Receipt`, a slice a list of them.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let len = self.inner.len();
        if let Ok(slice) = key.cast::<PySlice>() {
            // A Vec's length never exceeds isize::MAX, and `indices` keeps every position of the
            // slice inside 0..len: neither cast changes a value.
            let idx = slice.indices(len.cast_signed())?;
            let picked: Vec<Receipt> = (0..idx.slicelength)
                .map(|k| self.at((idx.start + k.cast_signed() * idx.step).cast_unsigned()))
                .collect();
            return Ok(picked.into_pyobject(py)?.into_any());
        }
        let index: isize = key.extract()?;
        let at = if index < 0 { len.checked_sub(index.unsigned_abs()) } else { Some(index.unsigned_abs()) };
        // IndexError, not a kfm-wal error: it is how the sequence protocol (iteration, `in`) ends.
        let at = at.filter(|&at| at < len).ok_or_else(|| PyIndexError::new_err("receipt index out of range"))?;
        Ok(Bound::new(py, self.at(at))?.into_any())
    }

    fn __iter__(slf: Bound<'_, Self>) -> ReceiptIter {
        ReceiptIter { receipts: slf.unbind(), next: 0 }
    }

    fn __repr__(&self) -> String {
        match self.inner.last() {
            Some(last) => format!("Receipts({} records, seal_seq={})", self.inner.len(), last.seal_seq),
            None => "Receipts(0 records)".to_owned(),
        }
    }
}

#[pyclass(module = "kfm_wal._core")]
pub struct ReceiptIter {
    receipts: Py<Receipts>,
    next: usize,
}

#[pymethods]
impl ReceiptIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> Option<Receipt> {
        let receipts = self.receipts.bind(py).get();
        let item = (self.next < receipts.inner.len()).then(|| receipts.at(self.next));
        self.next += 1;
        item
    }
}
