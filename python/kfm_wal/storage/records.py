"""Sealed records of an archive at a URL, as `kfm_wal.records` gives them for a directory: each
segment read whole (memory is one segment), its records checked as a reader checks them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .. import _core
from ..reader import Record, _matching
from .store import ArchiveStore


def records(
    url: str,
    *,
    start_seq: int | None = None,
    end_seq: int | None = None,
    kind: str | None = None,
    operation: str | None = None,
    wal_id: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Iterator[Record]:
    """Sealed records of the archive at `url`, in seq order, filtered (as `kfm_wal.records`)."""
    lo = start_seq or 0
    hi = end_seq if end_seq is not None else 2**64 - 1
    store = ArchiveStore(url, storage_options)
    segments = store.segments()
    for i, seg in enumerate(segments):
        next_first = segments[i + 1].first_seq if i + 1 < len(segments) else None
        if seg.first_seq > hi or (next_first is not None and next_first <= lo):
            continue
        data = store.read(seg.url.removeprefix(store.url + "/"))
        found = _core.read_segment_bytes(seg.name, data, seg.archived, lo, hi)
        yield from _matching(found, seg.name, kind, operation, wal_id)


__all__ = ["records"]
