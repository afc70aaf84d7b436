"""kfm-wal: a signed, hash-chained write-ahead log for data pipelines.

from kfm_wal import Wal, keys
key = keys.generate()
with Wal.create("data/wal", key) as wal:
    receipt = wal.append({...})        # durable when it returns
    wal.complete(receipt.wal_id)
report = kfm_wal.verify("data/wal")   # report.ok, report.findings
"""

from typing import TYPE_CHECKING

from . import errors, extras, keys, schema
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
    RemoteError,
    SchemaError,
    StorageError,
    UsageError,
    WalError,
)
from .reader import Record, follow, is_log, records
from .report import Finding, VerifyReport, verify
from .wal import Wal, salvage

extras.install()  # an operation layer imported without its extra says which extra to install

# The operation layers load on first use: a writer that only appends never imports them (nor
# their dependencies: pystac, pyoxigraph, openlineage, prov, installed by extras; without them,
# `kfm_wal.ops` raises kfm_wal.extras.MissingExtraError, an ImportError naming the extra).
_LAZY = ("audit", "governance", "lineage", "ops")
if TYPE_CHECKING:
    from . import audit, governance, lineage, ops


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "RemoteError",
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
