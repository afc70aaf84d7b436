"""pytest-benchmark suite: durable appends, kfm-wal and its peers (benches/peers.py).

    .venv/bin/pytest benches/bench_append.py --benchmark-only

Not part of the normal test run (`pytest` collects tests/ only, and this file's name does not start
with test_). These are small and make no claims: pytest-benchmark's table shows the spread of each
benchmark; the targets (ratios measured in one interleaved run) are judged in a benches/run.py run
(benches/targets.py).

Every round appends to a fresh log, created and removed outside the timed call (a log refuses a
wal_id it already holds, and an append's cost depends on nothing before it in the log). Scratch
logs go to .bench-tmp/ in the repository, not to a possibly-tmpfs /tmp where fsync is free.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peers
import pytest
import workload
from harness import settle

BATCH = 1_000
BATCH_ROUNDS = 5
SINGLE_ROUNDS = 200


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    root = peers.REPO / ".bench-tmp" / f"pytest-append-{os.getpid()}"
    root.mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)
    try:
        root.parent.rmdir()
    except OSError:
        pass


@pytest.fixture(scope="module")
def pool() -> list[dict[str, Any]]:
    return workload.make_entries(max(BATCH, SINGLE_ROUNDS + 10))


@pytest.mark.parametrize("peer_cls", [peers.KfmWal, peers.Reference, peers.SQLite], ids=lambda c: c.name)
def test_append_many_1000(benchmark: Any, scratch: Path, pool: list[dict[str, Any]], peer_cls: Any) -> None:
    """One durable batch of 1,000 intents (the batch size of the throughput targets)."""
    benchmark.group = f"append_many, batch {BATCH:,} (durable)"
    batch = pool[:BATCH]
    count = iter(range(1_000_000))

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        peer = peer_cls(scratch / f"{peer_cls.__name__}-{next(count)}")
        settle()
        return (peer, batch), {}

    def teardown(peer: Any, entries: Any) -> None:
        peer.close()
        shutil.rmtree(peer.directory, ignore_errors=True)

    benchmark.pedantic(
        lambda peer, entries: peer.append_many(entries),
        setup=setup,
        teardown=teardown,
        rounds=BATCH_ROUNDS,
        warmup_rounds=1,
    )
    benchmark.extra_info["entries_per_round"] = BATCH


def test_append_single_kfm(benchmark: Any, scratch: Path, pool: list[dict[str, Any]]) -> None:
    """One durable `Wal.append` of one intent."""
    benchmark.group = "single durable append"
    peer = peers.KfmWal(scratch / "single-kfm")
    entries = iter(pool)
    settle()
    try:
        benchmark.pedantic(peer.append, setup=lambda: ((next(entries),), {}), rounds=SINGLE_ROUNDS, warmup_rounds=5)
        benchmark.extra_info["bytes_per_append"] = _bytes_per_single_append(peer)
    finally:
        peer.close()


def test_append_single_raw_floor(benchmark: Any, scratch: Path, pool: list[dict[str, Any]]) -> None:
    """os.write + os.fdatasync of as many bytes as kfm-wal writes for one append (intent + seal)."""
    benchmark.group = "single durable append"
    calib = peers.KfmWal(scratch / "single-calibrate", durability="none")
    for e in pool[:10]:
        calib.append(e)
    nbytes = _bytes_per_single_append(calib)
    calib.close()
    floor = peers.RawFloor(scratch / "single-floor")
    data = floor.payload(nbytes)
    settle()
    try:
        benchmark.pedantic(floor.write, args=(data,), rounds=SINGLE_ROUNDS, warmup_rounds=5)
        benchmark.extra_info["bytes_per_append"] = nbytes
    finally:
        floor.close()


def _bytes_per_single_append(p: peers.KfmWal) -> int:
    """Mean bytes per single append so far: everything after the segment's header and first seal."""
    lines = b"".join(f.read_bytes() for f in peers.log_files(p.directory)).splitlines(keepends=True)
    appends = (len(lines) - 2) // 2
    return round(sum(len(x) for x in lines[2:]) / appends) if appends else 0
