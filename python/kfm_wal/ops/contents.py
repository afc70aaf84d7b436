"""Where the contents an operation references live: small ones inline in its intent, the rest in
the blob store.

A file operation references contents by digest: the new content of each write, and the
before-image of each file it changes. Undo and replay must never depend on files that may have
changed since, so those bytes are made durable before the intent is appended. For a large content
that means a blob (`blobs.py`: temp file, fsync, rename, directory fsync). For a small one that is
a second fsync per file (and a blob directory to fsync) for a few hundred bytes, while the intent
itself is made durable by its group commit before anything executes anyway. So, as RocksDB BlobDB
keeps values under `min_blob_size` in the log record, contents of at most `INLINE_MAX` bytes
travel in the intent's `payload.inline` (`{"sha256:<hex>": "<standard base64>"}`), up to a budget
per operation that keeps the intent far below the log's record size limit.

Reading resolves a digest from `payload.inline` first, then the blob store; inline bytes are
checked against their digest like blob bytes. An intent without `payload.inline` (every intent
written before this convention) references blobs only and reads exactly as before."""

from __future__ import annotations

import base64
import binascii
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from ..wal import Wal
from .blobs import BlobStore
from .digests import content_digest
from .errors import BlobError

INLINE_MAX = 4096  # bytes: a content of at most this size travels in the intent
INLINE_BUDGET = 64 << 10  # bytes inline per operation at most (base64 makes them 4/3 larger)
_RECORD_SHARE = 8  # ... and at most 1/8 of the log's max_record_bytes, so the rest of the intent fits
_MIN_RECORD_BYTES = 4096  # the smallest max_record_bytes a log may have (the writer's rule)

_budgets: weakref.WeakKeyDictionary[Wal, int] = weakref.WeakKeyDictionary()


def _max_record_bytes(wal: Wal) -> int:
    """The limit in the header of the live segment (its first line). Only sizes the inline budget:
    when it cannot be read, the smallest limit a log may have is assumed."""
    segment = wal.head[3]
    for path in (wal.path / segment, wal.path / "archive" / segment):
        try:
            with open(path, "rb") as f:
                value = orjson.loads(f.readline()).get("max_record_bytes")
        except (OSError, orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(value, int) and value >= _MIN_RECORD_BYTES:
            return value
    return _MIN_RECORD_BYTES


def inline_budget(wal: Wal) -> int:
    """Bytes of contents one operation of `wal` may carry inline (read once per open Wal)."""
    budget = _budgets.get(wal)
    if budget is None:
        budget = _budgets[wal] = min(INLINE_BUDGET, _max_record_bytes(wal) // _RECORD_SHARE)
    return budget


class Contents:
    """The contents of one operation, by digest: those kept inline (recorded in `payload.inline`)
    and, for the others, the blob store. `keep` while planning, `get` to read."""

    def __init__(self, blobs: BlobStore, budget: int = 0, inline: Mapping[str, bytes] | None = None) -> None:
        self.blobs = blobs
        self.left = budget
        self.inline: dict[str, bytes] = dict(inline or {})

    def keep(self, digest: str, data: bytes) -> None:
        """Make `data` (whose digest the caller just computed) available to undo and replay:
        inline when it is small and the budget allows, else in the blob store (durable when the
        enclosing `blobs.deferred()` block ends, before the intent is appended)."""
        if digest in self.inline:
            return
        size = len(data)
        if size <= INLINE_MAX and size <= self.left:
            self.inline[digest] = data
            self.left -= size
        else:
            self.blobs._put_hashed(digest, data)

    def get(self, digest: str) -> bytes:
        """The bytes of `digest`, checked against it."""
        data = self.inline.get(digest)
        if data is None:
            return self.blobs.get(digest)
        if content_digest(data) != digest:
            err = BlobError(f"inline content {digest} in the intent is corrupt: it hashes to {content_digest(data)}")
            err.digest = digest
            raise err
        return data

    def recorded(self) -> dict[str, str]:
        """`payload.inline` for the intent: {digest: standard base64}, sorted by digest."""
        return {d: base64.b64encode(self.inline[d]).decode("ascii") for d in sorted(self.inline)}

    @classmethod
    def of_payload(cls, blobs: BlobStore, payload: Mapping[str, Any]) -> Contents:
        """The contents a recorded intent references (its `payload.inline`, then `blobs`)."""
        table = payload.get("inline", {})
        if not isinstance(table, Mapping):
            raise BlobError(f"payload.inline must be an object of digest -> base64, got {type(table).__name__}")
        inline: dict[str, bytes] = {}
        for digest, text in table.items():
            blobs.path(digest)  # a malformed digest is refused here
            try:
                inline[digest] = base64.b64decode(text, validate=True)
            except (TypeError, ValueError, binascii.Error):
                err = BlobError(f"payload.inline[{digest!r}] is not standard base64")
                err.digest = digest
                raise err from None
        return cls(blobs, inline=inline)

    @classmethod
    def for_log(cls, log_dir: str | Path, payload: Mapping[str, Any]) -> Contents:
        return cls.of_payload(BlobStore.for_log(log_dir), payload)


__all__ = ["INLINE_BUDGET", "INLINE_MAX", "Contents", "inline_budget"]
