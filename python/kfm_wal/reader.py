"""Reading a log: sealed records in order, with filters. Every record returned has been checked
against its own hash and its chain link by the core; nothing after the last seal is returned."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from . import _core
from .errors import WalError


class Record:
    """One sealed record. `line` is its exact bytes; the body is decoded on first use."""

    __slots__ = ("_body", "hash", "kind", "line", "offset", "segment", "seq")

    def __init__(self, seq: int, kind: str, offset: int, hash: str, line: bytes, segment: str) -> None:
        self.seq, self.kind, self.offset, self.hash, self.line, self.segment = seq, kind, offset, hash, line, segment
        self._body: dict[str, Any] | None = None

    @property
    def body(self) -> dict[str, Any]:
        """The whole record as a dict, envelope included."""
        if self._body is None:
            self._body = orjson.loads(self.line)
        return self._body

    @property
    def timestamp(self) -> str:
        return str(self.body["timestamp"])

    @property
    def prev(self) -> str:
        return str(self.body["prev"])

    @property
    def wal_id(self) -> str | None:
        value = self.body.get("wal_id")
        return value if isinstance(value, str) else None

    @property
    def operation(self) -> str | None:
        value = self.body.get("operation")
        return value if isinstance(value, str) else None

    def __repr__(self) -> str:
        return f"Record(seq={self.seq}, kind={self.kind!r}, segment={self.segment!r}, offset={self.offset})"


def is_log(path: str | os.PathLike[str]) -> bool:
    """Whether `path` holds a kfm-wal log (segment files in it or in its archive/)."""
    try:
        return bool(_core.segments(Path(path)))
    except WalError:
        return False


def records(
    path: str | os.PathLike[str],
    *,
    start_seq: int | None = None,
    end_seq: int | None = None,
    kind: str | None = None,
    operation: str | None = None,
    wal_id: str | None = None,
) -> Iterator[Record]:
    """Sealed records of the log at `path`, in seq order, filtered. Memory is one segment."""
    lo = start_seq or 0
    hi = end_seq if end_seq is not None else 2**64 - 1
    segments = _core.segments(Path(path))
    for i, (number, first_seq, seg_path, archived) in enumerate(segments):
        next_first = segments[i + 1][1] if i + 1 < len(segments) else None
        if first_seq > hi or (next_first is not None and next_first <= lo):
            continue
        name = Path(seg_path).name
        for seq, k, offset, h, line in _core.read_segment(seg_path, number, first_seq, archived, lo, hi):
            if kind is not None and k != kind:
                continue
            rec = Record(seq, k, offset, h, line, name)
            if wal_id is not None and rec.wal_id != wal_id:
                continue
            if operation is not None and rec.operation != operation:
                continue
            yield rec


__all__ = ["Record", "is_log", "records"]
