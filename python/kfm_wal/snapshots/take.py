"""Taking a snapshot: refused unless the name is free and the roots hold exactly what the log says
they hold (the whole log replayed into a scratch sandbox and compared with the real roots, as
`kfm-wal replay --check` does: a write around the log shows there, and is named); then the
record (record.py) is appended, intent and completion, each durable."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..ops.digests import state_hash
from ..wal import Wal
from .audit import audit
from .errors import SnapshotError
from .record import FORMAT, NONE_STEP, OPERATION, Snapshot, check_name, snapshots
from .roots import Root, digests, keyed, roots_of

DEFAULT_ACTOR = {"type": "system", "id": "kfm-wal-snapshot"}


def _refused(name: str, why: str) -> SnapshotError:
    err = SnapshotError(f"snapshot {name!r} refused, nothing written: {why}")
    err.name = name
    return err


def _audited(wal: Wal, name: str) -> None:
    """Refuse unless the real roots equal the log's replay."""
    found = audit(wal.path)
    if found.problem is not None:
        raise _refused(name, f"written around the log: {found.problem}" if found.around else found.problem)


def create(
    wal: Wal,
    name: str,
    *,
    actor: Mapping[str, Any] = DEFAULT_ACTOR,
    roots: Iterable[Root] = (),
    telemetry: Mapping[str, Any] | None = None,
) -> Snapshot:
    """Take the snapshot `name` of the roots of the log `wal` writes (record.py, roots.py; `roots`
    adds roots the log does not name yet). No other writer may append to the log meanwhile: the
    process holds the log's lock, and the caller's threads are the caller's to hold back."""
    started = time.perf_counter()
    check_name(name)
    for snap in snapshots(wal.path):
        if snap.name == name:
            err = SnapshotError(
                f"snapshot {name!r} exists already (seq {snap.seq}, taken {snap.timestamp}): choose another name"
            )
            err.name = name
            raise err
    _audited(wal, name)
    head_seq, head_hash, _, _ = wal.head
    found = digests(roots_of(wal.path, roots), wal.path)
    state = keyed(found)
    hashed = state_hash(state)
    entry = {
        "operation": OPERATION,
        "actor": dict(actor),
        "pre_state_hash": hashed,
        "post_state_expected": hashed,
        "payload": {
            "format": FORMAT,
            "name": name,
            "at": {"seq": head_seq, "hash": head_hash},
            "roots": [d.as_dict() for d in found],
        },
        "reversal": {"steps": [dict(NONE_STEP)]},
        "tier": 0,
        "governance": {"care": "public"},
        "lineage_links": [],
        "telemetry": dict(telemetry or {"id": f"snapshot/{name}"}),
    }
    intent = wal.append(entry)
    done = wal.complete(
        intent.wal_id,
        "succeeded",
        post_state_hash=hashed,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        detail={"snapshot": name},
    )
    return Snapshot(
        name=name,
        wal_id=intent.wal_id,
        seq=intent.seq,
        completed_seq=done.seq,
        at_seq=head_seq,
        at_hash=head_hash,
        roots=tuple(found),
        timestamp=next(wal.records(start_seq=intent.seq, end_seq=intent.seq)).timestamp,
        actor=dict(actor),
    )


__all__ = ["DEFAULT_ACTOR", "create"]
