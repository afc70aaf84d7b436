"""Errors of the file-operation layer. All derive from kfm_wal.WalError, so a pipeline catches one
family for the log and for the operations recorded in it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UsageError, WalError

if TYPE_CHECKING:
    from .result import OperationResult


class PlanError(UsageError):
    """The actions cannot be planned (delete of an absent file, a directory as target...). Raised
    before anything is stored or recorded."""


class PathEscapeError(PlanError):
    """A path leaves the data root (`..`, absolute, or a symlink resolving outside). `.path` is the
    path as given."""

    path: str | None = None


class BlobError(WalError):
    """A blob is missing or its bytes do not hash to its digest. `.digest` names it."""

    digest: str | None = None


class StateChangedError(WalError):
    """The files are not in the state an operation was planned against (or, for undo, the state
    the operation left). Nothing was executed. `.path` is the first path that differs; `.result`
    is the recorded outcome when an intent was already in the log (status "refused")."""

    path: str | None = None
    result: OperationResult | None = None
    results: list[OperationResult] | None = None


class OperationFailedError(WalError):
    """An action failed while executing. `.result.status` says what the files were left as:
    "reversed" (every earlier action undone) or "failed" (the reversal failed too, or the files
    ended in a state other than the one planned). The original exception is `__cause__`."""

    result: OperationResult | None = None
    results: list[OperationResult] | None = None


class NotUndoableError(UsageError):
    """The operation cannot be undone: unknown, not completed as succeeded, or not a file operation."""


class RetryError(UsageError):
    """The operation cannot be retried: unknown, succeeded, pending, or a later rollback (or retry)
    of the same targets stands in the way. Nothing was recorded."""


def attach(err: Any, result: OperationResult, results: list[OperationResult] | None = None) -> Any:
    """Attach the recorded outcome(s) to an error before raising it."""
    err.result, err.results = result, results
    return err


__all__ = [
    "BlobError",
    "NotUndoableError",
    "OperationFailedError",
    "PathEscapeError",
    "PlanError",
    "RetryError",
    "StateChangedError",
]
