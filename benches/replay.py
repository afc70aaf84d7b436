"""Section 10 of benches/run.py: deterministic replay (kfm_wal.replay) of logged small-file
operations into a sandbox, against the same writes done directly with fsync.

    replay (kfm_wal.replay)   `replay.replay(log, sandbox)` over a log of N guarded single-file
                              writes: the log verified first (every byte, every seal), each intent
                              and completion read, each operation's contents taken from its intent
                              (inline) or the blob store, its pre state checked in the sandbox, the
                              file written there (no fsync: the sandbox is scratch, rebuilt from the
                              log), its post state checked against post_state_expected and the
                              completion's observed state
    direct write + fsync      the peer: the same N files written directly, each fsynced (what the
                              operations' writes cost without the log)

The log is made untimed (`ops.run_batch`, batches of `batch` operations). Target: replay time /
direct time <= 1 (the sandbox needs no fsync, so checking every hash must cost less than the
fsyncs it saves).
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
from kfm_wal import replay as kfm_replay

REPLAY = "replay (kfm_wal.replay)"
DIRECT = "direct write + fsync"
PEERS = (REPLAY, DIRECT)
TARGET = 1.0  # replay time / direct time, at most (the target)


def make_log(d: Path, work: list[tuple[str, bytes]], batch: int) -> Path:
    """A log of one guarded Write per file (untimed); returns the log directory."""
    wal = kfm_wal.Wal.create(d / "wal", kfm_wal.keys.SigningKey.from_seed(ops_writes.KEY_SEED), durability="fsync")
    root = d / "processed"
    for i in range(0, len(work), batch):
        specs = [
            # tier 0: replay is measured here, not the governance decisions (section 8's)
            ops.OperationSpec([ops.Write(n, b)], ops_writes.ACTOR, 0, ops_writes.GOVERNANCE, {"id": f"bench/{i + k}"})
            for k, (n, b) in enumerate(work[i : i + batch])
        ]
        ops.run_batch(wal, specs, root=root)
    wal.close()
    return d / "wal"


def _replay(log: Path, box: Path, count: int) -> float:
    settle()
    t0 = time.perf_counter()
    report = kfm_replay.replay(log, box)
    dt = time.perf_counter() - t0
    if not report.ok or report.operations != count:
        raise RuntimeError(f"replay: {report.operations} of {count} operations, halted: {report.halted}")
    return dt


def _direct(root: Path, work: list[tuple[str, bytes]]) -> float:
    settle()
    t0 = time.perf_counter()
    for name, data in work:
        fd = os.open(root / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
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
    say(f"  making a log of {ops_count:,} guarded writes (not timed) ...")
    made = fresh("replay-log")
    log = make_log(made, work, batch)

    def measure(name: str, d: Path, _round: int) -> float:
        if name == REPLAY:
            dt = _replay(log, d / "sandbox", ops_count)
            root = d / "sandbox" / "processed"
        else:
            root = d / "processed"
            root.mkdir(parents=True)
            dt = _direct(root, work)
        written = sum(1 for _ in root.iterdir())
        if written != ops_count:
            raise RuntimeError(f"{name}: {written} files written, expected {ops_count}")
        return dt

    times = paired_rounds(
        "replay",
        PEERS,
        rounds,
        measure,
        fresh=fresh,
        remove=remove,
        say=say,
        size=lambda r: f" ({ops_count:,} operations)",
    )
    remove(made)
    return ops_writes.operation_result(times, ops_count, REPLAY, DIRECT, batch=batch, file_bytes=size, rounds=rounds)


def judged(res: dict[str, Any]) -> dict[str, Any]:
    ratio: dict[str, Any] = res["time_ratio"][f"{REPLAY} / {DIRECT}"]
    return ratio


def render(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    txt = [
        f"10. Replay: {res['operations']:,} logged single-file operations of {res['file_bytes']} B into a sandbox, "
        f"median of {res['rounds']} round(s), operations/s"
    ]
    md = [
        "## 10. Replay (`kfm_wal.replay`)",
        "",
        f"A log of {res['operations']:,} guarded single-file writes of {res['file_bytes']} B (`ops.run_batch`, "
        f"batches of {res['batch']:,}, untimed), replayed into an empty sandbox by `kfm_wal.replay.replay`: the "
        "log verified, every operation's contents read from its intent or the blob store, its pre and post "
        "states checked, its file written (no fsync: the sandbox is scratch). The peer writes the same files "
        f"directly, each fsynced. Median of {res['rounds']} interleaved round(s) after a warm-up. "
        f"Target: replay time / direct time <= {TARGET:g}x.",
        "",
        "| peer | operations/s | min-max | seconds | time / direct |",
        "|---|---:|---:|---:|---:|",
    ]
    operation_rows(res, DIRECT, txt, md)
    txt.append("")
    md.append("")
    return txt, md
