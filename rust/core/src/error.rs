//! The one error type of the core. The binding crate converts each variant to exactly one
//! Python exception class of `kfm_wal.errors`; nothing else in the core invents error types.

use std::io;
use std::path::PathBuf;

use crate::finding::Finding;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An operating-system I/O failure, with the path it concerned.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },

    /// An entry handed to the writer breaks the record schema. `index` is its position in the
    /// batch the caller passed; `field` names the offending member ("" when the whole entry).
    #[error("entry {index}: {field}: {message}")]
    Schema { index: usize, field: String, message: String },

    /// A record would exceed `max_record_bytes`; the same limit the verifier enforces.
    #[error("entry {index}: record is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { index: usize, size: usize, limit: usize },

    /// Another writer holds the directory lock.
    #[error("{path} is locked by another writer (pid {pid})")]
    Locked { path: PathBuf, pid: String },

    /// The log is damaged in a way that must not be repaired silently.
    #[error("{0}")]
    Corruption(Box<Finding>),

    /// An earlier write or sync failed; the writer acknowledges nothing any more.
    #[error("writer is poisoned by an earlier failure and must be reopened: {0}")]
    Poisoned(String),

    #[error("{0} is not a kfm-wal log (no segment files in it or in archive/)")]
    NotALog(PathBuf),

    #[error("{0} already holds a kfm-wal log")]
    Exists(PathBuf),

    /// The signing key given to open a log is not the key in force at its head.
    #[error("key {given} does not match the log's writer key {expected}")]
    KeyMismatch { expected: String, given: String },

    /// Operation-level refusal (duplicate `wal_id`, completion of an unknown intent, ...).
    #[error("entry {index}: {message}")]
    Conflict { index: usize, message: String },

    #[error("writer is closed")]
    Closed,

    /// A key is malformed: a seed, a public key or its encoding (not a signature that fails to
    /// verify: that is a finding).
    #[error("{0}")]
    Key(String),

    #[error("{0}")]
    InvalidArgument(String),
}

pub type Result<T> = std::result::Result<T, WalError>;

/// Attach a path to an `io::Error`; every I/O call in the core goes through this.
pub trait IoContext<T> {
    /// The error, if any, as `WalError::Io` naming `path`.
    ///
    /// # Errors
    /// `WalError::Io` when `self` is an error.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| WalError::Io { path: path.into(), source })
    }
}
