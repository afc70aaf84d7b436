"""kfm-wal: a signed, hash-chained write-ahead log for data pipelines.

    from kfm_wal import Wal, keys
    key = keys.generate()
    with Wal.create("data/wal", key) as wal:
        receipt = wal.append({...})        # durable when it returns
        wal.complete(receipt.wal_id)
    report = kfm_wal.verify("data/wal")   # report.ok, report.findings
"""

from . import audit, errors, governance, keys, lineage, ops, schema
from ._core import FORMAT, Receipt
from ._core import __version__ as __version__
from .errors import (
    ConflictError,
    CorruptionError,
    KeyMismatchError,
    LockedError,
    LogExistsError,
    NotALogError,
    PoisonedError,
    RecordTooLargeError,
    SchemaError,
    StorageError,
    UsageError,
    WalError,
)
from .reader import Record, follow, is_log, records
from .report import Finding, VerifyReport, verify
from .wal import Wal, salvage

__all__ = [
    "FORMAT",
    "ConflictError",
    "CorruptionError",
    "Finding",
    "KeyMismatchError",
    "LockedError",
    "LogExistsError",
    "NotALogError",
    "PoisonedError",
    "Receipt",
    "Record",
    "RecordTooLargeError",
    "SchemaError",
    "StorageError",
    "UsageError",
    "VerifyReport",
    "Wal",
    "WalError",
    "audit",
    "errors",
    "follow",
    "is_log",
    "governance",
    "keys",
    "lineage",
    "ops",
    "records",
    "salvage",
    "schema",
    "verify",
]
