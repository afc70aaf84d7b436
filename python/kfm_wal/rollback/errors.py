"""The error of the rollback layer (one class, a WalError like every kfm-wal error)."""

from __future__ import annotations

from typing import Any

from ..errors import WalError


class RollbackError(WalError):
    """A rollback refused before anything was recorded (unknown target, a target changed around
    the log, an operation in the range that cannot be reversed), or one that failed and was
    re-applied (`result` then holds the recorded outcome)."""

    seq: int | None = None
    wal_id: str | None = None
    result: Any = None


def refused(why: str, *, seq: int | None = None, wal_id: str | None = None) -> RollbackError:
    err = RollbackError(f"rollback refused, nothing changed: {why}")
    err.seq, err.wal_id = seq, wal_id
    return err


__all__ = ["RollbackError", "refused"]
