"""Recorded, reversible file operations on top of the write-ahead log.

    from kfm_wal.ops import Write, Delete, Move, run, undo
    result = run(wal, [Write("counties.csv", data)], actor=..., tier=1, governance=..., telemetry=...)
    undo(wal, result.wal_id, actor=..., telemetry=...)

Every operation is recorded (intent, durable) before it runs, validated against the state it was
planned for, executed atomically per file, completed, and can be undone from before-images kept
inline in the intent (small contents) or in a content-addressed blob store under the log
directory (`Contents` resolves a recorded digest from either).

Besides files: STAC Items/Collections (`ops.stac`), RDF graph writes (`ops.graph`) and
user-registered actions (`ops.custom`, `register_action`), mixable in one operation (see
`ops.kinds` for the action-kind registry and payload formats).

Every operation of tier >= 1, and every hotfix (`ops.hotfix`), is decided by the governance
policy before it is recorded and written to the governance ledger (`ops.governed`); `ops.retry`
re-runs a failed, refused or reversed operation from its intent as a new "retry" operation."""

from . import custom, graph, stac
from .blobs import BlobStore
from .contents import INLINE_MAX, Contents
from .custom import Custom, register_action, unregister_action
from .digests import ABSENT, actions_digest, canonical_json, content_digest, state_hash
from .errors import (
    BlobError,
    NotUndoableError,
    OperationFailedError,
    PathEscapeError,
    PlanError,
    RetryError,
    StateChangedError,
)
from .executed_check import ExecutedMatchesIntent
from .files import PAYLOAD_FORMAT, Action, Delete, Move, Write
from .graph import GraphStore
from .hotfix import HOTFIX, hotfix
from .kinds import MIXED_FORMAT, ActionKind, Context, Part, register_kind
from .operation import (
    BatchOptions,
    Governed,
    OperationOptions,
    OperationResult,
    OperationSpec,
    Prepared,
    Roots,
    RunOptions,
    execute,
    prepare,
    record,
    run,
    run_batch,
)
from .paths import DEFAULT_ROOT, FileRoot
from .recover import Recovered, pending, recover
from .requests import planned_request
from .retry import RETRY, retry, retry_request
from .undo import undo, undo_request

__all__ = [
    "ABSENT",
    "HOTFIX",
    "RETRY",
    "BatchOptions",
    "Governed",
    "RetryError",
    "hotfix",
    "record",
    "planned_request",
    "retry",
    "retry_request",
    "MIXED_FORMAT",
    "ActionKind",
    "Context",
    "Custom",
    "GraphStore",
    "Part",
    "custom",
    "graph",
    "register_action",
    "register_kind",
    "stac",
    "unregister_action",
    "DEFAULT_ROOT",
    "INLINE_MAX",
    "Contents",
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
    "OperationOptions",
    "OperationResult",
    "OperationSpec",
    "PathEscapeError",
    "PlanError",
    "Prepared",
    "Recovered",
    "Roots",
    "RunOptions",
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
    "undo_request",
]
