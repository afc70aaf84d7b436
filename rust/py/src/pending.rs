//! `kfm_wal._core.Pending`: the handle a submit returns. Waiting runs detached from the
//! interpreter; the answer stays, so every `result` gives the same receipts or the same error.

use std::time::Duration;

use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;

use crate::append_receipts::Receipts;
use crate::errors::{usage, IntoPyResult};

#[pyclass(frozen, module = "kfm_wal._core")]
pub struct Pending {
    inner: kfm_wal_core::Pending,
}

impl Pending {
    pub fn new(inner: kfm_wal_core::Pending) -> Pending {
        Pending { inner }
    }
}

#[pymethods]
impl Pending {
    /// The batch's receipts once a durable seal covers them, or its failure raised; waits at most
    /// `timeout` seconds (`None`: as long as it takes), then raises `TimeoutError`.
    #[pyo3(signature = (timeout=None))]
    fn result(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Receipts> {
        let timeout = timeout
            .map(|t| {
                Duration::try_from_secs_f64(t.max(0.0)).map_err(|_| usage(format!("timeout {t} is not a duration")))
            })
            .transpose()?;
        let answer = py.detach(|| self.inner.wait(timeout));
        let receipts = answer.ok_or_else(|| PyTimeoutError::new_err("the batch is not durable yet"))?.py()?;
        Ok(Receipts::new(receipts))
    }

    /// Whether the batch is durable or failed (`result` returns at once).
    fn done(&self) -> bool {
        self.inner.done()
    }

    fn __repr__(&self) -> String {
        format!("Pending(done={})", if self.inner.done() { "True" } else { "False" })
    }
}
