"""After a crash: settle the file operations whose intent has no completion.

A pending operation may have run none, some or all of its actions. Recovery rolls each one back
to its pre state (the log never recorded it as done, so the pipeline will retry it) and records
the outcome: "refused" when nothing had run, "reversed" when something had and was undone. An
operation whose files are in a state it could not have produced (someone else changed them) is
left pending and reported, never overwritten."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import WalError
from ..reader import Record
from ..wal import Wal
from . import files
from .blobs import BlobStore
from .contents import Contents
from .digests import ABSENT
from .paths import FileRoot


@dataclass(frozen=True)
class Recovered:
    wal_id: str
    status: str  # "refused", "reversed", or "pending" (left alone)
    message: str


def pending(wal: Wal) -> list[Record]:
    """Intents of file operations (recorded by kfm_wal.ops) that have no completion."""
    done = {r.wal_id for r in wal.records(kind="completion")}
    return [
        r
        for r in wal.records(kind="intent")
        if r.wal_id not in done and r.body["payload"].get("format") == files.PAYLOAD_FORMAT
    ]


def _reachable(pre: Mapping[str, str], actions: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Every state each path passes through while the actions run, the partial runs included."""
    state, seen = dict(pre), {p: {d} for p, d in pre.items()}
    for action in actions:
        files.simulate(state, action)
        for p, d in state.items():
            seen[p].add(d)
    return seen


def _settle(intent: Record, root: FileRoot, blobs: BlobStore) -> tuple[Recovered, dict[str, Any] | None]:
    wal_id = str(intent.wal_id)
    steps = intent.body["reversal"]["steps"]
    pre = {s["path"]: s["blob"] if s["type"] == "file.restore" else ABSENT for s in steps}
    try:
        now = root.observe(pre)
    except WalError as e:
        return Recovered(wal_id, "pending", f"left pending: {e}"), None
    if now == pre:
        why = "not executed: the process stopped before running it (found at recovery)"
        return Recovered(wal_id, "refused", why), {"wal_id": wal_id, "status": "refused", "error": why}
    reachable = _reachable(pre, intent.body["payload"]["actions"])
    foreign = sorted(p for p, d in now.items() if d not in reachable[p])
    if foreign:
        return Recovered(wal_id, "pending", f"left pending: {foreign[0]} holds bytes this operation never wrote"), None
    try:
        files.apply_steps(root, Contents.of_payload(blobs, intent.body["payload"]), steps)
    except Exception as e:  # reported, left pending: a later recovery run can retry (steps are idempotent)
        return Recovered(wal_id, "pending", f"left pending: rollback failed: {type(e).__name__}: {e}"), None
    why = "interrupted: the process stopped mid-operation; rolled back at recovery"
    return Recovered(wal_id, "reversed", why), {
        "wal_id": wal_id,
        "status": "reversed",
        "error": why,
        "detail": {"recovered": True},
    }


def recover(
    wal: Wal, *, root: FileRoot | str | os.PathLike[str] | None = None, blobs: BlobStore | None = None
) -> list[Recovered]:
    """Roll back every pending file operation and record the outcomes in one group commit.
    `root` defaults to the data root recorded in each intent."""
    store = blobs or BlobStore.for_log(wal.path)
    out: list[Recovered] = []
    completions: list[dict[str, Any]] = []
    for intent in pending(wal):
        where = root if root is not None else intent.body["payload"]["root"]
        recovered, completion = _settle(intent, where if isinstance(where, FileRoot) else FileRoot(where), store)
        out.append(recovered)
        if completion is not None:
            completions.append(completion)
    if completions:
        wal.complete_many(completions)
    return out


__all__ = ["Recovered", "pending", "recover"]
