"""The checkpoint record: an intent (operation "checkpoint", payload `kfm-wal-checkpoint/1`,
docs/FORMAT.md 6.10 and FORMAT-conventions.md "Convention: compaction") and its completion, and
reading the checkpoints a log holds.

    payload = {"format": "kfm-wal-checkpoint/1",
               "cut": {"segment": K, "seq": S, "hash": H},        # the chain head at the cut
               "pending": [wal_id, ...],                            # intents pending at the cut
               "segments": [{"segment", "seq", "hash", "pending"}, ...],  # each compacted segment's end
               "range": {"first_seq": F, "last_seq": S, "first_segment": A},
               "seals": {"blob": D, "count": N, "last": [seq, hash]},  # every seal from F to S (seal_list.py)
               "snapshot": {"name": N, "at": {"seq", "hash"}} | null,
               "roots": [{"role", "path", "digest", "entries"}, ...],  # the snapshot's state digests
               "cold": PATH | null}                                 # where the segments went (null: dropped)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .. import _core
from ..ops.digests import state_hash
from . import raw

FORMAT = "kfm-wal-checkpoint/1"
OPERATION = "checkpoint"
NONE_STEP = {"type": "checkpoint.none"}
ACTOR = {"type": "system", "id": "kfm-wal-compact"}


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint found in a log: where its intent is, its payload, whether it completed."""

    wal_id: str
    seq: int
    payload: dict[str, Any]
    completed: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    completed_seq: int | None = None

    @property
    def cut_segment(self) -> int:
        return int(self.payload["cut"]["segment"])

    @property
    def cut_seq(self) -> int:
        return int(self.payload["cut"]["seq"])

    @property
    def first_seq(self) -> int:
        return int(self.payload.get("range", {}).get("first_seq", 1))


def is_checkpoint(body: Mapping[str, Any]) -> bool:
    payload = body.get("payload")
    return body.get("operation") == OPERATION and isinstance(payload, dict) and payload.get("format") == FORMAT


def checkpoints(log: str | os.PathLike[str]) -> list[Checkpoint]:
    """Every checkpoint of the log at `log`, in log order, with whether its completion is there."""
    found: dict[str, Checkpoint] = {}
    needle = FORMAT.encode()
    for number, first_seq, path, archived in _core.segments(Path(log)):
        # a segment is decoded only when it holds a checkpoint or may complete one: a search of
        # its bytes, not a record object per line
        data = _core.segment_bytes(path, archived)
        if needle not in data and not any(w.encode() in data for w, cp in found.items() if not cp.completed):
            continue
        sealed, _ = _core.read_segment(path, number, first_seq, archived)
        for seq, kind, _, _, line in sealed:
            if kind == "intent" and needle in line:
                body = orjson.loads(line)
                if is_checkpoint(body):
                    found[str(body["wal_id"])] = Checkpoint(str(body["wal_id"]), seq, body["payload"])
            elif kind == "completion" and found and raw.wal_id_of(line) in found:
                body = orjson.loads(line)
                cp = found[str(body["wal_id"])]
                detail = body.get("detail") or {}
                found[cp.wal_id] = Checkpoint(cp.wal_id, cp.seq, cp.payload, True, dict(detail), seq)
    return list(found.values())


def entry(payload: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint intent for `payload`: a tier-0 record that changes no data."""
    roots = {f"{'graph' if r['role'] == 'graph' else 'file'}:{r['path']}": r["digest"] for r in payload["roots"]}
    hashed = state_hash(roots)
    cut = payload["cut"]
    return {
        "operation": OPERATION,
        "actor": dict(ACTOR),
        "pre_state_hash": hashed,
        "post_state_expected": hashed,
        "payload": payload,
        "reversal": {"steps": [dict(NONE_STEP)]},
        "tier": 0,
        "governance": {"care": "public"},
        "lineage_links": [],
        "telemetry": {"id": f"checkpoint/{cut['segment']}/{cut['seq']}"},
    }


__all__ = ["ACTOR", "FORMAT", "OPERATION", "Checkpoint", "checkpoints", "entry", "is_checkpoint"]
