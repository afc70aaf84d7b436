"""pytest-benchmark suite: verifying a whole log, against one SHA-256 pass over the same bytes and
the pure-Python reference verifier.

    .venv/bin/pytest benches/bench_verify.py --benchmark-only

Not part of the normal test run. The log (~LOG_MB MB of seed-shaped intents in group commits of
100, each followed by the previous commit's completions) is built once, outside the timings, in
.bench-tmp/ in the repository; its files are read from a warm page cache. The reference verifier
runs on a smaller log (REF_LOG_MB) so the suite stays short; compare MB/s via extra_info["mb"].
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kfm_wal
import peers
import pytest
import workload

LOG_MB = 20
REF_LOG_MB = 2
BATCH = 100


def _build(directory: Path, mb: float, seed: int) -> Path:
    p = peers.KfmWal(directory, durability="none")
    start, previous = 0, []
    while peers.log_bytes(directory) < mb * 1_000_000:
        for k in range(0, 1_000, BATCH):
            batch = workload.make_entries(BATCH, seed=seed, start=start + k)
            p.wal.append_many(batch)
            if previous:
                p.wal.complete_many([{"wal_id": e["wal_id"], "status": "succeeded"} for e in previous])
            previous = batch
        start += 1_000
    p.close()
    os.sync()
    for f in peers.log_files(directory):  # warm the page cache
        f.read_bytes()
    return directory


@pytest.fixture(scope="module")
def logs() -> Iterator[tuple[Path, Path]]:
    root = peers.REPO / ".bench-tmp" / f"pytest-verify-{os.getpid()}"
    root.mkdir(parents=True)
    try:
        yield _build(root / "big", LOG_MB, 1), _build(root / "small", REF_LOG_MB, 2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        try:
            root.parent.rmdir()
        except OSError:
            pass


def _mb(path: Path) -> float:
    return peers.log_bytes(path) / 1_000_000


def test_verify_kfm(benchmark: Any, logs: tuple[Path, Path]) -> None:
    benchmark.group = f"verify ~{LOG_MB} MB"
    big, _ = logs
    report = benchmark.pedantic(kfm_wal.verify, args=(big,), rounds=5, warmup_rounds=1)
    assert report.ok, report.findings[:3]
    benchmark.extra_info["mb"] = _mb(big)


@pytest.mark.parametrize("option", ["check_bodies", "check_signatures"])
def test_verify_kfm_without(benchmark: Any, logs: tuple[Path, Path], option: str) -> None:
    """What body checks and seal signatures cost: the same run with one of them off."""
    benchmark.group = f"verify ~{LOG_MB} MB"
    big, _ = logs
    report = benchmark.pedantic(kfm_wal.verify, args=(big,), kwargs={option: False}, rounds=5, warmup_rounds=1)
    assert report.ok, report.findings[:3]
    benchmark.extra_info["mb"] = _mb(big)


def test_sha256_pass(benchmark: Any, logs: tuple[Path, Path]) -> None:
    """The floor: one SHA-256 pass over the same segment bytes, read from the page cache."""
    benchmark.group = f"verify ~{LOG_MB} MB"
    big, _ = logs
    files = peers.log_files(big)
    buf = bytearray(1 << 20)
    view = memoryview(buf)

    def sha_pass() -> str:
        h = hashlib.sha256()
        for f in files:
            with open(f, "rb", buffering=0) as fh:
                while n := fh.readinto(buf):
                    h.update(view[:n])
        return h.hexdigest()

    benchmark.pedantic(sha_pass, rounds=5, warmup_rounds=1)
    benchmark.extra_info["mb"] = _mb(big)


def test_verify_kfm_small(benchmark: Any, logs: tuple[Path, Path]) -> None:
    benchmark.group = f"verify ~{REF_LOG_MB} MB"
    _, small = logs
    report = benchmark.pedantic(kfm_wal.verify, args=(small,), rounds=5, warmup_rounds=1)
    assert report.ok, report.findings[:3]
    benchmark.extra_info["mb"] = _mb(small)


def test_verify_reference_small(benchmark: Any, logs: tuple[Path, Path]) -> None:
    benchmark.group = f"verify ~{REF_LOG_MB} MB"
    _, small = logs
    ref = peers.load_reference()
    report = benchmark.pedantic(ref.verify, args=(small,), rounds=2, warmup_rounds=0)
    assert report.ok, report.errors[:3]
    benchmark.extra_info["mb"] = _mb(small)
