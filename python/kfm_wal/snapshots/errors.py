"""The error of the snapshot layer (one class, a WalError like every kfm-wal error)."""

from __future__ import annotations

from ..errors import WalError


class SnapshotError(WalError):
    """A snapshot cannot be taken or found as asked: the name is taken or malformed, the roots
    differ from what the log says they hold (a write around the log), the log fails validation,
    or no snapshot has that name. Nothing was written."""

    name: str | None = None


__all__ = ["SnapshotError"]
