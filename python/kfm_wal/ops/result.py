"""The recorded outcome of one operation (`run`, `execute`, `undo`, `run_batch`): what its
completion says, with the receipts of its intent and completion. Errors of the ops layer carry it
(`.result`), so it lives apart from the lifecycle that makes it."""

from __future__ import annotations

from dataclasses import dataclass

from ..wal import Receipt


@dataclass(frozen=True)
class OperationResult:
    wal_id: str
    operation: str
    status: str  # the completion's: succeeded, refused, reversed or failed
    pre_state_hash: str
    post_state_expected: str
    post_state_hash: str | None
    executed_digest: str | None
    duration_ms: float
    intent: Receipt
    completion: Receipt
    error: str | None = None


__all__ = ["OperationResult"]
