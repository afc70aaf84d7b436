"""What the demo shows of snapshots and rollback: a snapshot taken before its ETL step, and, once
the pipeline has run, the plan of a rollback to it (shown, never applied: the demo's output stays
for the user to look at). `kfm-wal rollback DIR --to NAME` shows the same plan in full."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..snapshots import SnapshotError, create
from ..wal import Wal
from .errors import RollbackError
from .plan import build

T = TypeVar("T")
SHOWN = 3  # operations of the plan listed; the rest are counted
ACTOR = {"type": "system", "id": "kfm-demo"}


def around(wal: Wal, pipeline: Callable[[], T], echo: Callable[[str], Any] | None) -> T:
    """Snapshot, run `pipeline`, show the rollback plan back to the snapshot; returns what the
    pipeline returns. A snapshot refused (the roots were changed around the log since the last
    run, which the pipeline puts right) is said and the pipeline runs all the same."""
    say = echo or (lambda line: None)
    name = f"before-etl-seq{wal.head[0]}"
    try:
        snap = create(wal, name, actor=ACTOR, telemetry={"id": f"kfm-demo/snapshot/{name}"})
    except SnapshotError as e:
        say(f"  snapshot: not taken: {e}")
        return pipeline()
    say(f"  snapshot: {snap.name} at seq {snap.at_seq}, before the ETL step ({snap.state_hash[:19]})")
    out = pipeline()
    try:
        plan = build(wal.path, name, check_roots=False)  # the demo replays its whole log at the end
    except RollbackError as e:
        say(f"  rollback plan to {name}: {e}")
        return out
    steps = plan.reversals
    say(f"  rollback plan to {name} (not applied): {len(steps)} operation(s) to reverse, newest first")
    for s in steps[:SHOWN]:
        say(f"    seq {s.seq} {s.operation} {s.wal_id}: {'; '.join(s.what[:2])}" + (" ..." if len(s.what) > 2 else ""))
    if len(steps) > SHOWN:
        say(f"    ... and {len(steps) - SHOWN} more (kfm-wal rollback {wal.path} --to {name})")
    return out


__all__ = ["around"]
