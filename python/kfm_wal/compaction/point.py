"""The compaction point of a log: what rollback and replay cannot go past. Records up to the
cut are no longer in the log (only the checkpoint's summary of them is), and the checkpoint's own
records are no operation to reverse or replay."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .record import checkpoints


@dataclass(frozen=True)
class CompactionPoint:
    cut_seq: int  # the last compacted record
    checkpoint_seq: int  # the checkpoint's intent
    last_seq: int  # its completion (its intent while the compaction is unfinished)

    def message(self) -> str:
        return (
            f"the log was compacted: records up to seq {self.cut_seq} are summarised by the checkpoint "
            f"at seq {self.checkpoint_seq}, not in the log"
        )


def compaction_point(log: str | os.PathLike[str]) -> CompactionPoint | None:
    """The latest checkpoint of the log at `log`, None for a log never compacted."""
    found = checkpoints(log)
    if not found:
        return None
    cp = found[-1]
    return CompactionPoint(cp.cut_seq, cp.seq, cp.completed_seq or cp.seq)


__all__ = ["CompactionPoint", "compaction_point"]
