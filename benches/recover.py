"""Section 11 of benches/run.py: crash recovery (`kfm_wal.ops.recover`) of pending operations,
operations/s, against the same reversals done directly.

    recover (ops.recover)        N operations of two small-file writes each whose process died
                                 after the first write (intent durable, no completion), settled by
                                 one `ops.recover` call: the log read once, each operation rebuilt
                                 from its intent, its targets observed and judged (partial: every
                                 state reachable by its own actions), the written file removed from
                                 its recorded reversal, the directory fsynced, and all N "reversed"
                                 completions appended in one group commit (fsync durability)
    direct unlink + dir fsync    the floor: the same N files removed directly, the directory fsynced
                                 once at the end (the durability recovery gives before it records)

The interrupted operations are made untimed (`ops.prepare`, then the first action executed, as a
killed process leaves them); only the recovery / the unlinks are timed.
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
from kfm_wal.ops import durable

RECOVER = "recover (ops.recover)"
DIRECT = "direct unlink + dir fsync"
PEERS = (RECOVER, DIRECT)


def _interrupted(d: Path, root: Path, work: list[tuple[str, bytes]]) -> kfm_wal.Wal:
    """A log of N pending two-write operations, each stopped after its first write."""
    wal = kfm_wal.Wal.create(d / "wal", kfm_wal.keys.SigningKey.from_seed(ops_writes.KEY_SEED), durability="fsync")
    for k, (name, data) in enumerate(work):
        p = ops.prepare(
            wal,
            [ops.Write(name, data), ops.Write(f"{name}.second", data)],
            actor=ops_writes.ACTOR,
            tier=0,  # what governance costs is section 8's; this one measures recovery
            governance=ops_writes.GOVERNANCE,
            telemetry={"id": f"bench/recover/{k}"},
            root=root,
        )
        with durable.deferred_dir_sync():
            p.plan.execute(0)  # the first write ran; the process died before the second
    return wal


def _recover(d: Path, root: Path, work: list[tuple[str, bytes]]) -> float:
    wal = _interrupted(d, root, work)
    settle()
    t0 = time.perf_counter()
    settled = ops.recover(wal)
    dt = time.perf_counter() - t0
    wal.close()
    if len(settled) != len(work) or any(s.status != "reversed" for s in settled):
        raise RuntimeError(f"recover settled {len(settled)} of {len(work)}: {settled[:1]}")
    return dt


def _direct(root: Path, work: list[tuple[str, bytes]]) -> float:
    for name, data in work:
        (root / name).write_bytes(data)
    os.sync()
    settle()
    t0 = time.perf_counter()
    for name, _ in work:
        os.unlink(root / name)
    durable.fsync_dir(root)
    return time.perf_counter() - t0


def run(
    *,
    ops_count: int,
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
        dt = _recover(d, root, work) if name == RECOVER else _direct(root, work)
        ops_writes.files_left(name, root, "recovery")
        return dt

    times = paired_rounds(
        "recover",
        PEERS,
        rounds,
        measure,
        fresh=fresh,
        remove=remove,
        say=say,
        size=lambda r: f" ({ops_count:,} pending operations)",
    )
    return ops_writes.operation_result(times, ops_count, RECOVER, DIRECT, file_bytes=size, rounds=rounds)


def render(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    txt = [
        f"11. Crash recovery: {res['operations']:,} pending two-write operations stopped after the first "
        f"write ({res['file_bytes']} B), median of {res['rounds']} round(s), operations/s"
    ]
    md = [
        "## 11. Crash recovery (`kfm_wal.ops.recover`)",
        "",
        f"{res['operations']:,} operations of two single-file writes of {res['file_bytes']} B whose process "
        "died after the first write (intent durable, no completion; made untimed), settled by one "
        "`ops.recover` call, timed: each operation rebuilt from its intent, its targets observed and judged "
        "partial, the written file removed from its recorded reversal, the directory fsynced, all completions "
        "(`reversed`) in one group commit (Wal durability `fsync`). The floor removes the same files directly "
        f"and fsyncs the directory once. Median of {res['rounds']} interleaved round(s) after a warm-up.",
        "",
        "| peer | operations/s | min-max | seconds | time / direct |",
        "|---|---:|---:|---:|---:|",
    ]
    operation_rows(res, DIRECT, txt, md)
    txt.append("")
    md.append("")
    return txt, md
