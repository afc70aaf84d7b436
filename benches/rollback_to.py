"""Section 11 of benches/run.py: rollback to a snapshot (`kfm_wal.rollback.apply`), operations/s.

    rollback --to SNAPSHOT     N guarded overwrites of N files rolled back as one governed tier-4
                               rollback: the audit of the roots against the log (a replay of the
                               whole log), the plan, the approvals checked, the rollback's intent,
                               one recorded undo per operation (intent, before-state check, the
                               before-image restored: temp file, fsync, rename, directory fsync,
                               completion), the roots' digests compared, the completion
    direct restore + fsync     the peer: the same N before-images written back directly, each to a
                               temp file, fsynced, renamed over the file, the directory fsynced

Set up untimed: N files written as operations (ops.run_batch), the snapshot, N operations
overwriting them, a snapshot of the state the rollback starts from (the policy's "snapshot
required first"), the two approvals signed. Only `rollback.apply` / the direct restores are timed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kfm_wal
import ops_writes
from formatting import operation_rows
from harness import paired_rounds, settle
from kfm_wal import ops, rollback, snapshots
from kfm_wal.governance import approve, default_policy
from kfm_wal.keys import Keyring

ROLLBACK = "rollback --to SNAPSHOT"
DIRECT = "direct restore + fsync"
PEERS = (ROLLBACK, DIRECT)
ACTOR = {"type": "developer", "id": "bench-rollback"}


def _batch(wal: kfm_wal.Wal, root: Path, work: list[tuple[str, bytes]], batch: int, tag: str) -> None:
    for i in range(0, len(work), batch):
        specs = [
            ops.OperationSpec([ops.Write(n, b)], ops_writes.ACTOR, 0, ops_writes.GOVERNANCE, {"id": f"{tag}/{i + k}"})
            for k, (n, b) in enumerate(work[i : i + batch])
        ]
        ops.run_batch(wal, specs, root=root)


def _approvals(wal: kfm_wal.Wal) -> tuple[list[dict[str, str]], Keyring]:
    maint, steward = kfm_wal.keys.generate(), kfm_wal.keys.generate()
    ring = Keyring(()).with_key(maint, ("maintainer",)).with_key(steward, ("data-steward",))
    plan = rollback.plan_of(wal.path, "before")
    request = rollback.request_for(
        plan, ACTOR, rollback.governance_for(plan, snapshot="after", cross_irreversible=False)
    )
    return [approve(request, maint, "maintainer"), approve(request, steward, "data-steward")], ring


def _rollback(d: Path, root: Path, old: list[tuple[str, bytes]], new: list[tuple[str, bytes]], batch: int) -> float:
    wal = kfm_wal.Wal.create(d / "wal", kfm_wal.keys.SigningKey.from_seed(ops_writes.KEY_SEED), durability="fsync")
    _batch(wal, root, old, batch, "old")
    snapshots.create(wal, "before")
    _batch(wal, root, new, batch, "new")
    snapshots.create(wal, "after")
    approvals, ring = _approvals(wal)
    settle()
    t0 = time.perf_counter()
    result = rollback.apply(wal, "before", actor=ACTOR, approvals=approvals, policy=default_policy(), keyring=ring)
    dt = time.perf_counter() - t0
    wal.close()
    if result.status != "succeeded" or len(result.undone) != len(new):
        raise RuntimeError(f"rollback: {result.status}, {len(result.undone)} of {len(new)} reversed: {result.error}")
    return dt


def _direct(root: Path, old: list[tuple[str, bytes]], new: list[tuple[str, bytes]]) -> float:
    for name, data in new:
        (root / name).write_bytes(data)
    os.sync()
    t0 = time.perf_counter()
    dfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name, data in old:
            tmp = root / f".{name}.restore.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, root / name)
            os.fsync(dfd)
    finally:
        os.close(dfd)
    return time.perf_counter() - t0


def run(
    *,
    ops_count: int,
    batch: int,
    size: int,
    rounds: int,
    seed: int,
    fresh: Callable[[str], Path],
    remove: Callable[[Path], None],
    say: Callable[[str], None],
) -> dict[str, Any]:
    old = ops_writes.contents(ops_count, size, seed)
    new = [(n, d[::-1]) for n, d in old]  # the same names, other bytes

    def measure(name: str, d: Path, _round: int) -> float:
        root = d / "processed"
        root.mkdir(parents=True)
        dt = _rollback(d, root, old, new, batch) if name == ROLLBACK else _direct(root, old, new)
        wrong = [n for n, data in old[:: max(1, len(old) // 50)] if (root / n).read_bytes() != data]
        if wrong:
            raise RuntimeError(f"{name}: {wrong[0]} not restored")
        return dt

    times = paired_rounds(
        "rollback to a snapshot",
        PEERS,
        rounds,
        measure,
        fresh=fresh,
        remove=remove,
        say=say,
        size=lambda r: f" ({ops_count:,} operations)",
    )
    return ops_writes.operation_result(times, ops_count, ROLLBACK, DIRECT, batch=batch, file_bytes=size, rounds=rounds)


def render(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    txt = [
        f"11. Rollback to a snapshot: {res['operations']:,} overwrites of {res['file_bytes']} B files reversed, "
        f"median of {res['rounds']} round(s), operations/s"
    ]
    md = [
        "## 11. Rollback to a snapshot (`kfm_wal.rollback.apply`)",
        "",
        f"{res['operations']:,} guarded overwrites of {res['file_bytes']} B files (Wal durability `fsync`), rolled "
        "back to the snapshot taken before them as one governed tier-4 rollback: audit of the roots against the "
        "log (the whole log replayed), plan, approvals checked, the rollback's intent, one recorded undo per "
        "operation (each restoring its before-image durably), the roots' digests compared, the completion. The "
        "peer writes the same before-images back directly (temp file, fsync, rename, directory fsync each). "
        f"Median of {res['rounds']} interleaved round(s) after a warm-up.",
        "",
        "| peer | operations/s | min-max | seconds | time / direct |",
        "|---|---:|---:|---:|---:|",
    ]
    operation_rows(res, DIRECT, txt, md)
    txt.append("")
    md.append("")
    return txt, md


if __name__ == "__main__":  # one measurement on its own: python benches/rollback_to.py [N]
    import shutil
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
    base = Path(tempfile.mkdtemp(prefix="kfm-bench-rollback-", dir=Path(__file__).resolve().parents[1]))
    counter = iter(range(1_000_000))
    try:
        res = run(
            ops_count=n,
            batch=1_000,
            size=200,
            rounds=1,
            seed=7,
            fresh=lambda name: base / f"{name}-{next(counter)}",
            remove=lambda p: shutil.rmtree(p, ignore_errors=True),
            say=print,
        )
        print("\n".join(render(res)[0]))
    finally:
        shutil.rmtree(base, ignore_errors=True)
