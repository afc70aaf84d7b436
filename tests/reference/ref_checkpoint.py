"""Compacted logs (FORMAT.md 6.10): the checkpoints in a log's sealed parts, whether one anchors
the first segment, and what anchoring changes in the findings (the first segment's numbering and
start findings go; completions of the intents pending at the cut are paired with them)."""

from __future__ import annotations

import re

from ref_bodies import check_body
from ref_grammar import _UUID4

FORMAT = "kfm-wal-checkpoint/1"
_HASH = re.compile(r"sha256:[0-9a-f]{64}")
# the messages ref_verify gives the two findings a checkpoint may anchor away
NUMBERING, START = "first segment numbered", "the log does not start at seq 1 with the zero hash"


def _uint(v) -> bool:
    return type(v) is int and 0 <= v < 2**64


def _boundary(b, pending):
    """(segment, seq, hash hex, pending wal_ids) of one boundary object, else None."""
    if not (_uint(b["segment"]) and _uint(b["seq"]) and isinstance(b["hash"], str)):
        return None
    if not _HASH.fullmatch(b["hash"]):
        return None
    pending = [] if pending is None else pending
    if not isinstance(pending, list) or not all(isinstance(p, str) and _UUID4.fullmatch(p) for p in pending):
        return None
    return (b["segment"], b["seq"], b["hash"][7:], pending)


def cuts_of(body: dict):
    """The boundaries of a checkpoint intent's body (its cut, then each element of `segments`),
    else None (not a checkpoint, or one with a boundary not well formed)."""
    payload = body.get("payload")
    if body.get("operation") != "checkpoint" or not isinstance(payload, dict) or payload.get("format") != FORMAT:
        return None
    cut, segments = payload.get("cut"), payload.get("segments")
    if not isinstance(cut, dict) or set(cut) != {"segment", "seq", "hash"}:
        return None
    out = [_boundary(cut, payload.get("pending"))]
    if segments is not None:
        if not isinstance(segments, list):
            return None
        for b in segments:
            if not isinstance(b, dict) or not {"segment", "seq", "hash"} <= set(b) <= {
                "segment",
                "seq",
                "hash",
                "pending",
            }:
                return None
            out.append(_boundary(b, b.get("pending")))
    return None if None in out else out


def cuts(segs, is_seal) -> list:
    """Every checkpoint's cut in the sealed parts (before the segment's last valid seal), in log order."""
    found = []
    for seg in segs:
        seal_at = max((i for i, ln in enumerate(seg.lines) if is_seal(ln)), default=-1)
        for ln in seg.lines[: max(seal_at, 0)]:
            if ln.status == "good" and ln.kind == "intent" and not check_body("intent", ln.body):
                found.extend(cuts_of(ln.body) or [])
    return found


def anchor(segs, is_seal):
    """The first checkpoint whose cut is exactly what the first segment's first line links to."""
    first = segs[0]
    line0 = first.lines[0] if first.lines and first.lines[0].hash_ok else None
    if first.number <= 1 or line0 is None:
        return None
    for cut in cuts(segs, is_seal):
        if cut[0] + 1 == first.number and cut[1] + 1 == line0.seq and cut[2] == line0.prev:
            return cut
    return None


def settle(found: list, segs, is_seal, intents: dict) -> list:
    """`found` (ref_verify's (rank, offset, phase, n, Error) tuples) as 6.10 leaves it."""
    if not segs or segs[0].number <= 1:
        return found
    cut = anchor(segs, is_seal)
    if cut is None:
        return found
    out, waiting, completed = [], set(cut[3]), set()
    for t in sorted(found, key=lambda t: t[3]):  # in the order they were found: log order
        e = t[4]
        if t[0] == 0 and t[1] == 0 and e.message.startswith((NUMBERING, START)):
            continue
        if e.code == "completion.orphan":
            wid = e.message.rsplit(" ", 1)[-1]
            if wid in waiting:
                waiting.discard(wid)
                completed.add(wid)
                intents[wid] = True
                continue
            if wid in completed:
                e.code = "completion.duplicate"
        out.append(t)
    for wid in waiting:
        intents.setdefault(wid, False)
    return out
