"""Section 9 of benches/run.py: rollback of guarded file operations, operations/s. (Crash
recovery, `ops.recover`, is section 11: benches/recover.py.)

    rollback (ops.undo)       undo of succeeded single-file writes, one `ops.undo` call each: a
                              recorded "rollback" operation (intent, the file deleted, completion)
    direct unlink + dir fsync the peer: the same files removed directly, the directory fsynced after
                              each (what a recorded rollback of a file guarantees)

Operations are created untimed (`ops.run_batch`); only the undo / unlink is timed. The
undos share one Wal, so the first one builds its record index (one scan of the log, ops/lookup.py)
and the others find their intent and completion there: that scan is inside the timed loop.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kfm_wal
import ops_writes
from formatting import operation_rows
from harness import paired_rounds, settle
from kfm_wal import ops

ROLLBACK = "rollback (ops.undo)"
DIRECT = "direct unlink + dir fsync"
PEERS = (ROLLBACK, DIRECT)


def _log(d: Path) -> kfm_wal.Wal:
    return kfm_wal.Wal.create(d / "wal", kfm_wal.keys.SigningKey.from_seed(ops_writes.KEY_SEED), durability="fsync")


# Tier 0: this suite measures the rollback and recovery machinery; what the governance decisions of
# tier >= 1 operations cost is section 8's (ops_writes.py: the guarded peer runs tier 1).
TIER = 0


def _spec(name: str, data: bytes, i: int) -> ops.OperationSpec:
    return ops.OperationSpec(
        [ops.Write(name, data)], ops_writes.ACTOR, TIER, ops_writes.GOVERNANCE, {"id": f"bench/{i}"}
    )


def _rollback(d: Path, root: Path, work: list[tuple[str, bytes]], batch: int) -> float:
    wal = _log(d)
    ids = []
    for i in range(0, len(work), batch):
        chunk = work[i : i + batch]
        ids += [r.wal_id for r in ops.run_batch(wal, [_spec(n, b, i + k) for k, (n, b) in enumerate(chunk)], root=root)]
    settle()
    t0 = time.perf_counter()
    for k, wal_id in enumerate(ids):
        r = ops.undo(wal, wal_id, actor=ops_writes.ACTOR, telemetry={"id": f"bench/undo/{k}"})
        if r.status != "succeeded":
            raise RuntimeError(f"undo {wal_id}: {r.status}: {r.error}")
    dt = time.perf_counter() - t0
    wal.close()
    return dt


def _direct(root: Path, work: list[tuple[str, bytes]]) -> float:
    for name, data in work:
        (root / name).write_bytes(data)
    os.sync()
    t0 = time.perf_counter()
    fd = os.open(root, os.O_RDONLY)
    try:
        for name, _ in work:
            os.unlink(root / name)
            os.fsync(fd)
    finally:
        os.close(fd)
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
    work = ops_writes.contents(ops_count, size, seed)

    def measure(name: str, d: Path, _round: int) -> float:
        root = d / "processed"
        root.mkdir(parents=True)
        dt = _rollback(d, root, work, batch) if name == ROLLBACK else _direct(root, work)
        ops_writes.files_left(name, root, "rolling back")
        return dt

    times = paired_rounds(
        "rollback",
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
        f"9. Rollback: {res['operations']:,} single-file operations of {res['file_bytes']} B, "
        f"median of {res['rounds']} round(s), operations/s"
    ]
    md = [
        "## 9. Rollback (`kfm_wal.ops.undo`)",
        "",
        f"{res['operations']:,} guarded single-file writes of {res['file_bytes']} B (Wal durability `fsync`), "
        "created untimed, then rolled back, timed: `ops.undo` once per operation (each undo is itself a "
        "recorded rollback operation: intent, before-state check, delete, completion); the peer removes the "
        "same files directly with a directory fsync after each (crash recovery: section 11). "
        f"Median of {res['rounds']} interleaved round(s) after a warm-up.",
        "",
        "| peer | operations/s | min-max | seconds | time / direct |",
        "|---|---:|---:|---:|---:|",
    ]
    operation_rows(res, DIRECT, txt, md)
    txt.append("")
    md.append("")
    return txt, md
