"""Reading a log: sealed records in order, with filters. Every record returned has been checked
against its own hash and its chain link by the core; nothing after the last seal is returned."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from . import _core
from .errors import NotALogError, WalError


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
        found, _ = _core.read_segment(seg_path, number, first_seq, archived, lo, hi)
        yield from _matching(found, Path(seg_path).name, kind, operation, wal_id)


def _matching(
    found: list[tuple[int, str, int, str, bytes]],
    segment: str,
    kind: str | None,
    operation: str | None,
    wal_id: str | None,
) -> Iterator[Record]:
    needle = wal_id.encode() if wal_id is not None else None
    for seq, k, offset, h, line in found:
        if kind is not None and k != kind:
            continue
        if needle is not None and needle not in line:
            continue  # cannot be it: spare decoding the record (an id lookup passes every record)
        rec = Record(seq, k, offset, h, line, segment)
        if wal_id is not None and rec.wal_id != wal_id:
            continue
        if operation is not None and rec.operation != operation:
            continue
        yield rec


def follow(
    path: str | os.PathLike[str],
    *,
    start_seq: int | None = None,
    poll_interval: float = 0.2,
    stop: Callable[[], bool] | None = None,
    kind: str | None = None,
    operation: str | None = None,
) -> Iterator[Record]:
    """Sealed records as they land, across segment rotations, from `start_seq` (default: only
    records sealed after the call). Polls every `poll_interval` seconds until `stop()` is true.
    Only the bytes after the last seal read are read again: following costs what is new."""
    # The start is fixed now, at the call, not when the caller first asks for a record.
    log = Path(path)
    segments = _core.segments(log)
    if start_seq is None:
        start_seq = max(r.seq for r in records(log, start_seq=segments[-1][1])) + 1
    number = next((n for n, first, _, _ in reversed(segments) if first <= start_seq), segments[0][0])
    return _follow(log, number, start_seq, poll_interval, stop, kind, operation)


def _follow(
    log: Path,
    number: int,
    start_seq: int,
    poll_interval: float,
    stop: Callable[[], bool] | None,
    kind: str | None,
    operation: str | None,
) -> Iterator[Record]:
    offset = 0
    while not (stop and stop()):
        segments = _core.segments(log)
        current = next((s for s in segments if s[0] == number), None)
        if current is None:
            raise NotALogError(f"{log}: segment {number} disappeared while following")
        _, first, seg_path, archived = current
        newer = any(s[0] > number for s in segments)
        found, end = _core.read_segment(seg_path, number, first, archived, start_seq, 2**64 - 1, offset)
        yield from _matching(found, Path(seg_path).name, kind, operation, None)
        offset = end
        if newer:
            # A newer segment exists only after this one got its closing seal: what was just read
            # is all there is in it.
            number, offset = number + 1, 0
        elif not found:
            time.sleep(poll_interval)


__all__ = ["Record", "follow", "is_log", "records"]
