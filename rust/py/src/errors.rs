//! The one conversion from the core's error enum to Python exceptions. The exception classes
//! are defined once, in `kfm_wal.errors`; this file only picks the class and sets attributes.

use kfm_wal_core::WalError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn raise(py: Python<'_>, class: &str, message: String, attrs: &[(&str, Py<PyAny>)]) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = py.import("kfm_wal.errors")?.getattr(class)?;
        let exc = cls.call1((message.clone(),))?;
        for (name, value) in attrs {
            exc.setattr(*name, value)?;
        }
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

pub fn to_py(err: WalError) -> PyErr {
    Python::attach(|py| {
        let message = err.to_string();
        let obj = |v: Py<PyAny>| v;
        match err {
            WalError::Io { path, .. } => raise(
                py,
                "StorageError",
                message,
                &[("path", obj(path.display().to_string().into_pyobject(py).unwrap().into_any().unbind()))],
            ),
            WalError::Schema { index, field, .. } => raise(
                py,
                "SchemaError",
                message,
                &[
                    ("index", index.into_pyobject(py).unwrap().into_any().unbind()),
                    ("field", field.into_pyobject(py).unwrap().into_any().unbind()),
                ],
            ),
            WalError::TooLarge { index, .. } => raise(
                py,
                "RecordTooLargeError",
                message,
                &[("index", index.into_pyobject(py).unwrap().into_any().unbind())],
            ),
            WalError::Locked { pid, .. } => {
                raise(py, "LockedError", message, &[("pid", pid.into_pyobject(py).unwrap().into_any().unbind())])
            }
            WalError::Corruption(f) => {
                let location = finding_dict(py, &f).map(|d| d.into_any().unbind()).unwrap_or_else(|_| py.None());
                raise(py, "CorruptionError", message, &[("finding", location)])
            }
            WalError::Poisoned(_) => raise(py, "PoisonedError", message, &[]),
            WalError::NotALog(_) => raise(py, "NotALogError", message, &[]),
            WalError::Exists(_) => raise(py, "LogExistsError", message, &[]),
            WalError::KeyMismatch { .. } => raise(py, "KeyMismatchError", message, &[]),
            WalError::Conflict { index, .. } => {
                raise(py, "ConflictError", message, &[("index", index.into_pyobject(py).unwrap().into_any().unbind())])
            }
            WalError::Closed => raise(py, "ClosedError", message, &[]),
            WalError::InvalidArgument(_) => raise(py, "UsageError", message, &[]),
        }
    })
}

/// A finding as a plain dict: code, segment, offset, seq, wal_id, message.
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
