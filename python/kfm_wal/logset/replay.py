"""Replay of a log set: every stream's operations into one sandbox, in the set's order
(`order`: a linked operation after the one it links to, otherwise by time, stream id, seq).
The set must verify first (each stream and its links): a replay never executes a record that
fails verification."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from ..ops.blobs import BlobStore
from ..replay.executor import Halt, Recorded, replay_one
from ..replay.report import ReplayError, ReplayReport
from ..replay.sandbox import Sandbox, describe_roots
from ..replay.selection import select
from ..storage.store import is_url, local_path
from .manifest import LogSet, load
from .order import order
from .verify import facts_of, verify


def _blobs(location: str) -> BlobStore:
    """The stream's blob store: beside a local log (or a file:// archive); none in object storage."""
    local = local_path(location) if is_url(location) else location
    return BlobStore.for_log(local if local is not None else Path(os.devnull) / "no-blobs")


def replay_set(manifest: str | os.PathLike[str] | LogSet, sandbox: str | os.PathLike[str]) -> ReplayReport:
    """Re-execute the operations of every stream of the set into `sandbox` (new or empty), in the
    set's order; halt at the first mismatch (the sandbox is then kept as it was before it).
    Raises ReplayError when the set fails verification, LogSetError for an unusable manifest."""
    logset = manifest if isinstance(manifest, LogSet) else load(manifest)
    checked = verify(logset)
    if not checked.ok:
        first = checked.findings[0]
        raise ReplayError(
            f"the log set fails validation ({first.code} at {first.location()}: {first.message}): replay "
            "never executes a record that fails verification"
        )
    ops: dict[tuple[str, str], Recorded] = {}
    for stream, location in logset.streams.items():
        for selected in select(location).operations:
            ops.setdefault((stream, selected.wal_id), selected)
    blobs = {stream: _blobs(location) for stream, location in logset.streams.items()}
    box = Sandbox.create(Path(sandbox), f"logset:{Path(logset.path).name}", resume=False)
    report = ReplayReport(logset.path, str(box.path))
    counts: Counter[str] = Counter()
    try:
        for step in order(facts_of(logset, dict.fromkeys(logset.streams, True))):
            op = ops.get((step.stream, step.intent.wal_id))
            if op is None or not op.replayable:
                report.skipped.append(
                    {"stream": step.stream, "seq": step.intent.place.seq, "wal_id": step.intent.wal_id}
                )
                continue
            if op.completion is None:
                report.pending.append({"stream": step.stream, "seq": op.intent.seq, "wal_id": op.wal_id})
                continue
            try:
                replay_one(op, box, blobs[step.stream])
            except Halt as h:
                report.halted = h.mismatch
                break
            counts[str(op.status)] += 1
    except BaseException:
        box.close()
        raise
    report.replayed, report.roots, report.digests = dict(counts), describe_roots(box), box.digests()
    box.save()
    box.close()
    return report


__all__ = ["replay_set"]
