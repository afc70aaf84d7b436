"""Planning a compaction: what `kfm-wal compact DIR --before SNAPSHOT|SEQ` would do, without
changing anything. The log must validate (damage is found here, never half-way through moving
segments); the cut is rounded down to the end of a closed segment (compaction moves whole
segments, never the live one); the plan lists the segments to move, the checkpoint's payload and
the blobs no retained record references."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .. import _core
from ..report import verify
from . import raw, seal_list
from .blob_refs import unreferenced
from .errors import CompactionError
from .record import FORMAT, Checkpoint, checkpoints

_SEQ = re.compile(r"^[0-9]{1,19}$")
DEFAULT_COLD = "cold"


@dataclass(frozen=True)
class Segment:
    number: int
    first_seq: int
    path: Path


@dataclass(frozen=True)
class Plan:
    log: Path
    before: str
    before_seq: int  # records below this seq are superseded
    segments: list[Segment]  # to move, in number order
    retained_from: int  # the first retained segment's number
    payload: dict[str, Any]  # the checkpoint's
    blobs: list[str]  # digests no retained record references
    cold: Path | None  # None: --drop
    seal_list: bytes = b""  # the blob payload.seals names (seal_list.py), put before the checkpoint
    resumes: Checkpoint | None = None  # the checkpoint of an interrupted compaction this plan finishes

    @property
    def cut_seq(self) -> int:
        return int(self.payload["cut"]["seq"])

    def as_dict(self) -> dict[str, Any]:
        p = self.payload
        return {
            "log": str(self.log),
            "before": self.before,
            "cut": p["cut"],
            "range": p["range"],
            "segments": [s.path.name for s in self.segments],
            "retained_from_segment": self.retained_from,
            "seals": p["seals"],
            "pending": p["pending"],
            "snapshot": p["snapshot"],
            "roots": p["roots"],
            "blobs": self.blobs,
            "cold": str(self.cold) if self.cold is not None else None,
        }


def _refuse(why: str) -> CompactionError:
    return CompactionError(f"compaction refused, nothing changed: {why}")


def validated(log: str | os.PathLike[str]) -> None:
    """Refuse (CompactionError) a log with any finding, a recoverable tail included."""
    log = Path(log)
    report = verify(log)
    if report.findings:
        f = report.findings[0]
        raise _refuse(
            f"the log fails validation ({f.code} at {f.location()}: {f.message}; "
            f"{len(report.findings)} finding(s)): run kfm-wal validate"
        )


def _before(log: Path, before: str) -> tuple[int, dict[str, Any] | None, list[dict[str, Any]]]:
    """(seq below which records are superseded, the snapshot, its roots' digests)."""
    if _SEQ.match(before):
        return int(before), None, []
    from ..snapshots import SnapshotError, find

    try:
        snap = find(log, before)
    except SnapshotError as exc:
        raise _refuse(str(exc)) from None
    at = {"seq": snap.at_seq, "hash": snap.at_hash}
    return snap.at_seq + 1, {"name": snap.name, "at": at}, [r.as_dict() for r in snap.roots]


def _segments(log: Path) -> list[Segment]:
    return [Segment(n, first, Path(p)) for n, first, p, _ in _core.segments(log)]


def _cut(segs: list[Segment], before_seq: int, given: str) -> int:
    """How many of `segs` (the log's, in order) the compaction moves."""
    live = segs[-1]
    if before_seq > live.first_seq:
        raise _refuse(
            f"the cut before seq {before_seq} ({given}) falls inside the live segment {live.path.name} "
            f"(seq {live.first_seq} on); compaction moves whole closed segments: use --before {live.first_seq} "
            "at most, or rotate first"
        )
    # segment i is wholly superseded when the next one starts at or below before_seq
    count = sum(1 for i in range(len(segs) - 1) if segs[i + 1].first_seq <= before_seq)
    if count == 0:
        raise _refuse(
            f"nothing to compact before seq {before_seq} ({given}): the first segment {segs[0].path.name} "
            f"ends after it (the cut falls at a closed segment's end)"
        )
    return count


def _anchor(found: list[Checkpoint], first: Segment) -> Checkpoint | None:
    """The checkpoint that anchors a log already compacted (its first segment is not 1)."""
    if first.number == 1:
        return None
    for cp in found:
        bounds = [cp.payload["cut"], *cp.payload.get("segments", [])]
        if any(int(b["segment"]) + 1 == first.number and int(b["seq"]) + 1 == first.first_seq for b in bounds):
            return cp
    return None


def _revocation(path: Path, seq: int) -> str | None:
    """The key id a key record revokes (None for a rotation): key records are rare, decoded alone."""
    for _, k_seq, _, _, line in raw.lines(path.parent.parent if path.parent.name == "archive" else path.parent, seq):
        if k_seq == seq:
            body = orjson.loads(line)
            return str(body.get("key_id")) if body.get("action") == "revoke" else None
    return None


def _walk(log: Path, moved: list[Segment], pending: set[str]) -> dict[str, Any]:
    """Seals, each segment's end (with the intents pending there) and revocations in `moved`."""
    seals: list[list[Any]] = []
    ends: list[dict[str, Any]] = []
    for seg in moved:
        for seq, kind, digest, wal_id, closes in raw.summary(seg.path, seg.path.parent.name == "archive"):
            if kind == "intent":
                pending.add(str(wal_id))
            elif kind == "completion":
                pending.discard(str(wal_id))
            elif kind == "key":
                revoked = _revocation(seg.path, seq)
                if revoked:
                    raise _refuse(f"key {revoked} was revoked at seq {seq}, inside the range compacted")
            elif kind == "seal":
                seals.append([seq, digest])
                if closes:
                    ends.append({"segment": seg.number, "seq": seq, "hash": digest, "pending": sorted(pending)})
    return {"seals": seals, "ends": ends}


def plan(log: str | os.PathLike[str], before: str, *, cold: str | os.PathLike[str] | None = DEFAULT_COLD) -> Plan:
    """What compacting the log at `log` before `before` (a snapshot name or a seq) would do.
    `cold`: where segments go (relative to the log directory, or absolute); None drops them."""
    log = Path(log)
    validated(log)
    found = checkpoints(log)
    interrupted = [cp for cp in found if not cp.completed]
    if interrupted:  # a compaction a crash stopped is finished first, whatever `before` says
        return resume_plan(log, interrupted[-1], checked=True)
    before_seq, snapshot, roots = _before(log, before)
    segs = _segments(log)
    count = _cut(segs, before_seq, before)
    prior = _anchor(found, segs[0])
    pending = set(prior.payload.get("pending", [])) if prior else set()
    if prior is not None:  # the seals of earlier compactions are carried over
        bounds = [prior.payload["cut"], *prior.payload.get("segments", [])]
        start = next(b for b in bounds if int(b["segment"]) + 1 == segs[0].number)
        pending = set(start.get("pending") or prior.payload.get("pending", []))
    moved = segs[:count]
    walked = _walk(log, moved, pending)
    ends = walked["ends"]
    if len(ends) != count:
        raise _refuse(f"a compacted segment does not end with a closing seal ({len(ends)} of {count})")
    cut = ends[-1]
    earlier = seal_list.load(log, prior.payload["seals"]) if prior else []
    carried = [s for s in earlier if int(s[0]) < moved[0].first_seq]
    data, seals_ref = seal_list.encode(carried + walked["seals"])
    first_seq = prior.first_seq if prior else moved[0].first_seq
    cold_path = None if cold is None else (Path(cold) if Path(cold).is_absolute() else log / cold)
    payload = {
        "format": FORMAT,
        "cut": {"segment": cut["segment"], "seq": cut["seq"], "hash": cut["hash"]},
        "pending": cut["pending"],
        "segments": ends,
        "range": {"first_seq": first_seq, "last_seq": cut["seq"], "first_segment": moved[0].number},
        "seals": seals_ref,
        "snapshot": snapshot,
        "roots": roots,
        "cold": str(cold_path) if cold_path is not None else None,
    }
    garbage = unreferenced(log, cut["seq"])
    return Plan(log, before, before_seq, moved, segs[count].number, payload, garbage, cold_path, data)


def resume_plan(log: str | os.PathLike[str], cp: Checkpoint, *, checked: bool = False) -> Plan:
    """The plan of a compaction a crash interrupted after its checkpoint was written: the
    checkpoint's segments still in the log, and the blobs nothing after its cut references."""
    log = Path(log)
    if not checked:
        validated(log)
    cut = cp.payload["cut"]
    segs = _segments(log)
    moved = [s for s in segs[:-1] if s.number <= int(cut["segment"])]
    retained = next((s.number for s in segs if s.number > int(cut["segment"])), segs[-1].number)
    cold = Path(cp.payload["cold"]) if cp.payload.get("cold") else None
    before = str(cut["seq"] + 1)
    garbage = unreferenced(log, cut["seq"])
    return Plan(log, before, cut["seq"] + 1, moved, retained, cp.payload, garbage, cold, resumes=cp)


__all__ = ["DEFAULT_COLD", "Plan", "Segment", "plan", "resume_plan", "validated"]
