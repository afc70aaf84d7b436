"""Where a rollback goes: `--to` a snapshot name, a wal_id (right after that operation's
completion) or a seq; and the digests the roots must have there.

The point is a seq: the state it names is that of every operation completed at or before it
(what `kfm-wal replay --to SEQ` rebuilds). A snapshot's point is the head of the log when it was
taken; its digests are the ones it recorded. For a wal_id or a seq, the digests are those of the
log replayed up to the point into a scratch sandbox (a root the log had not written to by then is
empty there, since the log explains the whole of every root it writes to)."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import replay
from ..ops import root_state
from ..reader import Record, records
from ..snapshots import Root, Snapshot, snapshots
from ..snapshots.roots import recorded_roots
from .errors import refused

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    given: str  # as the caller gave it
    point: int  # seq: the state of every operation completed at or before it
    snapshot: Snapshot | None = None
    wal_id: str | None = None  # when given as an operation

    @property
    def label(self) -> str:
        if self.snapshot is not None:
            return f"snapshot {self.snapshot.name} (seq {self.point})"
        if self.wal_id is not None:
            return f"operation {self.wal_id} (completed at seq {self.point})"
        return f"seq {self.point}"


def resolve(log: Path, to: str | int, intents: dict[str, Record], completions: dict[str, Record], head: int) -> Target:
    text = str(to)
    if isinstance(to, int) or text.isdigit():
        seq = int(text)
        if not 1 <= seq <= head:
            raise refused(f"--to {text}: the log's seqs run from 1 to {head}", seq=seq)
        return Target(text, seq)
    if _UUID.match(text):
        if text not in intents:
            raise refused(f"--to {text}: no operation with that wal_id in {log}", wal_id=text)
        done = completions.get(text)
        if done is None:
            raise refused(f"--to {text}: that operation has no completion (pending): it names no state", wal_id=text)
        return Target(text, done.seq, wal_id=text)
    for snap in snapshots(log):
        if snap.name == text:
            return Target(text, snap.at_seq, snapshot=snap)
    raise refused(f"--to {text!r}: no snapshot of that name, nor a wal_id or seq, in {log} (kfm-wal snapshot list)")


def expected_digests(log: Path, target: Target, roots: list[Root], current: dict[str, str]) -> dict[str, str]:
    """{root key: digest} the roots must have after rolling back to `target`."""
    if target.snapshot is not None:
        return dict(target.snapshot.digests)
    tmp = Path(tempfile.mkdtemp(prefix="kfm-wal-rollback-"))
    try:
        report = replay.replay(log, tmp / "box", end=target.point, until_failure=True)
        if report.halted is not None:
            raise refused(f"the log does not reproduce its state at {target.label}: {report.halted.message()}")
        mapped = {(r["kind"], str(r["recorded"])): r["dir"] for r in report.roots}
        written = written_roots(log)
        out = {}
        for root in roots:
            where = mapped.get((root.kind, root.path))
            if where is not None:
                out[root.key] = report.digests[where]
            elif (root.kind, root.path) in written:
                out[root.key] = root_state.digest({})
            else:
                out[root.key] = current[root.key]  # a root the log never writes: rollback leaves it
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def written_roots(log: Path) -> set[tuple[str, str]]:
    """(kind, path) of every root the log's operations write to."""
    return {(r.kind, r.path) for rec in records(log, kind="intent") for r in recorded_roots(rec.body)}


__all__ = ["Target", "expected_digests", "resolve", "written_roots"]
