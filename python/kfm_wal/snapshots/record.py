"""The snapshot record: an intent and its completion, operation "snapshot", payload format
`kfm-wal-snapshot/1` (docs/FORMAT-conventions.md, "Convention: snapshots"), and reading the
snapshots a log holds.

    intent.payload = {"format": "kfm-wal-snapshot/1", "name": NAME,
                      "at": {"seq": S, "hash": H},           # the log's head when taken
                      "roots": [{"role", "path", "digest", "entries"}, ...]}
    intent.pre_state_hash = intent.post_state_expected = state_hash({"<kind>:<path>": digest})
    intent.reversal = {"steps": [{"type": "snapshot.none"}]}  # a snapshot changes no data
    completion = {"status": "succeeded", "post_state_hash": the same, "detail": {"snapshot": NAME}}

A snapshot exists once its completion says succeeded; an intent without one (the process stopped
between the two) is no snapshot and its name stays free."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..ops.digests import state_hash
from ..reader import Record, records
from .errors import SnapshotError
from .roots import RootDigest, keyed

FORMAT = "kfm-wal-snapshot/1"
OPERATION = "snapshot"
NONE_STEP = {"type": "snapshot.none"}
# A letter first, so that a name is never a seq (digits) and never a wal_id (a UUID is refused
# apart): `rollback --to` takes any of the three.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._:@+-]{0,127}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or _UUID.match(name):
        err = SnapshotError(
            f"snapshot name {name!r} refused: a letter, then up to 127 letters, digits or . _ : @ + - "
            "(and not a wal_id)"
        )
        err.name = name if isinstance(name, str) else None
        raise err
    return name


def is_snapshot_intent(body: Mapping[str, Any]) -> bool:
    payload = body.get("payload")
    return body.get("operation") == OPERATION and isinstance(payload, dict) and payload.get("format") == FORMAT


@dataclass(frozen=True)
class Snapshot:
    name: str
    wal_id: str
    seq: int  # of the intent
    completed_seq: int  # of its (succeeded) completion
    at_seq: int  # the log's head when it was taken: the state is that of every record up to it
    at_hash: str
    roots: tuple[RootDigest, ...]
    timestamp: str
    actor: dict[str, Any]

    @property
    def digests(self) -> dict[str, str]:
        return keyed(self.roots)

    @property
    def state_hash(self) -> str:
        return state_hash(self.digests)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "wal_id": self.wal_id,
            "seq": self.seq,
            "completed_seq": self.completed_seq,
            "at": {"seq": self.at_seq, "hash": self.at_hash},
            "timestamp": self.timestamp,
            "actor": self.actor,
            "state_hash": self.state_hash,
            "roots": [r.as_dict() for r in self.roots],
        }


def _parse(intent: Record, completion: Record) -> Snapshot:
    body = intent.body
    payload = body["payload"]
    return Snapshot(
        name=str(payload["name"]),
        wal_id=str(body["wal_id"]),
        seq=intent.seq,
        completed_seq=completion.seq,
        at_seq=int(payload["at"]["seq"]),
        at_hash=str(payload["at"]["hash"]),
        roots=tuple(RootDigest.from_dict(r) for r in payload["roots"]),
        timestamp=intent.timestamp,
        actor=dict(body["actor"]),
    )


def collect(found: Iterable[Record]) -> list[Snapshot]:
    """The snapshots among `found` (records in seq order), in the order they were taken; the first
    succeeded snapshot of a name is the one that counts."""
    intents: dict[str, Record] = {}
    out: list[Snapshot] = []
    names: set[str] = set()
    for r in found:
        if r.kind == "intent" and is_snapshot_intent(r.body):
            intents[str(r.wal_id)] = r
        elif r.kind == "completion" and r.wal_id in intents:
            intent = intents.pop(str(r.wal_id))
            if r.body.get("status") == "succeeded":
                snap = _parse(intent, r)
                if snap.name not in names:
                    names.add(snap.name)
                    out.append(snap)
    return out


def snapshots(log: str | os.PathLike[str]) -> list[Snapshot]:
    """Every snapshot of the log at `log`, in the order taken."""
    return collect(records(log))


def find(log: str | os.PathLike[str], name: str) -> Snapshot:
    """The snapshot `name` of the log at `log`; SnapshotError when there is none."""
    for snap in snapshots(log):
        if snap.name == name:
            return snap
    err = SnapshotError(f"no snapshot named {name!r} in {log} (kfm-wal snapshot list shows them)")
    err.name = name
    raise err


__all__ = [
    "FORMAT",
    "NONE_STEP",
    "OPERATION",
    "Snapshot",
    "check_name",
    "collect",
    "find",
    "is_snapshot_intent",
    "snapshots",
]
