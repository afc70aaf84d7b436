//! The one conversion from the core's error enum to Python exceptions. The exception classes
//! are defined once, in `kfm_wal.errors`; this file only picks the class and sets attributes.
//! Each class is imported once per interpreter (`import_exception!` keeps it in a `PyOnceLock`),
//! not looked up on every error.

use kfm_wal_core::WalError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::PyTypeInfo;

/// The classes of `kfm_wal.errors` the core's errors become.
mod class {
    pyo3::import_exception!(kfm_wal.errors, ClosedError);
    pyo3::import_exception!(kfm_wal.errors, ConflictError);
    pyo3::import_exception!(kfm_wal.errors, CorruptionError);
    pyo3::import_exception!(kfm_wal.errors, KeyMismatchError);
    pyo3::import_exception!(kfm_wal.errors, LockedError);
    pyo3::import_exception!(kfm_wal.errors, LogExistsError);
    pyo3::import_exception!(kfm_wal.errors, NotALogError);
    pyo3::import_exception!(kfm_wal.errors, PoisonedError);
    pyo3::import_exception!(kfm_wal.errors, RecordTooLargeError);
    pyo3::import_exception!(kfm_wal.errors, SchemaError);
    pyo3::import_exception!(kfm_wal.errors, StorageError);
    pyo3::import_exception!(kfm_wal.errors, UsageError);
}

/// `WalError` as the Python exception of its class, with the class's attributes set.
pub fn to_py(err: WalError) -> PyErr {
    Python::attach(|py| exception(py, err).map_or_else(|failed| failed, PyErr::from_value))
}

/// A refused argument of a binding function: `UsageError`, through the same conversion.
pub fn usage(message: impl Into<String>) -> PyErr {
    to_py(WalError::InvalidArgument(message.into()))
}

/// An instance of `T` made with the message alone.
fn new<T: PyTypeInfo>(py: Python<'_>, message: String) -> PyResult<Bound<'_, PyAny>> {
    T::type_object(py).call1((message,))
}

fn exception(py: Python<'_>, err: WalError) -> PyResult<Bound<'_, PyAny>> {
    let message = err.to_string();
    let exc = match err {
        WalError::Io { path, source } => {
            // An OSError: errno as the OS gave it; its text comes from os.strerror on the Python
            // side (as for OSError itself), so only an error the OS did not give carries its own.
            let errno = source.raw_os_error();
            let strerror = errno.is_none().then(|| source.to_string());
            class::StorageError::type_object(py).call1((message, errno, strerror, path.as_os_str()))?
        }
        WalError::Schema { index, field, .. } => {
            let exc = new::<class::SchemaError>(py, message)?;
            exc.setattr("index", index)?;
            exc.setattr("field", field)?;
            exc
        }
        WalError::TooLarge { index, .. } => {
            let exc = new::<class::RecordTooLargeError>(py, message)?;
            exc.setattr("index", index)?;
            exc
        }
        WalError::Locked { pid, .. } => {
            let exc = new::<class::LockedError>(py, message)?;
            exc.setattr("pid", pid)?;
            exc
        }
        WalError::Corruption(f) => {
            let exc = new::<class::CorruptionError>(py, message)?;
            exc.setattr("finding", finding_dict(py, &f)?)?;
            exc
        }
        WalError::Conflict { index, .. } => {
            let exc = new::<class::ConflictError>(py, message)?;
            exc.setattr("index", index)?;
            exc
        }
        WalError::Poisoned(_) => new::<class::PoisonedError>(py, message)?,
        WalError::NotALog(_) => new::<class::NotALogError>(py, message)?,
        WalError::Exists(_) => new::<class::LogExistsError>(py, message)?,
        WalError::KeyMismatch { .. } => new::<class::KeyMismatchError>(py, message)?,
        WalError::Closed => new::<class::ClosedError>(py, message)?,
        WalError::Key(_) | WalError::InvalidArgument(_) => new::<class::UsageError>(py, message)?,
    };
    Ok(exc)
}

/// A finding as a plain dict: code, segment, offset, seq, `wal_id`, message.
pub fn finding_dict<'py>(py: Python<'py>, f: &kfm_wal_core::Finding) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("code", f.code.as_str())?;
    d.set_item("segment", &f.segment)?;
    d.set_item("offset", f.offset)?;
    d.set_item("seq", f.seq)?;
    d.set_item("wal_id", &f.wal_id)?;
    d.set_item("message", &f.message)?;
    Ok(d)
}

pub trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, WalError> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
