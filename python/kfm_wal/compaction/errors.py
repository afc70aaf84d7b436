"""The error of the compaction layer (one class, a WalError like every kfm-wal error)."""

from __future__ import annotations

from ..errors import WalError


class CompactionError(WalError):
    """A compaction cannot be planned or carried out as asked: the log fails validation, the
    snapshot is unknown, the cut falls inside the live segment or past the head, there is nothing
    to compact, or a key was revoked in the range. Nothing was changed."""


__all__ = ["CompactionError"]
