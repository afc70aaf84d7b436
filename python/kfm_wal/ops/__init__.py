"""Recorded, reversible file operations on top of the write-ahead log.

    from kfm_wal.ops import Write, Delete, Move, run, undo
    result = run(wal, [Write("counties.csv", data)], actor=..., tier=1, governance=..., telemetry=...)
    undo(wal, result.wal_id, actor=..., telemetry=...)

Every operation is recorded (intent, durable) before it runs, validated against the state it was
planned for, executed atomically per file, completed, and can be undone from before-images kept
in a content-addressed blob store under the log directory."""

from .blobs import BlobStore
from .digests import ABSENT, actions_digest, canonical_json, content_digest, state_hash
from .errors import (
    BlobError,
    NotUndoableError,
    OperationFailedError,
    PathEscapeError,
    PlanError,
    StateChangedError,
)
from .files import PAYLOAD_FORMAT, Action, Delete, Move, Write
from .operation import OperationResult, OperationSpec, Prepared, execute, prepare, run, run_batch
from .paths import DEFAULT_ROOT, FileRoot
from .recover import Recovered, pending, recover
from .rules import ExecutedMatchesIntent
from .undo import undo

__all__ = [
    "ABSENT",
    "DEFAULT_ROOT",
    "PAYLOAD_FORMAT",
    "Action",
    "BlobError",
    "BlobStore",
    "Delete",
    "ExecutedMatchesIntent",
    "FileRoot",
    "Move",
    "NotUndoableError",
    "OperationFailedError",
    "OperationResult",
    "OperationSpec",
    "PathEscapeError",
    "PlanError",
    "Prepared",
    "Recovered",
    "StateChangedError",
    "Write",
    "actions_digest",
    "canonical_json",
    "content_digest",
    "execute",
    "pending",
    "prepare",
    "recover",
    "run",
    "run_batch",
    "state_hash",
    "undo",
]
