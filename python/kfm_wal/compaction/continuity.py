"""A verification receipt taken before a compaction (FORMAT.md section 9) vouches for a seal that
may now be in the cold directory. The checkpoint lists every seal (seq, hash) of the range it
compacted, signed with the log: a receipt whose seal is listed with its hash is continued by the
log (its history up to the receipt is the history the checkpoint summarises), one listed with
another hash is a fork."""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import seal_list
from .record import checkpoints


@dataclass(frozen=True)
class Continuity:
    holds: bool | None  # None: no checkpoint covers the receipt's seq (verify the log as usual)
    checkpoint: str | None
    message: str


def receipt_continuity(log: str | os.PathLike[str], seq: int, hash: str) -> Continuity:
    """Whether the log continues the history a receipt vouches for at (seq, hash)."""
    for cp in reversed(checkpoints(log)):
        if not cp.first_seq <= seq <= cp.cut_seq:
            continue
        listed = {int(s): str(h) for s, h in seal_list.load(log, cp.payload["seals"])}.get(seq)
        if listed == hash:
            return Continuity(True, cp.wal_id, f"seal {seq} is listed by checkpoint seq {cp.seq}: history continues")
        why = "with another hash: history was rewritten or forked" if listed else "not as a seal"
        return Continuity(False, cp.wal_id, f"seq {seq} is listed by checkpoint seq {cp.seq} {why}")
    return Continuity(None, None, f"no checkpoint covers seq {seq}")


__all__ = ["Continuity", "receipt_continuity"]
