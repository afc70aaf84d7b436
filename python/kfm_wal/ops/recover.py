"""After a crash: settle the operations whose intent has no completion, of every kind (files,
STAC, graph, custom, mixed).

A pending operation may have run none, some or all of its actions. Each one is rebuilt from its
intent (recover_parts.py) and judged by the state of its targets (recover_settle.py): in its post
state it is recorded "succeeded"; in its pre state "refused" (not run), or re-executed when asked
(`reexecute=True`); part way, it is reversed from its before-images ("reversed"); in any other
state (someone else changed a target) it is left pending and reported, never overwritten. All the
completions of one recovery go in one group commit, after every change it made is durable.

Two operations pending on the same target cannot be judged one by one (the state one left is
the other's starting point): both are left pending for a person."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..reader import Record, records
from ..wal import Wal
from . import durable
from .blobs import BlobStore
from .paths import FileRoot
from .recover_parts import Resumed, recorded_by_ops, resume
from .recover_settle import Recovered, Settled, left, settle

RootLike = FileRoot | str | os.PathLike[str]


def _pending(found: Iterable[Record]) -> list[Record]:
    """Intents without a completion, in seq order (one pass over the log)."""
    intents: dict[str, Record] = {}
    done: set[str] = set()
    for r in found:
        if r.kind == "intent" and r.wal_id is not None:
            intents.setdefault(r.wal_id, r)
        elif r.kind == "completion" and r.wal_id is not None:
            done.add(r.wal_id)
    return [r for w, r in intents.items() if w not in done]


def pending(wal: Wal) -> list[Record]:
    """Intents recorded by kfm_wal.ops (any kind) that have no completion."""
    return [r for r in _pending(wal.records()) if recorded_by_ops(r)]


def _skipped(intent: Record) -> Settled:
    why = "not recorded by kfm_wal.ops: its targets are unknown; settle it with 'kfm-wal complete'"
    return Settled(Recovered(str(intent.wal_id), "skipped", why, None, intent.seq, intent.operation))


def _overlaps(resumed: list[Resumed]) -> dict[str, str]:
    """wal_id -> the other pending operation it shares a target with (for each such pair)."""
    owner: dict[str, str] = {}
    shared: dict[str, str] = {}
    for r in resumed:
        for key in r.global_keys():
            other = owner.setdefault(key, r.wal_id)
            if other != r.wal_id:
                shared.setdefault(r.wal_id, other)
                shared.setdefault(other, r.wal_id)
    return shared


def _settle_all(
    found: Iterable[Record], blobs: BlobStore, root: RootLike | None, reexecute: bool, apply: bool
) -> list[Settled]:
    where = None if root is None else root if isinstance(root, FileRoot) else FileRoot(root)
    out: list[Settled | Resumed] = []
    roots: dict[object, object] = {}  # each root opened once for the whole recovery
    for intent in _pending(found):
        if not recorded_by_ops(intent):
            out.append(_skipped(intent))
            continue
        try:
            out.append(resume(intent, blobs, where, roots))
        except Exception as e:  # an unknown kind, an unregistered custom action, a malformed intent
            out.append(left(intent, f"cannot be judged: {type(e).__name__}: {e}"))
    shared = _overlaps([r for r in out if isinstance(r, Resumed)])
    settled: list[Settled] = []
    for item in out:
        if not isinstance(item, Resumed):
            settled.append(item)
        elif item.wal_id in shared:
            why = f"pending operation {shared[item.wal_id]} touches the same targets; settle them by hand"
            settled.append(left(item.intent, why, kinds=item.kinds()))
        else:
            settled.append(settle(item, blobs, reexecute=reexecute, apply=apply))
    return settled


def recover(
    wal: Wal,
    *,
    reexecute: bool = False,
    dry_run: bool = False,
    root: RootLike | None = None,
    blobs: BlobStore | None = None,
) -> list[Recovered]:
    """Settle every pending intent of `wal` (see the module doc) and record the outcomes in one
    group commit. `reexecute`: run an operation found in its pre state instead of recording it
    as not run. `dry_run`: only say what would be done (nothing changed, nothing recorded).
    `root` stands in for the data root recorded in files-1 operations."""
    store = blobs or BlobStore.for_log(wal.path)
    with durable.deferred_dir_sync():  # each directory fsynced once, before the completions
        settled = _settle_all(wal.records(), store, root, reexecute, apply=not dry_run)
    completions = [s.completion for s in settled if s.completion is not None]
    if completions:
        wal.complete_many(completions)
    return [s.recovered for s in settled]


def plan(log_dir: str | os.PathLike[str], *, reexecute: bool = False, root: RootLike | None = None) -> list[Recovered]:
    """What `recover` would do, read from the log at `log_dir` without opening it for writing
    (no key needed; a torn tail is not repaired, its records are not read)."""
    return [
        s.recovered for s in _settle_all(records(log_dir), BlobStore.for_log(Path(log_dir)), root, reexecute, False)
    ]


def summary(found: list[Recovered]) -> dict[str, Any]:
    """Counts by status, and how many are left for a person."""
    counts: dict[str, int] = {}
    for r in found:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {"counts": counts, "left_pending": sum(r.needs_person for r in found)}


__all__ = ["Recovered", "pending", "plan", "recover", "summary"]
