"""Carrying out a compaction, in an order that leaves a valid log after a crash at any step and
can be resumed by running it again:

1. the checkpoint intent is appended (durable before anything moves); an unfinished checkpoint
   already in the log (a compaction a crash interrupted) is resumed instead of planning anew;
2. the compacted segments move to the cold directory one by one, oldest first (copied and
   fsynced under a temporary name, renamed, then removed from the log and the directory
   fsynced), or with `drop` are removed: every segment end is a boundary of the checkpoint
   (FORMAT.md 6.10), so the log is valid between two moves;
3. blobs no retained record references are removed (only those the plan listed, checked again);
4. the checkpoint's completion records what was done.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RecordTooLargeError
from ..ops import durable
from ..ops.blobs import BlobStore
from ..wal import Wal
from .blob_refs import referenced
from .errors import CompactionError
from .plan import Plan, Segment, _segments
from .record import Checkpoint, checkpoints, entry


@dataclass(frozen=True)
class Outcome:
    checkpoint: str  # its wal_id
    seq: int
    moved: list[str]
    dropped: list[str]
    blobs_removed: list[str]
    resumed: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _step(name: str) -> None:
    """A named point between two steps, where a crash must leave a valid log. Does nothing: the
    kill tests (tests/crash/compact_kill.py) replace it to SIGKILL their process there."""


def unfinished(log: Path) -> Checkpoint | None:
    """The last checkpoint without a completion: a compaction a crash interrupted."""
    open_ones = [cp for cp in checkpoints(log) if not cp.completed]
    return open_ones[-1] if open_ones else None


def _move(seg: Segment, cold: Path | None) -> None:
    src_dir = seg.path.parent
    if cold is None:
        durable.unlink(seg.path)
        durable.fsync_dir(src_dir)
        return
    durable.make_dirs(cold)
    dst = cold / seg.path.name
    if not dst.exists():
        tmp = cold / (seg.path.name + ".tmp")
        shutil.copyfile(seg.path, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
        durable.fsync_dir(cold)
        _step(f"copied {seg.path.name}")
    if dst.stat().st_size != seg.path.stat().st_size:
        raise CompactionError(f"{dst} exists with another size than {seg.path}: not overwritten, nothing removed")
    durable.unlink(seg.path)
    durable.fsync_dir(src_dir)


def _to_move(log: Path, cut_segment: int) -> list[Segment]:
    return [s for s in _segments(log) if s.number <= cut_segment]


def _collect(log: Path, digests: list[str], after_seq: int) -> list[str]:
    refs = referenced(log, after_seq)
    removed = []
    store = log / "blobs"
    for d in digests:
        if d in refs:
            continue
        path = store / d[7:9] / d[9:]
        if path.exists():
            _step(f"blob {d}")
            path.unlink()
            removed.append(d)
    for sub in {d[7:9] for d in removed}:
        durable.fsync_dir(store / sub)
    return removed


def apply(plan: Plan, wal: Wal) -> Outcome:
    """Carry out `plan` (made of the log as it is: `plan` or `resume_plan`) on the log `wal` holds
    open (the lock keeps every other writer out)."""
    wal.wait_for_archive()  # no background compression of a segment being moved
    log = Path(wal.path)
    pending = plan.resumes
    resumed = pending is not None
    if pending is None:
        _step("checkpoint")
        BlobStore.for_log(log).put(plan.seal_list)  # durable before the checkpoint names it
        try:
            receipt = wal.append(entry(plan.payload))
        except RecordTooLargeError as exc:
            raise CompactionError(
                f"compaction refused, nothing moved: the checkpoint record is over the log's max_record_bytes "
                f"({exc}); compact fewer segments at a time (an earlier --before)"
            ) from None
        wal_id, seq, payload = receipt.wal_id, receipt.seq, plan.payload
    else:
        wal_id, seq, payload = pending.wal_id, pending.seq, pending.payload
    cold_text = payload.get("cold")
    cold = Path(cold_text) if cold_text else None
    moved: list[str] = []
    dropped: list[str] = []
    for seg in _to_move(log, int(payload["cut"]["segment"])):
        if seg.number == _segments(log)[-1].number:
            break  # never the live segment (a plan cannot name it; a crafted one is not obeyed)
        _step(f"move {seg.path.name}")
        _move(seg, cold)
        (moved if cold is not None else dropped).append(seg.path.name)
    removed = _collect(log, plan.blobs, int(payload["cut"]["seq"]))
    _step("complete")
    detail = {"moved": moved, "dropped": dropped, "blobs_removed": len(removed), "resumed": resumed}
    wal.complete(wal_id, "succeeded", detail=detail)
    return Outcome(wal_id, seq, moved, dropped, removed, resumed)


__all__ = ["Outcome", "apply", "unfinished"]
