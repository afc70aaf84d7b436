"""Kill -9 crash testing: start a writer process, collect the receipts it reports, SIGKILL it at a
random moment, reopen the log and check that it opens, validates, holds every acknowledged record
with the same hash, and is a gapless chain (so what is present is a prefix of what was written).

    python tests/crash/harness.py DIR --kills 500
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kfm_wal import Wal, keys, records, verify

WRITER = Path(__file__).with_name("writer_process.py")


@dataclass
class Totals:
    kills: int = 0
    acknowledged: int = 0
    lost: int = 0
    recoveries: int = 0
    cut_bytes: int = 0
    failures: list[str] = field(default_factory=list)


def run_once(log: Path, key_file: Path, seed: int, rng: random.Random, totals: Totals) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(log), str(key_file), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    if ready.strip() != b"READY":
        proc.kill()
        raise AssertionError(f"writer did not start: {ready!r} {proc.stderr.read() if proc.stderr else b''!r}")
    # The kill lands at a random moment after the first acknowledgement, however loaded the
    # machine: a run killed before anything was acknowledged would test nothing.
    first = proc.stdout.readline()
    if not first.startswith(b"ACK "):
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"writer (seed {seed}) acknowledged nothing: {first!r} {err.decode()[-2000:]}")
    time.sleep(rng.uniform(0.0, 0.25))
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    totals.kills += 1
    acked: dict[int, str] = {}
    for line in (first + out).decode().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "ACK":
            acked[int(parts[1])] = parts[2]
    totals.acknowledged += len(acked)

    with Wal.open(log, keys.load(key_file)) as wal:
        totals.recoveries += bool(wal.recovery)
        totals.cut_bytes += sum(n["bytes"] for n in wal.recovery)
    report = verify(log)
    if not report.ok:
        totals.failures.append(f"seed {seed}: invalid after recovery: {report.findings[:3]}")
        return
    present = {r.seq: r.hash for r in records(log)}
    if sorted(present) != list(range(1, len(present) + 1)):
        totals.failures.append(f"seed {seed}: recovered records are not a gapless prefix")
    lost = [s for s, h in acked.items() if present.get(s) != h]
    totals.lost += len(lost)
    if lost:
        totals.failures.append(f"seed {seed}: {len(lost)} acknowledged records lost or changed, e.g. seq {lost[0]}")


def run(
    log: Path, kills: int, seed: int = 0, kills_per_log: int = 50, archive_compression: Literal["none", "zstd"] = "none"
) -> Totals:
    """`kills` runs; a fresh log every `kills_per_log` of them, so that re-verifying the whole log
    after each kill stays cheap (the checks are the same on a young or an old log).
    `archive_compression="zstd"`: rotated segments are compressed, so kills land in compressions too."""
    rng = random.Random(seed)
    key = keys.generate()
    key_file = keys.save(key, log.parent / f"{log.name}.key.pem", overwrite=True)
    totals = Totals()
    for i in range(kills):
        current = log.with_name(f"{log.name}-{i // kills_per_log:03d}")
        if not current.exists():
            Wal.create(
                current,
                key,
                max_segment_bytes=256 * 1024,
                max_record_bytes=64 * 1024,
                archive_compression=archive_compression,
            ).close()
        run_once(current, key_file, seed * 100_000 + i, rng, totals)
    return totals


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--kills", type=int, default=500)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    log = args.dir / "wal"
    args.dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    t = run(log, args.kills, args.seed)
    segments = sum(
        len(list(d.glob("wal-*.jsonl"))) + len(list((d / "archive").glob("wal-*.jsonl")))
        for d in args.dir.glob("wal-*")
        if d.is_dir()
    )
    print(
        f"kill -9 runs: {t.kills} (seed {args.seed}), acknowledged entries: {t.acknowledged}, "
        f"lost: {t.lost}, recoveries that cut a tail: {t.recoveries} ({t.cut_bytes} bytes kept in recovered/), "
        f"segments: {segments}, {time.time() - started:.0f} s"
    )
    for f in t.failures[:20]:
        print("FAIL", f)
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())
