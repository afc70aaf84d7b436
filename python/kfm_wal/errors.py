"""The exception hierarchy of kfm-wal, defined once. The Rust core raises these classes too (its
single error conversion, rust/py/src/errors.rs, binds each class once), so callers catch one family.

    WalError
    ├── UsageError            bad argument (exit code 2 in the CLI)
    │   └── ops.PlanError     an operation that cannot be planned (└── PathEscapeError),
    │       ops.NotUndoableError
    ├── ops.BlobError / ops.StateChangedError / ops.OperationFailedError   (kfm_wal.ops)
    ├── SchemaError           an entry breaks the record schema (.index, .field)
    │   └── RecordTooLargeError
    ├── ConflictError         duplicate wal_id, completion of an unknown or completed intent
    ├── LockedError           another writer holds the log (.pid)
    ├── NotALogError / LogExistsError / KeyMismatchError
    ├── CorruptionError       damage to sealed history (.finding: code, segment, offset, seq)
    ├── PoisonedError         an earlier write or sync failed; reopen the log
    ├── ClosedError
    ├── RemoteError           object storage or a Dask cluster failed, or disagrees (kfm_wal.storage,
    │                         kfm_wal.distributed): unreachable, a segment gone or changed, a manifest
    │                         that disagrees with the segments
    └── StorageError          an operating-system I/O error: also an OSError, with .errno,
                              .strerror and .filename as the OS gave them (.path = .filename)

Every class the core raises is a WalError; StorageError is also an OSError, so `except OSError`
and `e.errno` work for the log's I/O failures as for Python's own.
"""

from __future__ import annotations

import os
from typing import Any


class WalError(Exception):
    """Base class of every kfm-wal error."""


class UsageError(WalError, ValueError):
    """An argument is not acceptable."""


class SchemaError(WalError, ValueError):
    """An entry breaks the record schema. `index` is its position in the batch, `field` the member."""

    index: int | None = None
    field: str | None = None


class RecordTooLargeError(SchemaError):
    """A record would exceed the log's max_record_bytes."""


class ConflictError(WalError, ValueError):
    """The entry is valid but contradicts the log (duplicate wal_id, orphan completion...)."""

    index: int | None = None


class LockedError(WalError):
    """Another writer holds the log's lock; `pid` is the holder's."""

    pid: str | None = None


class NotALogError(WalError):
    """The directory holds no kfm-wal log."""


class LogExistsError(WalError):
    """The directory already holds a kfm-wal log."""


class KeyMismatchError(WalError):
    """The signing key given is not the log's writer key."""


class CorruptionError(WalError):
    """Sealed history is damaged. `finding` holds code, segment, offset, seq, wal_id, message."""

    finding: dict[str, Any] | None = None


class PoisonedError(WalError):
    """A write or sync failed earlier; this writer acknowledges nothing more."""


class ClosedError(WalError):
    """The log was closed."""


class RemoteError(WalError):
    """Object storage or a Dask cluster failed or disagrees: a bucket or scheduler that cannot be
    reached, a segment gone or replaced while it was read, a manifest that disagrees with the
    segments. The message says which URL, segment and field. `missing` is True when the URL names
    no such bucket, container or directory (a place with no log, rather than a failure)."""

    missing: bool = False


class LogSetError(WalError, ValueError):
    """A log-set manifest that cannot be used: not JSON, not a manifest, a stream named twice, a
    stream id that is not one, two streams at one log. The message says which file and member."""


class StorageError(WalError, OSError):
    """An operating-system I/O error. An OSError: `errno` is the OS's error number (None when the
    failure was not the OS's, e.g. a short read), `strerror` its text, `filename` and `path` the
    file. `str()` is the core's message, "<path>: <reason>", not OSError's "[Errno n] ..." form.

    `StorageError(message, errno, strerror, filename)`; without `strerror`, an `errno` gets the
    OS's text (`os.strerror`), as OSError's own do."""

    path: str | None

    def __init__(
        self,
        message: str,
        errno: int | None = None,
        strerror: str | None = None,
        filename: str | None = None,
    ) -> None:
        super().__init__(message)
        self.errno = errno
        self.strerror = strerror if strerror is not None or errno is None else os.strerror(errno)
        self.filename = filename
        self.path = filename

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.errno, self.strerror, self.filename), self.__dict__)


__all__ = [
    "ClosedError",
    "ConflictError",
    "CorruptionError",
    "KeyMismatchError",
    "LockedError",
    "LogExistsError",
    "LogSetError",
    "NotALogError",
    "PoisonedError",
    "RecordTooLargeError",
    "RemoteError",
    "SchemaError",
    "StorageError",
    "UsageError",
    "WalError",
]
