"""Snapshots: a named record in the log of the state digests of the data root, the STAC catalog
and the graph store at a point, taken only when those roots hold exactly what the log says.

    from kfm_wal import snapshots
    snap = snapshots.create(wal, "before-etl")      # refused on a write around the log
    snapshots.snapshots("data/wal")                 # every snapshot, in the order taken
    snapshots.find("data/wal", "before-etl").digests

Modules: `record` (the record's format, reading snapshots back), `roots` (which roots, their
digests), `audit` (the roots against the log, which a rollback starts with too), `take` (the
append), `errors`. `kfm_wal.rollback` returns the roots to a snapshot."""

from __future__ import annotations

from .errors import SnapshotError
from .record import FORMAT, OPERATION, Snapshot, check_name, find, is_snapshot_intent, snapshots
from .roots import Root, RootDigest, digests, keyed, roots_of
from .take import create

__all__ = [
    "FORMAT",
    "OPERATION",
    "Root",
    "RootDigest",
    "Snapshot",
    "SnapshotError",
    "check_name",
    "create",
    "digests",
    "find",
    "is_snapshot_intent",
    "keyed",
    "roots_of",
    "snapshots",
]
