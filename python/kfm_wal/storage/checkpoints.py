"""The checkpoints of an archive whose first segment is not segment 1 (a compacted log, FORMAT.md
6.10), found in the segments' bytes read from the store by the core's own rule
(`_core.segment_checkpoints`) and handed to the join in place of the cuts a local verifier reads
from its files: the archive is then judged as the directory it was pushed from.

Segments are read in log order until one holds a checkpoint that anchors the first segment
(usually the first one itself: a compaction appends its checkpoint to the live segment, the first
it keeps), so the join sees every boundary up to and including the one that anchors, as the local
rule (the first anchoring boundary in log order) needs. A log no checkpoint anchors is read whole
and reported unanchored, as a directory would be. Where the manifest lists a segment's
checkpoints (`Entry.checkpoints`, written by `push`), the segment read must hold exactly those."""

from __future__ import annotations

from typing import Any

from .. import _core
from ..errors import RemoteError
from .manifest import Entry
from .store import MANIFEST, ArchiveStore, RemoteSegment, read_segment

Boundary = tuple[int, int, str, list[str]]  # (segment, seq, hash, pending): one boundary, as the core gives it


def cut_list(found: list[list[Boundary]]) -> list[list[Any]]:
    """Each checkpoint's cut as the manifest records it: [segment, seq, hash]."""
    return [[cp[0][0], cp[0][1], cp[0][2]] for cp in found if cp]


def _anchors(b: Boundary, first: tuple[int, int | None, str | None]) -> bool:
    number, seq, prev = first
    return seq is not None and b[0] + 1 == number and b[1] + 1 == seq and b[2] == prev


def cuts(
    store: ArchiveStore, segments: list[RemoteSegment], first_summary: bytes, entries: dict[str, Entry] | None
) -> list[Boundary] | None:
    """The boundaries the join needs (`join_summaries(cuts=...)`), None for a log that starts at
    segment 1 (no anchor is asked of it)."""
    if not segments or segments[0].number <= 1:
        return None
    facts = _core.summary_facts(first_summary)
    first = (segments[0].number, facts["first_seq"], facts["prev_hash"])
    out: list[Boundary] = []
    for i, seg in enumerate(segments):
        if i and seg.number == segments[i - 1].number:
            continue  # a repeated number is never joined (J1): it holds no checkpoint
        found = _core.segment_checkpoints(seg.name, read_segment(seg.url, store.storage_options))
        listed = entries.get(seg.name) if entries is not None else None
        if listed is not None and listed.checkpoints is not None and listed.checkpoints != cut_list(found):
            raise RemoteError(
                f"{store.object_url(MANIFEST)} disagrees with segment {seg.name}: it lists checkpoint cuts "
                f"{listed.checkpoints}, the segment holds {cut_list(found)}"
            )
        for cp in found:
            out.extend(cp)
        if any(_anchors(b, first) for cp in found for b in cp):
            break
    return out


def may_hold_checkpoints(entries: dict[str, Entry] | None) -> bool:
    """Whether the archive may hold a checkpoint: False only when its manifest lists, for every
    segment, that it holds none (then nothing need be read to know it)."""
    return entries is None or any(e.checkpoints is None or e.checkpoints for e in entries.values())


__all__ = ["Boundary", "cut_list", "cuts", "may_hold_checkpoints"]
