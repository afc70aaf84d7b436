"""Benchmark driver behind `make bench` and `make bench-check`: kfm-wal against its peers,
measured in one process run.

    .venv/bin/python benches/run.py                 # full run (~5-10 min on 2 cores; the first run
                                                    # also builds the 100 MB, 1 GB and 4 GB archives)
    .venv/bin/python benches/run.py --quick         # smoke run (< 1 min)
    .venv/bin/python benches/run.py --check         # the regression gate (< 1 min): exit 1 when a
                                                    # ratio regresses past benches/baseline.json
    .venv/bin/python benches/run.py --check --update-baseline   # re-base the gate on this machine
    .venv/bin/python benches/run.py --archive-mb 100,1000

What is measured, always next to peers measured in the same run on the same data:

    1. durable append_many throughput at batch 1, 100, 1,000, 10,000: kfm-wal, the pure-Python
       reference writer, SQLite (WAL, synchronous=FULL), raw write+fdatasync of the same bytes
    2. single durable append latency p50/p90/p99: kfm-wal and raw write+fdatasync, interleaved
    3. N threads (1, 2, 4, 8, 16) each appending single entries durably: one kfm-wal Wal, one
       SQLite connection (shared, under a lock), one file written with write+fdatasync by every thread
    4. validation of cached archives (100 MB, 1 GB, 4 GB; benches/archives.py): kfm_wal.verify
       with and without check_bodies and check_signatures, against one SHA-256 pass over the same
       bytes (and the reference verifier on the smallest archive); each run in a fresh process, with its peak RSS
    5. Ed25519: kfm-wal verifying a log of tiny commits (one seal per intent), in seals/s, against
       `cryptography`'s Ed25519PublicKey.verify in a loop over the same seals
    6. memory: peak RSS of each validation (4) and of a writer under load (8 threads), kfm-wal and
       SQLite
    7. scaling: throughput vs threads and validation time vs archive size (a linear fit, and a
       flag when the per-MB cost at the largest archive exceeds 1.3x that at the smallest):
       benches/results/scaling.{png,md}
    8. guarded small file writes: 10,000 files of 200 B written as guarded operations through
       kfm_wal.ops.run_batch (batches of 1,000 operations of one Write each) against the same
       writes done directly with the same durability (temp file, fsync, rename, fsync of the
       directory per file, as ops does), and a diagnostic floor with one directory fsync per batch
       (benches/ops_writes.py)
    9. rollback and replay: guarded single-file writes undone with ops.undo (one call each) and
       interrupted ones settled by ops.recover, operations/s, against direct unlinks with a
       directory fsync each (benches/ops_undo.py)

Targets are ratios against peers measured in the same run, never absolute timings:

    append_many throughput at batch 1,000   kfm-wal / reference >= 8x, kfm-wal / SQLite >= 4x
    single durable append latency           kfm-wal p50 <= 1.5x raw write+fdatasync p50
    concurrent single appends, one Wal      8 threads / 1 thread >= 6x (group commit)
    guarded small file writes               ops.run_batch time / direct atomic writes time <= 2x

Measurements are interleaved (every round runs every peer, in a rotating order, on fresh
directories) and repeated; the first round is a discarded warm-up. Figures are medians, with the
spread (max - min) / median over the rounds, and ratios are given both as the ratio of the
medians (the one judged against the target) and as the range of the per-round paired ratios.

The regression gate (`--check`, benches/gate.py) measures the same things at small sizes and
compares a set of ratios (kfm-wal vs peers) with benches/baseline.json, each with its tolerance.

Scratch logs go to a directory on the repository's file system (default `.bench-tmp/` in the
repository, removed afterwards; the archives stay cached in `.bench-tmp/archives/`): fsync on tmpfs
is free and would make every comparison meaningless. Results are printed and written to
benches/results/latest.{md,json} (`--quick`: quick.*, `--check`: check.*).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import archives
import child
import gate
import kfm_wal
import ops_undo
import ops_writes
import orjson
import peers
import workload

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"

MB = 1_000_000  # sizes and rates in decimal megabytes
NONLINEAR_LIMIT = 1.3  # per-MB validation cost at the largest archive / at the smallest
RSS_TARGET_MB = 300  # another issue's target: peak RSS validating 4 GB

# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    name: str
    rounds: int  # measured rounds, after one discarded warm-up round
    batch_entries: dict[int, int]  # batch size -> entries appended per timed run
    latency_samples: int
    latency_warmup: int
    latency_chunks: int  # the samples are split in this many chunks to show the spread
    thread_counts: tuple[int, ...]
    thread_appends: int  # appends per thread per timed run
    thread_rounds: int
    archive_mb: tuple[float, ...]  # validation archives, cached (benches/archives.py)
    archive_batch: int  # intents per group commit in an archive (each followed by completions)
    archive_rounds: int  # measured validation runs per archive and validator (each a fresh process)
    ref_archive_rounds: int  # runs of the reference verifier, on the smallest archive
    sig_commits: int  # tiny commits in the seals-dominated log
    sig_rounds: int
    writer_threads: int  # writer under load: threads ...
    writer_appends: int  # ... each appending this many entries durably
    writer_rounds: int
    ops_files: int  # guarded small file writes (section 8): files per timed run ...
    ops_batch: int  # ... operations per ops.run_batch call (one Write each)
    ops_bytes: int  # ... bytes per file
    ops_rounds: int
    ops_warmup: int  # files in the discarded warm-up round
    undo_ops: int  # rollback and replay (section 9): operations per timed run (0: not measured)
    undo_rounds: int


FULL = Config(
    name="full",
    rounds=7,
    batch_entries={1: 500, 100: 5_000, 1_000: 10_000, 10_000: 20_000},
    latency_samples=1_000,
    latency_warmup=50,
    latency_chunks=5,
    thread_counts=(1, 2, 4, 8, 16),
    thread_appends=300,
    thread_rounds=5,
    archive_mb=(100, 1_000, 4_000),
    archive_batch=100,
    archive_rounds=5,
    ref_archive_rounds=1,
    sig_commits=20_000,
    sig_rounds=5,
    writer_threads=8,
    writer_appends=1_000,
    writer_rounds=2,
    ops_files=10_000,
    ops_batch=1_000,
    ops_bytes=200,
    ops_rounds=3,
    ops_warmup=1_000,
    undo_ops=1_000,
    undo_rounds=3,
)

QUICK = Config(
    name="quick",
    rounds=2,
    batch_entries={1: 30, 100: 300, 1_000: 2_000, 10_000: 10_000},
    latency_samples=150,
    latency_warmup=10,
    latency_chunks=3,
    thread_counts=(1, 2, 4, 8, 16),
    thread_appends=25,
    thread_rounds=1,
    archive_mb=(8, 32),
    archive_batch=100,
    archive_rounds=2,
    ref_archive_rounds=1,
    sig_commits=3_000,
    sig_rounds=2,
    writer_threads=8,
    writer_appends=100,
    writer_rounds=1,
    ops_files=10_000,
    ops_batch=1_000,
    ops_bytes=200,
    ops_rounds=1,
    ops_warmup=500,
    undo_ops=200,
    undo_rounds=1,
)

# The regression gate: small sizes, enough rounds for stable medians, under a minute on 2 cores.
CHECK = Config(
    name="check",
    rounds=4,
    batch_entries={1: 30, 100: 500, 1_000: 3_000, 10_000: 10_000},
    latency_samples=600,
    latency_warmup=20,
    latency_chunks=4,
    thread_counts=(1, 8),  # the gate's figures; the full run covers 1, 2, 4, 8, 16
    thread_appends=150,
    thread_rounds=6,
    archive_mb=(10, 40),
    archive_batch=100,
    archive_rounds=3,
    ref_archive_rounds=1,
    sig_commits=5_000,
    sig_rounds=3,
    writer_threads=8,
    writer_appends=200,
    writer_rounds=1,
    ops_files=2_000,  # two batches: the gate's figure, not the 10,000 (a full or quick run measures those)
    ops_batch=1_000,
    ops_bytes=200,
    ops_rounds=3,
    ops_warmup=500,
    undo_ops=0,  # the gate has no figure for it
    undo_rounds=0,
)

TARGET_BATCH = 1_000


@dataclass
class Target:
    id: str
    what: str
    op: str  # ">=" or "<="
    value: float
    measured: float | None = None
    paired: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.value if self.op == ">=" else self.measured <= self.value


# --------------------------------------------------------------------------- helpers


def summarize(values: Sequence[float], higher_is_better: bool = True) -> dict[str, Any]:
    vals = list(values)
    med = statistics.median(vals)
    return {
        "median": med,
        "best": max(vals) if higher_is_better else min(vals),
        "min": min(vals),
        "max": max(vals),
        "spread": (max(vals) - min(vals)) / med if med else 0.0,
        "n": len(vals),
        "values": vals,
    }


def percentile(sorted_vals: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e4:
        return f"{x / 1e3:.1f}k"
    if x >= 1e3:
        return f"{x / 1e3:.2f}k"
    return f"{x:.0f}"


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def rotated(items: Sequence[Any], k: int) -> list[Any]:
    k %= len(items)
    return list(items[k:]) + list(items[:k])


def settle() -> None:
    """Before a timed section: collect garbage and flush every dirty page, so one peer's deferred
    writeback (or a deleted log's) is not paid by the next peer's fdatasync."""
    gc.collect()
    os.sync()


def say(msg: str = "") -> None:
    print(msg, flush=True)


class Scratch:
    """Fresh directories under one root on the repository's file system; removed at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def __enter__(self) -> Scratch:
        self.root.mkdir(parents=True, exist_ok=False)
        return self

    def fresh(self, label: str) -> Path:
        self.n += 1
        return self.root / f"{self.n:04d}-{label.replace(' ', '_').replace('+', '_').replace('/', '_')}"

    @staticmethod
    def remove(path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        parent = self.root.parent
        if parent.name == ".bench-tmp" and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


# --------------------------------------------------------------------------- machine


def mount_of(path: Path) -> dict[str, str]:
    """The /proc/mounts entry holding `path` (longest mount point prefix)."""
    real = os.path.realpath(path)
    best = {"device": "?", "mount": "/", "fstype": "?", "options": ""}
    best_len = -1
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                dev, mnt, fstype, opts, *_ = line.split()
                mnt = mnt.replace("\\040", " ")
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > best_len:
                    best, best_len = (
                        {"device": dev, "mount": mnt, "fstype": fstype, "options": opts},
                        len(mnt),
                    )
    except OSError:
        pass
    return best


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def core_build() -> str:
    """The extension module in use and when it was built (it may predate the checked-out sources)."""
    path = Path(kfm_wal._core.__file__)
    built = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{path.name} built {built}"


def machine_info(bench_dir: Path) -> dict[str, Any]:
    mount = mount_of(bench_dir)
    dev = os.path.basename(mount["device"])
    rotational = None
    try:
        rotational = Path(f"/sys/block/{dev}/queue/rotational").read_text().strip() == "1"
    except OSError:
        pass
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "filesystem": mount["fstype"],
        "fs_device": mount["device"],
        "fs_mount": mount["mount"],
        "fs_options": mount["options"],
        "fs_rotational": rotational,
        "bench_dir": str(bench_dir),
        "same_fs_as_repo": os.stat(bench_dir).st_dev == os.stat(REPO).st_dev,
        "kfm_wal": kfm_wal.__version__,
        "kfm_wal_core": core_build(),
        "sqlite": sqlite3.sqlite_version,
        "orjson": orjson.__version__,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "loadavg_start": list(os.getloadavg()),
    }


# --------------------------------------------------------------------------- 1. throughput


def calibrate(pool: Sequence[dict[str, Any]], scratch: Scratch) -> tuple[int, int]:
    """Mean bytes of one intent line and of one seal line as kfm-wal writes them (for the floor)."""
    d = scratch.fresh("calibrate")
    p = peers.KfmWal(d, durability="none")
    n = min(1_000, len(pool))
    for i in range(0, n, 100):
        p.append_many(pool[i : i + 100])
    p.close()
    intents, seals = [], []
    for f in peers.log_files(d):
        for line in f.read_bytes().splitlines(keepends=True):
            head = line[:160]
            if b'"kind":"intent"' in head:
                intents.append(len(line))
            elif b'"kind":"seal"' in head:
                seals.append(len(line))
    scratch.remove(d)
    return round(statistics.mean(intents)), round(statistics.mean(seals))


class KfmCoreOnly(peers.KfmWal):
    """Diagnostic, not a peer: the core given already-encoded bodies (what the Python layer's
    orjson encoding costs is the difference to `kfm-wal`)."""

    name = "kfm-wal core (pre-encoded)"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self._writer = self.wal._writer

    def append_many(self, entries: Sequence[Any]) -> None:
        self._writer.append("intent", entries)


def run_throughput(cfg: Config, pool: list[dict[str, Any]], scratch: Scratch, line: int, seal: int) -> dict[str, Any]:
    contenders: list[Any] = [peers.KfmWal, peers.Reference, peers.SQLite, peers.RawFloor, KfmCoreOnly]
    raw: dict[str, dict[int, list[float]]] = {c.name: {bs: [] for bs in cfg.batch_entries} for c in contenders}
    encoded = kfm_wal.schema.encode(pool[: max(cfg.batch_entries.values())])
    for r in range(cfg.rounds + 1):
        tag = "warm-up" if r == 0 else f"round {r}/{cfg.rounds}"
        say(f"  throughput {tag} ...")
        for j, (bs, n) in enumerate(cfg.batch_entries.items()):
            batches = [pool[i : i + bs] for i in range(0, n, bs)]
            pre = [encoded[i : i + bs] for i in range(0, n, bs)]
            for cls in rotated(contenders, r + j):
                d = scratch.fresh(f"tp-{cls.name}-{bs}")
                if cls is peers.RawFloor:
                    peer = cls(d, line_bytes=line, seal_bytes=seal)
                    peer.prepare([bs])
                else:
                    peer = cls(d)
                work = pre if cls is KfmCoreOnly else batches
                settle()
                t0 = time.perf_counter()
                for b in work:
                    peer.append_many(b)
                dt = time.perf_counter() - t0
                peer.close()
                scratch.remove(d)
                if r > 0:
                    raw[cls.name][bs].append(n / dt)
    out: dict[str, Any] = {"entries_per_run": {str(k): v for k, v in cfg.batch_entries.items()}, "peers": {}}
    for name, by_bs in raw.items():
        out["peers"][name] = {str(bs): summarize(v) for bs, v in by_bs.items()}
    ratios: dict[str, Any] = {}
    for other in (peers.Reference.name, peers.SQLite.name, peers.RawFloor.name):
        ratios[f"kfm-wal/{other}"] = {}
        for bs in cfg.batch_entries:
            k, o = raw[peers.KfmWal.name][bs], raw[other][bs]
            paired = [a / b for a, b in zip(k, o, strict=True)]
            ratios[f"kfm-wal/{other}"][str(bs)] = {
                "ratio_of_medians": statistics.median(k) / statistics.median(o),
                "paired_min": min(paired),
                "paired_max": max(paired),
                "paired": paired,
            }
    out["ratios"] = ratios
    return out


# --------------------------------------------------------------------------- 2. latency


def run_latency(cfg: Config, pool: list[dict[str, Any]], scratch: Scratch) -> dict[str, Any]:
    say("  single-append latency ...")
    kdir, fdir = scratch.fresh("lat-kfm"), scratch.fresh("lat-raw")
    kfm = peers.KfmWal(kdir)
    floor = peers.RawFloor(fdir)
    segment = kdir / kfm.wal.head[3]
    size = segment.stat().st_size
    total = cfg.latency_warmup + cfg.latency_samples
    if total > len(pool):
        raise ValueError("entry pool too small for the latency samples")
    k_ns: list[int] = []
    r_ns: list[int] = []
    nbytes: list[int] = []
    grown = 1_200
    clock = time.perf_counter_ns
    settle()
    for i in range(total):
        entry = pool[i]
        kfm_first = i % 2 == 0
        for who in ("kfm", "raw") if kfm_first else ("raw", "kfm"):
            if who == "kfm":
                t0 = clock()
                kfm.append(entry)
                dt = clock() - t0
                new = segment.stat().st_size
                grown, size = new - size, new
                if i >= cfg.latency_warmup:
                    k_ns.append(dt)
            else:
                data = floor.payload(grown)  # the bytes kfm-wal wrote for its last append
                t0 = clock()
                floor.write(data)
                dt = clock() - t0
                if i >= cfg.latency_warmup:
                    r_ns.append(dt)
                    nbytes.append(len(data))
    kfm.close()
    floor.close()
    scratch.remove(kdir)
    scratch.remove(fdir)

    def stats(ns: list[int]) -> dict[str, Any]:
        s = sorted(x / 1e3 for x in ns)  # microseconds
        return {
            "p50_us": percentile(s, 50),
            "p90_us": percentile(s, 90),
            "p99_us": percentile(s, 99),
            "mean_us": statistics.mean(s),
            "min_us": s[0],
            "max_us": s[-1],
        }

    chunks = []
    size_c = len(k_ns) // cfg.latency_chunks
    for c in range(cfg.latency_chunks):
        kc = sorted(k_ns[c * size_c : (c + 1) * size_c])
        rc = sorted(r_ns[c * size_c : (c + 1) * size_c])
        chunks.append({"kfm_p50_us": percentile(kc, 50) / 1e3, "raw_p50_us": percentile(rc, 50) / 1e3})
    for ch in chunks:
        ch["ratio"] = ch["kfm_p50_us"] / ch["raw_p50_us"]
    ks, rs = stats(k_ns), stats(r_ns)
    # Diagnostic: the same appends with durability "none" (no fdatasync): kfm-wal's CPU cost per append.
    cdir = scratch.fresh("lat-cpu")
    cpu = peers.KfmWal(cdir, durability="none")
    c_ns = []
    for entry in pool[: min(len(pool), 500)]:
        t0 = clock()
        cpu.append(entry)
        c_ns.append(clock() - t0)
    cpu.close()
    scratch.remove(cdir)
    return {
        "cpu_only_p50_us": percentile(sorted(c_ns[50:]), 50) / 1e3,
        "samples": len(k_ns),
        "warmup_discarded": cfg.latency_warmup,
        "bytes_per_append_mean": statistics.mean(nbytes),
        "kfm-wal": ks,
        "raw": rs,
        "ratio_p50": ks["p50_us"] / rs["p50_us"],
        "ratio_p99": ks["p99_us"] / rs["p99_us"],
        "chunks": chunks,
    }


# --------------------------------------------------------------------------- 3. threads


def commit_sizes(directory: Path) -> list[int]:
    """Entries per group commit, in log order: intents between consecutive seals."""
    sizes, count = [], 0
    for f in peers.log_files(directory):
        for line in f.read_bytes().splitlines():
            head = line[:160]
            if b'"kind":"intent"' in head:
                count += 1
            elif b'"kind":"seal"' in head:
                if count:
                    sizes.append(count)
                count = 0
    return sizes


GROUPED = "grouped write+fdatasync"
THREAD_PEERS = ("kfm-wal", "sqlite", "raw write+fdatasync", GROUPED)


class ThreadPeer:
    """One of the thread test's contenders: `append(entry)` appends one entry durably and may be
    called from many threads at once."""

    def __init__(self, name: str, directory: Path, line: int, seal: int) -> None:
        self.name = name
        self.kfm: peers.KfmWal | None = None
        self.append: Callable[[Any], Any]
        self.group: Callable[[int], bytes] = lambda n: b""
        if name == "kfm-wal":
            self.kfm = peers.KfmWal(directory)
            self.append = self.kfm.append
            self.close: Callable[[], None] = self.kfm.close
        elif name == "sqlite":
            db = peers.SQLite(directory)
            lock = threading.Lock()

            def append(entry: dict[str, Any]) -> None:
                with lock:  # one connection shared by the threads: one transaction at a time
                    db.append_many([entry])

            self.append, self.close = append, db.close
        elif name == "raw write+fdatasync":
            floor = peers.RawFloor(directory)
            data = floor.payload(line + seal)  # what kfm-wal writes for one single append

            def write(entry: dict[str, Any]) -> None:
                floor.write(data)

            self.append, self.close = write, floor.close
        elif name == GROUPED:
            # The ceiling of group commit on this disk: what N threads' appends would cost if a
            # perfect group commit gathered one entry from each of them, with no CPU work at all:
            # one thread writing N intent lines + one seal, then one fdatasync, `per` times. Its
            # "vs 1 thread" is the best ratio any group commit can reach when a sync's cost grows
            # with the bytes it carries.
            grouped = peers.RawFloor(directory)
            self.group = lambda n: grouped.payload(n * line + seal)  # bytes for one group of n
            self.append, self.close = grouped.write, grouped.close
        else:
            raise ValueError(name)


def run_threads(cfg: Config, pool: list[dict[str, Any]], scratch: Scratch, line: int, seal: int) -> dict[str, Any]:
    per = cfg.thread_appends
    if max(cfg.thread_counts) * per > len(pool):
        raise ValueError("entry pool too small for the thread test")
    raw: dict[str, dict[int, list[float]]] = {p: {n: [] for n in cfg.thread_counts} for p in THREAD_PEERS}
    groups: dict[int, list[float]] = {n: [] for n in cfg.thread_counts}
    per_sync: dict[int, list[float]] = {n: [] for n in cfg.thread_counts}
    sequences: dict[int, list[int]] = {}
    for r in range(cfg.thread_rounds + 1):
        say(f"  threads {'warm-up' if r == 0 else f'round {r}/{cfg.thread_rounds}'} ...")
        for j, n in enumerate(rotated(cfg.thread_counts, r)):
            for name in rotated(THREAD_PEERS, r + j):
                d = scratch.fresh(f"threads-{name}-{n}")
                peer = ThreadPeer(name, d, line, seal)
                seq0 = peer.kfm.wal.head[0] if peer.kfm else 0
                barrier = threading.Barrier(2 if name == GROUPED else n + 1)
                errors: list[BaseException] = []

                def worker(
                    entries: list[dict[str, Any]],
                    append: Callable[[Any], Any] = peer.append,
                    go: threading.Barrier = barrier,
                    errs: list[BaseException] = errors,
                ) -> None:
                    go.wait()
                    try:
                        for e in entries:
                            append(e)
                    except BaseException as exc:  # reported after the run
                        errs.append(exc)

                if name == GROUPED:
                    threads = [threading.Thread(target=worker, args=([peer.group(n)] * per,))]
                else:
                    threads = [threading.Thread(target=worker, args=(pool[i * per : (i + 1) * per],)) for i in range(n)]
                for t in threads:
                    t.start()
                settle()
                barrier.wait()
                t0 = time.perf_counter()
                for t in threads:
                    t.join()
                dt = time.perf_counter() - t0
                commits = peer.kfm.wal.head[0] - seq0 - n * per if peer.kfm else 0  # one seal per group commit
                syncs = peer.kfm.wal.stats["syncs"] if peer.kfm else 0
                peer.close()
                if r > 0 and peer.kfm:
                    sequences[n] = commit_sizes(d)
                scratch.remove(d)
                if errors:
                    raise RuntimeError(f"{name}: {len(errors)} thread(s) failed: {errors[0]!r}")
                if r > 0:
                    raw[name][n].append(n * per / dt)
                    if peer.kfm:
                        groups[n].append(n * per / commits)
                        per_sync[n].append(n * per / max(syncs, 1))
    out: dict[str, Any] = {"appends_per_thread": per, "peers": {}, "threads": {}, "ratios": {}}
    for name in THREAD_PEERS:
        out["peers"][name] = {str(n): summarize(raw[name][n]) for n in cfg.thread_counts}
    kfm = raw["kfm-wal"]
    for n in cfg.thread_counts:
        seq = sequences.get(n, [])
        out["threads"][str(n)] = {
            **summarize(kfm[n]),
            "entries_per_commit": statistics.median(groups[n]),
            # one fdatasync may cover several group commits (the sync stage runs while the next
            # group is written)
            "entries_per_sync": statistics.median(per_sync[n]),
            # from the last round: how many entries each group commit carried, in log order
            "commit_sizes_first": seq[:24],
            "commit_size_histogram": {str(k): v for k, v in sorted(Counter(seq).items())},
        }
    for other in THREAD_PEERS[1:]:
        out["ratios"][f"kfm-wal/{other}"] = {str(n): paired_ratio(kfm[n], raw[other][n]) for n in cfg.thread_counts}
    if 1 in kfm:
        for name in THREAD_PEERS:
            base = statistics.median(raw[name][1])
            for n in cfg.thread_counts:
                out["peers"][name][str(n)]["vs_1_thread"] = statistics.median(raw[name][n]) / base
        for n in cfg.thread_counts:
            out["threads"][str(n)]["vs_1_thread"] = out["peers"]["kfm-wal"][str(n)]["vs_1_thread"]
        if 8 in kfm:
            out["ratio_8_1"] = paired_ratio(kfm[8], kfm[1])
    return out


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Ratio of the medians of a and b, and the range of the per-round ratios a[i] / b[i]."""
    paired = [x / y for x, y in zip(a, b, strict=False)]
    return {
        "ratio_of_medians": statistics.median(a) / statistics.median(b),
        "paired": paired,
        "paired_min": min(paired) if paired else None,
        "paired_max": max(paired) if paired else None,
    }


# --------------------------------------------------------------------------- 4. validation

# Validators run on every archive, each run in a fresh process (benches/child.py).
VALIDATORS: dict[str, list[str]] = {
    "kfm-wal verify": ["verify"],
    "kfm-wal verify, check_bodies=False": ["verify", "--no-bodies"],
    "kfm-wal verify, check_signatures=False": ["verify", "--no-signatures"],
    "sha256 read+hash": ["sha256"],
}
KFM_VERIFY, KFM_NO_BODIES, KFM_NO_SIGNATURES, SHA_PASS = VALIDATORS
REF_VERIFY = "reference verify"


def warm(files: Sequence[Path]) -> None:
    """Read the files once so that every validator reads them from the page cache."""
    buf = bytearray(1 << 22)
    for f in files:
        with open(f, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass


def mem_summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Peak RSS over a validator's runs (each its own process), in MB."""
    peaks = [r["peak_kb"] * 1024 / MB for r in runs]
    added = [(r["peak_kb"] - r["rss_before_kb"]) * 1024 / MB for r in runs]
    return {
        "peak_mb": max(peaks),
        "peak_mb_median": statistics.median(peaks),
        "added_mb": max(added),
        "rss_before_mb": statistics.median(r["rss_before_kb"] * 1024 / MB for r in runs),
        "sampled_anon_mb": max(r.get("sampled_anon_kb", 0) for r in runs) * 1024 / MB,
        "sampled_file_mb": max(r.get("sampled_file_kb", 0) for r in runs) * 1024 / MB,
        "peak_reset": all(r.get("peak_reset") for r in runs),
    }


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, Any]:
    """Least squares y = a*x + b, and how the cost per unit of x grows from the smallest x to the
    largest: (y/x at the largest) / (y/x at the smallest)."""
    n = len(xs)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    a = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else float("nan")
    b = my - a * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (a * x + b)) ** 2 for x, y in zip(xs, ys, strict=True))
    per = [y / x for x, y in zip(xs, ys, strict=True)]
    growth = per[-1] / per[0] if n >= 2 and per[0] else float("nan")
    return {
        "a": a,
        "b": b,
        "r2": 1 - ss_res / ss_tot if ss_tot else 1.0,
        "per_unit": per,
        "growth": growth,
        "nonlinear": bool(growth > NONLINEAR_LIMIT),
    }


def run_validation(cfg: Config, tmp_dir: Path, seed: int) -> dict[str, Any]:
    root = tmp_dir / "archives"
    root.mkdir(parents=True, exist_ok=True)
    pruned = archives.prune(root)
    if pruned:
        say(f"  removed {len(pruned)} stale archive(s): {', '.join(pruned)}")
    arcs = [archives.ensure(root, mb, cfg.archive_batch, seed, say) for mb in cfg.archive_mb]
    say("  warming the page cache (not timed) ...")
    for a in arcs:
        warm(a.files())
    notes: list[str] = []
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {v: {a.key: [] for a in arcs} for v in VALIDATORS}

    def checked(name: str, a: archives.Archive, res: dict[str, Any]) -> dict[str, Any]:
        if not res.get("ok", False):
            notes.append(
                f"{name} on the {a.mb:,.0f} MB archive reported {res.get('findings')} finding(s): {res.get('codes')}"
            )
        return res

    for r in range(cfg.archive_rounds):
        say(f"  validation round {r + 1}/{cfg.archive_rounds} ...")
        for i, a in enumerate(arcs):
            for name in rotated(list(VALIDATORS), r + i):
                res = child.run([*VALIDATORS[name][:1], a.path, *VALIDATORS[name][1:]])
                runs[name][a.key].append(checked(name, a, res))
    small = arcs[0]
    ref_runs: list[dict[str, Any]] = []
    for r in range(cfg.ref_archive_rounds):
        say(f"  reference verifier on the {small.mb:,.0f} MB archive, run {r + 1}/{cfg.ref_archive_rounds} ...")
        ref_runs.append(checked(REF_VERIFY, small, child.run(["reference", small.path])))

    sizes: list[dict[str, Any]] = []
    for a in arcs:
        row: dict[str, Any] = {
            "key": a.key,
            "mb": a.mb,
            "bytes": a.bytes,
            "segments": a.segments,
            "intents": a.intents,
            "completions": a.completions,
            "build_s": a.build_s,
            "cached": a.build_s is None,
            "validators": {},
        }
        for name in VALIDATORS:
            rs = runs[name][a.key]
            secs = [x["seconds"] for x in rs]
            row["validators"][name] = {
                "seconds": summarize(secs, higher_is_better=False),
                "mb_per_s": summarize([a.mb / t for t in secs]),
                "memory": mem_summary(rs),
            }
        sha = [x["seconds"] for x in runs[SHA_PASS][a.key]]
        row["ratios"] = {
            # throughput ratios: kfm-wal MB/s / sha256 MB/s = sha256 time / kfm-wal time
            f"{v} / {SHA_PASS}": paired_ratio(sha, [x["seconds"] for x in runs[v][a.key]])
            for v in (KFM_VERIFY, KFM_NO_BODIES, KFM_NO_SIGNATURES)
        }
        sizes.append(row)
    ref_secs = [x["seconds"] for x in ref_runs]
    kfm_small = [x["seconds"] for x in runs[KFM_VERIFY][small.key]]
    reference = {
        "archive_mb": small.mb,
        "seconds": summarize(ref_secs, higher_is_better=False),
        "mb_per_s": summarize([small.mb / t for t in ref_secs]),
        "memory": mem_summary(ref_runs),
        # kfm-wal MB/s / reference MB/s on the same archive
        "ratio": paired_ratio(ref_secs, kfm_small[: len(ref_secs)])
        | {"ratio_of_medians": statistics.median(ref_secs) / statistics.median(kfm_small)},
    }
    xs = [a.mb for a in arcs]
    fits: dict[str, Any] = {}
    fits_median: dict[str, Any] = {}
    mem_fits: dict[str, Any] = {}
    if len(arcs) >= 2:
        for name in VALIDATORS:
            # Fitted on the best run of each size: on a shared machine noise only ever adds time
            # (a neighbour taking one of the cores halves a two-thread verifier), and one slow run
            # out of three at one size would otherwise read as nonlinear growth. The medians are
            # fitted too, for information.
            fits[name] = linear_fit(xs, [row["validators"][name]["seconds"]["min"] for row in sizes])
            fits_median[name] = linear_fit(xs, [row["validators"][name]["seconds"]["median"] for row in sizes])
            mem_fits[name] = linear_fit(xs, [row["validators"][name]["memory"]["peak_mb"] for row in sizes])
    return {
        "archive_batch": cfg.archive_batch,
        "archive_dir": str(root),
        "sizes": sizes,
        "reference": reference,
        "fits": fits,
        "fits_median": fits_median,
        "memory_fits": mem_fits,
        "notes": sorted(set(notes)),
    }


# --------------------------------------------------------------------------- 5. signatures


def seal_items(directory: Path) -> list[tuple[Any, bytes, bytes]]:
    """(public key, signature, signed message) of every seal of a log, as a verifier must check
    them (docs/FORMAT.md: the message is built by the reference implementation's seal_message)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    ref = peers.load_reference()
    log_id: str | None = None
    keys: dict[str, Any] = {}
    items: list[tuple[Any, bytes, bytes]] = []
    for rec in kfm_wal.records(directory):
        if rec.kind == "header":
            b = rec.body
            log_id = b["log_id"]
            keys.setdefault(b["key_id"], Ed25519PublicKey.from_public_bytes(base64.b64decode(b["public_key"])))
        elif rec.kind == "seal":
            b = rec.body
            msg = ref.seal_message(log_id, b["seq"], b["timestamp"], b["prev"], b["closes"])
            items.append((keys[b["key_id"]], base64.b64decode(b["signature"]), msg))
    return items


def run_signatures(cfg: Config, scratch: Scratch) -> dict[str, Any]:
    say(f"  building a log of {cfg.sig_commits:,} tiny commits (not timed) ...")
    d = scratch.fresh("sig-tiny")
    info = archives.build_tiny_commits(d, cfg.sig_commits)
    items = seal_items(d)
    n = len(items)
    for pk, sig, msg in items:  # the peer checks exactly what kfm-wal checks, and it all verifies
        pk.verify(sig, msg)
    seal_bytes = 0
    for f in peers.log_files(d):
        seal_bytes += sum(len(x) for x in f.read_bytes().splitlines(keepends=True) if b'"kind":"seal"' in x[:160])
    notes: list[str] = []

    def crypto_loop() -> None:
        for pk, sig, msg in items:
            pk.verify(sig, msg)

    def kfm(bodies: bool) -> Callable[[], None]:
        def run() -> None:
            rep = kfm_wal.verify(d, check_bodies=bodies)
            if not rep.ok:
                notes.append(
                    f"kfm_wal.verify(check_bodies={bodies}) on the tiny-commit log: {len(rep.findings)} finding(s)"
                )

        return run

    contenders: dict[str, Callable[[], None]] = {
        "cryptography Ed25519PublicKey.verify loop": crypto_loop,
        "kfm-wal verify, check_bodies=False": kfm(False),
        "kfm-wal verify": kfm(True),
    }
    times: dict[str, list[float]] = {c: [] for c in contenders}
    for r in range(cfg.sig_rounds + 1):
        say(f"  signatures {'warm-up' if r == 0 else f'round {r}/{cfg.sig_rounds}'} ...")
        for name in rotated(list(contenders), r):
            gc.collect()
            t0 = time.perf_counter()
            contenders[name]()
            dt = time.perf_counter() - t0
            if r > 0:
                times[name].append(dt)
    scratch.remove(d)
    crypto = "cryptography Ed25519PublicKey.verify loop"
    rows = {
        name: {"seconds": summarize(ts, False), "seals_per_s": summarize([n / t for t in ts])}
        for name, ts in times.items()
    }
    return {
        "log": info | {"seals": n, "seal_bytes": seal_bytes},
        "rows": rows,
        "ratios": {
            f"{name} / {crypto}": paired_ratio(times[crypto], times[name]) for name in contenders if name != crypto
        },
        "rayon_threads": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "notes": sorted(set(notes)),
    }


# --------------------------------------------------------------------------- 6. writer memory

WRITER_PEERS = ("kfm-wal", "sqlite")


def run_writer_memory(cfg: Config, scratch: Scratch, seed: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in WRITER_PEERS}
    for r in range(cfg.writer_rounds):
        say(f"  writer under load, round {r + 1}/{cfg.writer_rounds} ...")
        for name in rotated(WRITER_PEERS, r):
            d = scratch.fresh(f"writer-mem-{name}")
            settle()
            res = child.run(
                [
                    "writer",
                    name,
                    d,
                    "--threads",
                    cfg.writer_threads,
                    "--appends",
                    cfg.writer_appends,
                    "--seed",
                    seed + r,
                ]
            )
            scratch.remove(d)
            if not res["ok"]:
                raise RuntimeError(f"writer {name} failed: {res['error']}")
            runs[name].append(res)
    rows = {
        name: {
            "memory": mem_summary(rs),
            "entries_per_s": summarize([x["entries_per_s"] for x in rs]),
        }
        for name, rs in runs.items()
    }
    kfm_peaks = [x["peak_kb"] for x in runs["kfm-wal"]]
    sq_peaks = [x["peak_kb"] for x in runs["sqlite"]]
    return {
        "threads": cfg.writer_threads,
        "appends_per_thread": cfg.writer_appends,
        "rows": rows,
        "ratio_peak": paired_ratio(kfm_peaks, sq_peaks),
    }


# --------------------------------------------------------------------------- report


def judge(results: dict[str, Any]) -> list[Target]:
    tp = results["throughput"]["ratios"]
    b = str(TARGET_BATCH)
    t1 = Target(
        "append_many_vs_reference",
        f"append_many throughput at batch {TARGET_BATCH:,}: kfm-wal / reference",
        ">=",
        8.0,
        tp["kfm-wal/reference"][b]["ratio_of_medians"],
        tp["kfm-wal/reference"][b]["paired"],
    )
    t2 = Target(
        "append_many_vs_sqlite",
        f"append_many throughput at batch {TARGET_BATCH:,}: kfm-wal / SQLite",
        ">=",
        4.0,
        tp["kfm-wal/sqlite"][b]["ratio_of_medians"],
        tp["kfm-wal/sqlite"][b]["paired"],
    )
    lat = results["latency"]
    t3 = Target(
        "append_latency_p50_vs_raw",
        "single durable append p50: kfm-wal / raw write+fdatasync",
        "<=",
        1.5,
        lat["ratio_p50"],
        [c["ratio"] for c in lat["chunks"]],
    )
    th = results["threads"].get("ratio_8_1")
    t4 = Target(
        "threads_8_vs_1",
        "concurrent single appends on one Wal: 8 threads / 1 thread",
        ">=",
        6.0,
        th["ratio_of_medians"] if th else None,
        th["paired"] if th else [],
    )
    targets = [t1, t2, t3, t4]
    if "ops_writes" in results:
        ow = results["ops_writes"]
        j = ops_writes.judged(ow)
        targets.append(
            Target(
                "ops_guarded_vs_direct",
                f"guarded small file writes ({ow['files']:,} x {ow['file_bytes']} B, ops.run_batch of "
                f"{ow['batch']:,}): time / direct atomic writes (dir fsync per file)",
                "<=",
                ops_writes.TARGET,
                j["ratio_of_medians"],
                j["paired"],
            )
        )
    return targets


def verdict(t: Target) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[t.passed]


def paired_range(vals: Sequence[float]) -> str:
    return f"{min(vals):.2f}-{max(vals):.2f}x" if vals else "-"


def render(results: dict[str, Any], targets: list[Target]) -> tuple[str, str]:
    """(plain text for the terminal, Markdown for the results file)."""
    m, w, cfg = results["machine"], results["workload"], results["config"]
    tp, lat = results["throughput"], results["latency"]
    txt: list[str] = []
    md: list[str] = []

    head = (
        f"kfm-wal benchmarks ({cfg['name']}) {results['started']}: {m['cpu_model']}, {m['cores']} cores, "
        f"Python {m['python']}, Linux {m['kernel']}, {m['filesystem']} on {m['fs_device']}"
    )
    wl = (
        f"workload: {w['pool']:,} intents built up front (seed {w['seed']}), "
        f"encoded {w['mean_bytes']:.0f} B mean ({w['min_bytes']}-{w['max_bytes']}), "
        f"log line {w['intent_line_bytes']} B + seal line {w['seal_line_bytes']} B per commit"
    )
    txt += [head, wl, ""]
    md += [
        "# kfm-wal benchmark results",
        "",
        f"- run: {cfg['name']}, {results['started']}, {results['elapsed_s']:.0f} s",
        f"- machine: {m['cpu_model']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB, Python {m['python']}, Linux {m['kernel']}",
        f"- file system of the scratch logs: {m['filesystem']} on {m['fs_device']} ({m['fs_mount']}, "
        f"{m['fs_options']}), same as the repository: {m['same_fs_as_repo']}",
        f"- kfm-wal {m['kfm_wal']} at {m['git_commit'] or '?'}{' (dirty tree)' if m['git_dirty'] else ''} "
        f"({m['kfm_wal_core']}); SQLite {m['sqlite']}; orjson {m['orjson']}",
        f"- load average at start / end: {', '.join(f'{x:.2f}' for x in m['loadavg_start'])} / "
        f"{', '.join(f'{x:.2f}' for x in m['loadavg_end'])}",
        f"- {wl}",
        "",
    ]

    # targets
    txt.append("Targets (ratios of medians; in brackets the range of per-round paired ratios):")
    md += [
        "## Targets",
        "",
        "| target | measured | paired range | goal | result |",
        "|---|---:|---:|---:|---|",
    ]
    for t in targets:
        meas = f"{t.measured:.2f}x" if t.measured is not None else "-"
        txt.append(f"  {verdict(t):4s}  {t.what}: {meas} [{paired_range(t.paired)}]  (goal {t.op} {t.value:g}x)")
        md.append(f"| {t.what} | {meas} | {paired_range(t.paired)} | {t.op} {t.value:g}x | **{verdict(t)}** |")
    txt.append("")
    md.append("")

    # throughput
    names = list(tp["peers"])
    batch_sizes = list(tp["entries_per_run"])
    txt.append(
        f"1. Durable append_many throughput, entries/s (median of {cfg['rounds']} rounds after a warm-up; "
        "±: half the min-max range, relative to the median)"
    )
    short = {peers.RawFloor.name: "raw floor", KfmCoreOnly.name: "core-only (diag)"}
    col = 18
    txt.append("  " + "batch".ljust(8) + "".join(short.get(n, n).ljust(col) for n in names))
    for bs in batch_sizes:
        row = "  " + f"{int(bs):,}".ljust(8)
        for n in names:
            s = tp["peers"][n][bs]
            row += f"{rate(s['median'])} ±{pct(s['spread'] / 2)}".ljust(col)
        txt.append(row)
    txt.append(
        "  (raw floor: the same bytes, one write + fdatasync per batch; core-only: kfm-wal fed pre-encoded "
        "bodies, a diagnostic)"
    )
    txt.append("  ratios (of medians) [paired range]:")
    for key in tp["ratios"]:
        txt.append(
            "    "
            + key.ljust(34)
            + "  ".join(
                f"b{int(bs):,}: {tp['ratios'][key][bs]['ratio_of_medians']:.2f}x "
                f"[{tp['ratios'][key][bs]['paired_min']:.2f}-{tp['ratios'][key][bs]['paired_max']:.2f}]"
                for bs in batch_sizes
            )
        )
    txt.append("")

    md += [
        "## 1. Durable `append_many` throughput",
        "",
        f"Entries/s, median of {cfg['rounds']} interleaved rounds after a discarded warm-up; (min-max). "
        "Entries per timed run: "
        + ", ".join(f"batch {int(b):,}: {n:,}" for b, n in tp["entries_per_run"].items())
        + ".",
        "",
        "| batch | " + " | ".join(names) + " |",
        "|---:|" + "---:|" * len(names),
    ]
    for bs in batch_sizes:
        cells = [
            f"{rate(tp['peers'][n][bs]['median'])} ({rate(tp['peers'][n][bs]['min'])}-"
            f"{rate(tp['peers'][n][bs]['max'])})"
            for n in names
        ]
        md.append(f"| {int(bs):,} | " + " | ".join(cells) + " |")
    md += [
        "",
        "| ratio | " + " | ".join(f"batch {int(b):,}" for b in batch_sizes) + " |",
        "|---|" + "---:|" * len(batch_sizes),
    ]
    for key in tp["ratios"]:
        md.append(
            f"| {key} | "
            + " | ".join(
                f"{tp['ratios'][key][bs]['ratio_of_medians']:.2f}x "
                f"({tp['ratios'][key][bs]['paired_min']:.2f}-{tp['ratios'][key][bs]['paired_max']:.2f})"
                for bs in batch_sizes
            )
            + " |"
        )
    md += [
        "",
        "`kfm-wal core (pre-encoded)` is a diagnostic, not a peer: the core fed bodies already "
        "encoded by orjson, so the gap to `kfm-wal` is the Python-side encoding. `raw write+fdatasync` "
        "writes the same number of bytes kfm-wal writes (intent lines + one seal) with one fdatasync "
        "per batch.",
        "",
    ]

    # latency
    k, r_ = lat["kfm-wal"], lat["raw"]
    txt.append(
        f"2. Single durable append latency, {lat['samples']} interleaved samples each "
        f"(~{lat['bytes_per_append_mean']:.0f} bytes per append)"
    )
    txt.append("  " + "".ljust(24) + "p50".ljust(11) + "p90".ljust(11) + "p99".ljust(11) + "mean".ljust(11) + "max")
    for label, s in (("kfm-wal append", k), ("raw write+fdatasync", r_)):
        txt.append(
            "  "
            + label.ljust(24)
            + "".join(f"{s[x]:.0f} us".ljust(11) for x in ("p50_us", "p90_us", "p99_us", "mean_us"))
            + f"{s['max_us']:.0f} us"
        )
    chunk_txt = ", ".join(f"{c['kfm_p50_us']:.0f}/{c['raw_p50_us']:.0f}" for c in lat["chunks"])
    txt.append(
        f"  ratio p50 {lat['ratio_p50']:.2f}x, p99 {lat['ratio_p99']:.2f}x; p50 per chunk kfm/raw (us): {chunk_txt}"
    )
    txt.append(f"  (diag: kfm-wal append with durability none, i.e. its CPU cost: p50 {lat['cpu_only_p50_us']:.0f} us)")
    txt.append("")
    md += [
        "## 2. Single durable `append` latency",
        "",
        f"{lat['samples']} samples each after {lat['warmup_discarded']} discarded, kfm-wal and raw "
        "interleaved (alternating which goes first); the raw write has the same size as kfm-wal's "
        f"previous append (mean {lat['bytes_per_append_mean']:.0f} bytes: intent line + seal).",
        "",
        "| | p50 | p90 | p99 | mean | min | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, s in (("kfm-wal `append`", k), ("raw write + fdatasync", r_)):
        md.append(
            f"| {label} | "
            + " | ".join(f"{s[x]:.0f} us" for x in ("p50_us", "p90_us", "p99_us", "mean_us", "min_us", "max_us"))
            + " |"
        )
    md += [
        "",
        f"Ratio kfm-wal / raw: p50 {lat['ratio_p50']:.2f}x, p99 {lat['ratio_p99']:.2f}x. p50 per chunk "
        f"of {lat['samples'] // len(lat['chunks'])} samples (kfm-wal / raw, us): {chunk_txt}.",
        "",
        f"Diagnostic: the same appends with durability `none` (no fdatasync; kfm-wal's own CPU cost) take "
        f"p50 {lat['cpu_only_p50_us']:.0f} us.",
        "",
    ]

    sections = (
        render_threads,
        render_validation,
        render_signatures,
        render_memory,
        render_scaling,
        render_ops,
        render_undo,
    )
    for section in sections:
        t_lines, m_lines = section(results)
        txt += t_lines
        md += m_lines
    if results.get("gate"):
        t_lines, m_lines = render_gate(results["gate"])
        txt += t_lines
        md += m_lines

    if results["warnings"]:
        txt.append("Warnings:")
        md += ["## Warnings", ""]
        for wmsg in results["warnings"]:
            txt.append(f"  - {wmsg}")
            md.append(f"- {wmsg}")
        md.append("")
    return "\n".join(txt), "\n".join(md)


def ratio_cell(r: dict[str, Any]) -> str:
    lo, hi = r.get("paired_min"), r.get("paired_max")
    rng = f" ({lo:.2f}-{hi:.2f})" if lo is not None and hi is not None and len(r.get("paired", [])) > 1 else ""
    return f"{r['ratio_of_medians']:.2f}x{rng}"


def mb_fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def render_threads(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    th, cfg = results["threads"], results["config"]
    names = list(th["peers"])
    counts = list(th["threads"])
    txt = [
        f"3. Threads appending single entries durably ({th['appends_per_thread']} appends per thread; "
        f"median of {cfg['thread_rounds']} rounds), entries/s",
        "  threads  " + "".join(n.ljust(22) for n in names) + "kfm-wal entries per sync, per commit",
    ]
    md = [
        "## 3. Threads appending single entries durably",
        "",
        f"Each of N threads appends {th['appends_per_thread']} entries, one durable call each; median of "
        f"{cfg['thread_rounds']} interleaved rounds after a warm-up; (min-max). kfm-wal: one `Wal`, whose group "
        "commit can carry at most one entry per thread. sqlite: one connection shared by the threads under a "
        "lock, one transaction (synchronous=FULL) per entry. raw write+fdatasync: one file, every thread "
        "writing as many bytes as one kfm-wal append (intent line + seal) then calling fdatasync. "
        f"{GROUPED}: the ceiling of any group commit on this disk, no CPU work at all: one thread writing "
        "N intent lines + one seal with one fdatasync per group; its `vs 1 thread` is the best 8-thread "
        "ratio a group commit can reach when a sync costs more the more bytes it carries. kfm-wal's "
        "group commit is a two-stage pipeline: a group (one seal) is written while the previous sync runs, "
        "and one fdatasync covers every group written before it started, so entries per sync can exceed "
        "entries per commit.",
        "",
        "| threads | "
        + " | ".join(f"{n} entries/s" for n in names)
        + " | kfm-wal vs 1 thread | "
        + " | ".join(f"kfm-wal / {n}" for n in names[1:])
        + " | kfm-wal entries per sync | kfm-wal entries per commit |",
        "|---:|" + "---:|" * (len(names) * 2 + 2),
    ]
    for n in counts:
        cells = [th["peers"][p][n] for p in names]
        k = th["threads"][n]
        txt.append(
            f"  {n:<8} "
            + "".join(f"{rate(c['median'])} ({c.get('vs_1_thread', float('nan')):.2f}x)".ljust(22) for c in cells)
            + f"{k.get('entries_per_sync', float('nan')):.1f}, "
            + f"{k['entries_per_commit']:.1f} ({','.join(map(str, k['commit_sizes_first'][:12]))})"
        )
        md.append(
            f"| {n} | "
            + " | ".join(f"{rate(c['median'])} ({rate(c['min'])}-{rate(c['max'])})" for c in cells)
            + f" | {k.get('vs_1_thread', float('nan')):.2f}x | "
            + " | ".join(ratio_cell(th["ratios"][f"kfm-wal/{p}"][n]) for p in names[1:])
            + f" | {k.get('entries_per_sync', float('nan')):.1f} | {k['entries_per_commit']:.1f} |"
        )
    txt.append("  (in brackets: vs 1 thread of the same peer; last column: first group commits of the last round)")
    for p in names[1:]:
        txt.append(
            f"  kfm-wal / {p}: "
            + ", ".join(f"{n}t {th['ratios'][f'kfm-wal/{p}'][n]['ratio_of_medians']:.2f}x" for n in counts)
        )
    txt.append("")
    md += ["", "First group commits of the last kfm-wal round (entries per commit): "]
    for n in counts:
        md.append(f"- {n} threads: {', '.join(map(str, th['threads'][n]['commit_sizes_first'][:16]))}")
    md.append("")
    return txt, md


def render_validation(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    va, cfg = results["validation"], results["config"]
    sizes, ref = va["sizes"], va["reference"]
    names = list(sizes[0]["validators"])
    txt = [
        f"4. Validation of cached archives ({cfg['archive_rounds']} runs each, every run a fresh process; "
        "warm page cache), MB/s and ratio to sha256 read+hash"
    ]
    md = [
        "## 4. Validation throughput vs archive size",
        "",
        f"Archives in `{va['archive_dir']}` (group commits of {va['archive_batch']} intents, each followed by a "
        "group commit completing the previous batch), built once with durability `none` and reused. Every run is "
        f"a fresh process (`benches/child.py`); median of {cfg['archive_rounds']} runs, validators interleaved, "
        "files read from a warm page cache. `check_bodies=False` skips the record schema checks and "
        "intent/completion pairing (hashes, chain, seals and their signatures still checked); "
        "`check_signatures=False` skips only the Ed25519 check of each seal (a measure of what signatures "
        "cost, never a verdict: the report says signatures were skipped). Section 5 measures the signatures "
        "on their own.",
        "",
        "| archive | segments | records (intents + completions) | built | "
        + " | ".join(f"{n} MB/s" for n in names)
        + " | kfm-wal verify / sha256 | check_bodies=False / sha256 | check_signatures=False / sha256 |",
        "|---:|---:|---:|---|" + "---:|" * (len(names) + 3),
    ]
    for row in sizes:
        v = row["validators"]
        built = "cached" if row["cached"] else f"now, {row['build_s']:.0f} s"
        r1 = row["ratios"][f"{KFM_VERIFY} / {SHA_PASS}"]
        r2 = row["ratios"][f"{KFM_NO_BODIES} / {SHA_PASS}"]
        r3 = row["ratios"][f"{KFM_NO_SIGNATURES} / {SHA_PASS}"]
        md.append(
            f"| {mb_fmt(row['mb'])} MB | {row['segments']} | {row['intents'] + row['completions']:,} | {built} | "
            + " | ".join(
                f"{v[n]['mb_per_s']['median']:.0f} ({v[n]['mb_per_s']['min']:.0f}-{v[n]['mb_per_s']['max']:.0f}); "
                f"{v[n]['seconds']['median']:.2f} s"
                for n in names
            )
            + f" | {ratio_cell(r1)} | {ratio_cell(r2)} | {ratio_cell(r3)} |"
        )
        txt.append(
            f"  {mb_fmt(row['mb']):>7} MB: "
            + ", ".join(f"{n} {v[n]['mb_per_s']['median']:.0f} MB/s ({v[n]['seconds']['median']:.2f} s)" for n in names)
        )
        txt.append(
            f"             kfm-wal verify / sha256 {r1['ratio_of_medians']:.2f}x, "
            f"check_bodies=False / sha256 {r2['ratio_of_medians']:.2f}x, "
            f"check_signatures=False / sha256 {r3['ratio_of_medians']:.2f}x"
        )
    txt.append(
        f"  reference verify on the {mb_fmt(ref['archive_mb'])} MB archive: {ref['mb_per_s']['median']:.1f} MB/s "
        f"({ref['seconds']['median']:.1f} s); kfm-wal verify / reference: {ref['ratio']['ratio_of_medians']:.1f}x"
    )
    md += [
        "",
        f"Reference verifier (pure Python) on the {mb_fmt(ref['archive_mb'])} MB archive: "
        f"{ref['mb_per_s']['median']:.1f} MB/s ({ref['seconds']['median']:.1f} s, {ref['seconds']['n']} run(s)); "
        f"kfm-wal verify / reference on the same archive: **{ref['ratio']['ratio_of_medians']:.1f}x**.",
        "",
    ]
    for note in va["notes"]:
        txt.append(f"  NOTE: {note}")
        md.append(f"- **note**: {note}")
    txt.append("")
    md.append("")
    return txt, md


def render_signatures(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    sg = results["signatures"]
    log = sg["log"]
    crypto = "cryptography Ed25519PublicKey.verify loop"
    txt = [
        f"5. Ed25519: {log['seals']:,} seals of a log of {log['commits']:,} tiny commits "
        f"({log['bytes'] / MB:.1f} MB, {100 * log['seal_bytes'] / log['bytes']:.0f}% of it seals), seals verified/s"
    ]
    md = [
        "## 5. Signatures: seals verified per second",
        "",
        f"A log of {log['commits']:,} group commits of one tiny intent each ({log['bytes'] / MB:.1f} MB, "
        f"{log['seals']:,} seals making {100 * log['seal_bytes'] / log['bytes']:.0f}% of its bytes). kfm-wal "
        "verifies the whole log (hashes, chain, every seal's signature; figures are seals in the log / seconds); "
        "the floor peer is `cryptography`'s `Ed25519PublicKey.verify` called in a Python loop over the very same "
        "(key, signature, message) triples, taken from the log (messages per docs/FORMAT.md). Median of "
        f"{sg['rows'][crypto]['seconds']['n']} interleaved rounds after a warm-up. kfm-wal verifies signatures "
        "in batches of up to 1,024 (one multiscalar multiplication per batch, one term per signing key) "
        f"across {sg['rayon_threads']} core(s); the peer uses one.",
        "",
        "| | seals/s | min-max | seconds | vs cryptography loop |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in sg["rows"].items():
        key = f"{name} / {crypto}"
        vs = ratio_cell(sg["ratios"][key]) if key in sg["ratios"] else "1.00x"
        s = row["seals_per_s"]
        md.append(
            f"| {name} | {rate(s['median'])} | {rate(s['min'])}-{rate(s['max'])} | "
            f"{row['seconds']['median']:.3f} | {vs} |"
        )
        txt.append(f"  {name:44s} {rate(s['median']):>8} seals/s  ({vs} vs the cryptography loop)")
    for note in sg["notes"]:
        txt.append(f"  NOTE: {note}")
        md.append(f"- **note**: {note}")
    txt.append("")
    md.append("")
    return txt, md


def render_memory(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    va, wm = results["validation"], results["writer_memory"]
    names = list(va["sizes"][0]["validators"])
    txt = ["6. Peak RSS (MB; each run its own process: VmHWM, reset just before the measured call)"]
    md = [
        "## 6. Memory: peak RSS",
        "",
        "Each figure is the peak resident set (VmHWM) of a fresh process running one measurement, the "
        "high-water mark reset (`/proc/self/clear_refs`) just before the measured call, so it counts what the "
        "interpreter held before (in brackets: that baseline) plus what the call added; the maximum over the runs. "
        "The resident set includes pages of the log files mapped by the verifier (RssFile): the split between "
        "anonymous memory and file pages is sampled from the parent every 10 ms (a lower bound of each peak).",
        "",
        "| archive | " + " | ".join(names) + f" | {REF_VERIFY} |",
        "|---:|" + "---:|" * (len(names) + 1),
    ]
    for i, row in enumerate(va["sizes"]):
        cells = []
        for n in names:
            m = row["validators"][n]["memory"]
            cells.append(
                f"{m['peak_mb']:.0f} (base {m['rss_before_mb']:.0f}; anon {m['sampled_anon_mb']:.0f}, "
                f"file {m['sampled_file_mb']:.0f})"
            )
        ref = va["reference"]["memory"] if i == 0 else None
        ref_cell = f"{ref['peak_mb']:.0f} (base {ref['rss_before_mb']:.0f})" if ref else "-"
        md.append(f"| {mb_fmt(row['mb'])} MB | " + " | ".join(cells) + f" | {ref_cell} |")
        txt.append(
            f"  {mb_fmt(row['mb']):>7} MB: "
            + ", ".join(f"{n} {row['validators'][n]['memory']['peak_mb']:.0f}" for n in names)
            + (f", {REF_VERIFY} {ref['peak_mb']:.0f}" if ref else "")
        )
    largest = va["sizes"][-1]
    kpeak = largest["validators"][KFM_VERIFY]["memory"]["peak_mb"]
    if largest["mb"] >= 4_000 * 0.95:
        verdict_ = "within" if kpeak <= RSS_TARGET_MB else "ABOVE"
        line = (
            f"kfm-wal verify of the {mb_fmt(largest['mb'])} MB archive peaks at {kpeak:.0f} MB: {verdict_} the "
            f"{RSS_TARGET_MB} MB target of the memory issue."
        )
        txt.append("  " + line)
        md += ["", ("**" + line + "**") if verdict_ == "ABOVE" else line]
    if len(va["sizes"]) >= 2:
        a, b = va["sizes"][-2], va["sizes"][-1]
        for name in (KFM_VERIFY, KFM_NO_BODIES):
            pa, pb = (x["validators"][name]["memory"]["peak_mb"] for x in (a, b))
            line = (
                f"{name}: peak RSS {pa:.0f} MB at {mb_fmt(a['mb'])} MB, {pb:.0f} MB at {mb_fmt(b['mb'])} MB "
                f"({1000 * (pb - pa) / (b['mb'] - a['mb']):+.1f} MB per additional GB of archive)."
            )
            txt.append("  " + line)
            md += ["", line]
    md += [
        "",
        f"Writer under load: {wm['threads']} threads each appending {wm['appends_per_thread']:,} entries durably, "
        "one call per entry, in a fresh process (the entries are built before the measured part).",
        "",
        "| writer | peak RSS MB | before load MB | added by the load MB | entries/s |",
        "|---|---:|---:|---:|---:|",
    ]
    txt.append(f"  writer, {wm['threads']} threads x {wm['appends_per_thread']} durable appends:")
    for name, row in wm["rows"].items():
        m = row["memory"]
        md.append(
            f"| {name} | {m['peak_mb']:.0f} | {m['rss_before_mb']:.0f} | {m['added_mb']:.1f} | "
            f"{rate(row['entries_per_s']['median'])} |"
        )
        txt.append(
            f"    {name:8s} peak {m['peak_mb']:.0f} MB (before the load {m['rss_before_mb']:.0f}, "
            f"added {m['added_mb']:.1f}), {rate(row['entries_per_s']['median'])} entries/s"
        )
    md += ["", f"Peak RSS kfm-wal / sqlite: {ratio_cell(wm['ratio_peak'])}.", ""]
    txt.append("")
    return txt, md


def linearity_lines(results: dict[str, Any]) -> list[str]:
    va = results["validation"]
    lines = []
    for name, fit in va["fits"].items():
        per = fit["per_unit"]
        med = va.get("fits_median", {}).get(name)
        lines.append(
            f"{name}: time = {1000 * fit['a']:.3f} ms/MB x size + {fit['b']:.3f} s (R^2 {fit['r2']:.4f}); "
            "per-MB cost "
            + ", ".join(f"{1000 * c:.3f} ms at {mb_fmt(s['mb'])} MB" for c, s in zip(per, va["sizes"], strict=True))
            + f"; largest / smallest {fit['growth']:.2f}x: "
            + (
                f"NONLINEAR (more than {NONLINEAR_LIMIT}x)"
                if fit["nonlinear"]
                else f"linear (within {NONLINEAR_LIMIT}x)"
            )
            + (f" [medians: {med['growth']:.2f}x]" if med else "")
        )
    return lines


def scaling_head(results: dict[str, Any]) -> str:
    va = results["validation"]
    kfm_fit = va["fits"].get(KFM_VERIFY)
    if not kfm_fit:
        return "Only one archive size: no linearity verdict."
    n = results["config"]["archive_rounds"]
    return (
        f"Validation cost {'does NOT grow' if kfm_fit['nonlinear'] else 'grows'} linearly with archive size: "
        f"the per-MB cost of kfm-wal verify at {mb_fmt(va['sizes'][-1]['mb'])} MB is {kfm_fit['growth']:.2f}x that at "
        f"{mb_fmt(va['sizes'][0]['mb'])} MB (flagged above {NONLINEAR_LIMIT}x; fitted on the best of {n} runs "
        "per size, the medians in brackets)."
    )


def render_scaling(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    lines = linearity_lines(results)
    head = scaling_head(results)
    txt = ["7. Scaling", "  " + head] + ["  " + x for x in lines]
    if results.get("plot"):
        txt.append(f"  plot: {results['plot']}")
    txt.append("")
    md = ["## 7. Scaling", "", f"**{head}**", ""] + [f"- {x}" for x in lines] + [""]
    if results.get("plot"):
        md += [f"![scaling curves]({Path(results['plot']).name})", ""]
    return txt, md


def render_scaling_md(results: dict[str, Any]) -> str:
    """benches/results/scaling.md: the two scaling tables and the linearity verdict."""
    th, va, m = results["threads"], results["validation"], results["machine"]
    names = list(th["peers"])
    md = [
        "# kfm-wal scaling",
        "",
        f"- run: {results['config']['name']}, {results['started']}; {m['cpu_model']}, {m['cores']} cores, "
        f"{m['filesystem']} on {m['fs_device']}; kfm-wal at {m['git_commit'] or '?'}",
        "- details and peers: [latest.md](latest.md)",
        "",
        "## Durable appends vs threads (entries/s, median)",
        "",
        "| threads | "
        + " | ".join(names)
        + " | kfm-wal vs 1 thread | "
        + " | ".join(f"kfm-wal / {p}" for p in names[1:])
        + " |",
        "|---:|" + "---:|" * (len(names) * 2),
    ]
    for n in th["threads"]:
        md.append(
            f"| {n} | "
            + " | ".join(rate(th["peers"][p][n]["median"]) for p in names)
            + f" | {th['threads'][n].get('vs_1_thread', float('nan')):.2f}x | "
            + " | ".join(f"{th['ratios'][f'kfm-wal/{p}'][n]['ratio_of_medians']:.2f}x" for p in names[1:])
            + " |"
        )
    vnames = list(va["sizes"][0]["validators"])
    md += [
        "",
        "## Validation time vs archive size (seconds, median; warm page cache)",
        "",
        "| archive MB | " + " | ".join(vnames) + " | kfm-wal verify ms/MB | kfm-wal verify peak RSS MB |",
        "|---:|" + "---:|" * (len(vnames) + 2),
    ]
    for row in va["sizes"]:
        v = row["validators"]
        md.append(
            f"| {row['mb']:,.1f} | "
            + " | ".join(f"{v[n]['seconds']['median']:.3f}" for n in vnames)
            + f" | {1000 * v[KFM_VERIFY]['seconds']['median'] / row['mb']:.3f} | "
            f"{v[KFM_VERIFY]['memory']['peak_mb']:.0f} |"
        )
    _, scaling = render_scaling(results)
    md += [""] + scaling[2:]
    return "\n".join(md) + "\n"


def render_ops(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    if "ops_writes" not in results:
        return [], []
    return ops_writes.render(results["ops_writes"], rate)


def render_undo(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    if "ops_undo" not in results:
        return [], []
    return ops_undo.render(results["ops_undo"], rate)


def render_gate(g: dict[str, Any]) -> tuple[list[str], list[str]]:
    rows = g["rows"]
    failed = [r for r in rows if r["status"] != "PASS"]
    head = (
        f"Regression gate ({g['baseline_path']}): "
        + ("all figures within tolerance" if not failed else f"{len(failed)} of {len(rows)} figure(s) FAILED")
        + ("" if g["judged"] else " (not judged: a full run's sizes differ from --check's; for information)")
    )
    txt = [head] + ["  " + gate.describe(r).replace("\n", "\n  ") for r in rows] + [""]
    md = [
        "## Regression gate",
        "",
        head + ".",
        "",
        "| figure | better | baseline | tolerance | limit | measured | per-round | result |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        meas = f"{r['measured']:.3f}x" if r["measured"] is not None else "-"
        pr = f"{min(r['paired']):.2f}-{max(r['paired']):.2f}x" if r["paired"] else "-"
        md.append(
            f"| {r['what']} (`{r['id']}`) | {r['better']} | {r['baseline']:.3f}x | {100 * r['tolerance']:.0f}% | "
            f"{r['limit']:.3f}x | {meas} | {pr} | **{r['status']}** |"
        )
    md.append("")
    return txt, md


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes: a smoke run in under a minute")
    mode.add_argument(
        "--check",
        action="store_true",
        help="the regression gate: small sizes, compared with the baseline; exit 1 on a regression",
    )
    ap.add_argument(
        "--baseline", type=Path, default=gate.BASELINE, help="baseline file (default benches/baseline.json)"
    )
    ap.add_argument(
        "--update-baseline",
        action="store_true",
        help="with --check: write the measured figures into the baseline file (tolerances kept) instead of judging",
    )
    ap.add_argument(
        "--archive-mb",
        type=lambda v: tuple(float(x) for x in v.split(",")),
        default=None,
        help=f"validation archive sizes in MB, comma-separated (default {','.join(f'{x:g}' for x in FULL.archive_mb)};"
        f" --check {','.join(f'{x:g}' for x in CHECK.archive_mb)})",
    )
    ap.add_argument("--rounds", type=int, default=None, help="measured rounds of the throughput test")
    ap.add_argument(
        "--tmp-dir",
        type=Path,
        default=REPO / ".bench-tmp",
        help="where scratch logs and cached archives go (a real disk file system; default: .bench-tmp in the repo)",
    )
    ap.add_argument("--out", type=Path, default=None, help="results directory (default benches/results)")
    ap.add_argument("--no-plot", action="store_true", help="do not write the scaling PNG (full and quick runs)")
    ap.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    args = ap.parse_args(argv)
    if args.update_baseline and not args.check:
        ap.error("--update-baseline needs --check (the baseline is for the gate's sizes)")

    cfg = CHECK if args.check else QUICK if args.quick else FULL
    if args.rounds is not None:
        cfg = replace(cfg, rounds=max(1, args.rounds))
    if args.archive_mb is not None:
        cfg = replace(cfg, archive_mb=tuple(sorted(args.archive_mb)))
    out_dir = args.out or RESULTS
    stem = cfg.name if cfg.name != "full" else "latest"

    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t_start = time.perf_counter()
    warnings: list[str] = []
    args.tmp_dir.mkdir(parents=True, exist_ok=True)
    root = args.tmp_dir / f"run-{os.getpid()}"
    fstype = mount_of(args.tmp_dir)["fstype"]
    if fstype in ("tmpfs", "ramfs"):
        msg = (
            f"scratch directory {args.tmp_dir} is on {fstype}: fsync there may be free or not what a log "
            "on disk pays; durable-append figures are not meaningful"
        )
        warnings.append(msg)
        say(f"WARNING: {msg}")
    if os.stat(args.tmp_dir).st_dev != os.stat(REPO).st_dev:
        warnings.append(f"scratch directory {args.tmp_dir} is not on the repository's file system")

    pool_size = max(
        max(cfg.batch_entries.values()),
        cfg.latency_warmup + cfg.latency_samples,
        max(cfg.thread_counts) * cfg.thread_appends,
    )
    say(f"kfm-wal bench ({cfg.name}): building {pool_size:,} entries (not timed) ...")
    pool = workload.make_entries(pool_size, seed=args.seed)
    desc = workload.describe(pool)

    results: dict[str, Any] = {
        "started": started,
        "config": asdict(cfg),
        "warnings": warnings,
    }
    steps = 8 if cfg.undo_ops else 7
    with Scratch(root) as scratch:
        results["machine"] = machine_info(root)
        line, seal = calibrate(pool, scratch)
        results["workload"] = {
            "seed": args.seed,
            "version": workload.WORKLOAD_VERSION,
            "pool": len(pool),
            "mean_bytes": desc["mean"],
            "min_bytes": desc["min"],
            "max_bytes": desc["max"],
            "intent_line_bytes": line,
            "seal_line_bytes": seal,
        }
        section_s: dict[str, float] = {}

        def step(i: int, title: str, key: str, fn: Callable[[], Any]) -> None:
            say(f"{i}/{steps} {title}")
            t0 = time.perf_counter()
            results[key] = fn()
            section_s[key] = time.perf_counter() - t0

        step(1, "durable append_many throughput", "throughput", lambda: run_throughput(cfg, pool, scratch, line, seal))
        step(2, "single-append latency", "latency", lambda: run_latency(cfg, pool, scratch))
        step(3, "threads", "threads", lambda: run_threads(cfg, pool, scratch, line, seal))
        pool.clear()  # the entries are not needed any more
        gc.collect()
        step(
            4,
            "validation (archives, fresh processes)",
            "validation",
            lambda: run_validation(cfg, args.tmp_dir, args.seed + 1),
        )
        step(5, "signatures", "signatures", lambda: run_signatures(cfg, scratch))
        step(6, "writer memory", "writer_memory", lambda: run_writer_memory(cfg, scratch, args.seed + 2))
        step(
            7,
            "guarded small file writes (ops.run_batch vs direct atomic writes)",
            "ops_writes",
            lambda: ops_writes.run(
                files=cfg.ops_files,
                batch=cfg.ops_batch,
                size=cfg.ops_bytes,
                rounds=cfg.ops_rounds,
                warmup=cfg.ops_warmup,
                seed=args.seed + 3,
                fresh=scratch.fresh,
                remove=scratch.remove,
                say=say,
            ),
        )
        if cfg.undo_ops:
            step(
                8,
                "rollback and replay (ops.undo, ops.recover vs direct unlinks)",
                "ops_undo",
                lambda: ops_undo.run(
                    ops_count=cfg.undo_ops,
                    batch=cfg.ops_batch,
                    size=cfg.ops_bytes,
                    rounds=cfg.undo_rounds,
                    seed=args.seed + 4,
                    fresh=scratch.fresh,
                    remove=scratch.remove,
                    say=say,
                ),
            )
        results["section_s"] = section_s
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["elapsed_s"] = time.perf_counter() - t_start
    if max(results["machine"]["loadavg_start"][0], results["machine"]["loadavg_end"][0]) > (os.cpu_count() or 1):
        warnings.append("the machine was busy (1-min load average above the core count): expect wide spreads")

    targets = judge(results)
    results["targets"] = [asdict(t) | {"passed": t.passed} for t in targets]
    figs = gate.figures(results)
    results["gate_figures"] = figs
    exit_code = 0
    if args.update_baseline:
        machine = f"{results['machine']['cpu_model']}, {results['machine']['cores']} cores"
        old = gate.load(args.baseline) if args.baseline.exists() else {"figures": {}}
        args.baseline.write_text(
            json.dumps(gate.updated(old, figs, started, machine), indent=2) + "\n", encoding="utf-8"
        )
        say(f"baseline written: {args.baseline}")
    elif args.check and args.baseline.exists():
        rows = gate.compare(figs, gate.load(args.baseline))
        results["gate"] = {"baseline_path": str(args.baseline), "judged": True, "rows": rows}
        if any(r["status"] != "PASS" for r in rows):
            exit_code = 1
    elif args.check:
        say(f"no baseline at {args.baseline}: nothing to judge (run with --update-baseline to create it)")
        exit_code = 2

    if cfg.name != "check" and not args.no_plot:
        try:
            import plot

            png = out_dir / ("scaling.png" if stem == "latest" else f"scaling-{stem}.png")
            results["plot"] = str(plot.scaling_png(results, png))
        except ImportError as exc:
            warnings.append(f"no scaling plot: {exc} (pip install matplotlib)")
    text, markdown = render(results, targets)
    say("")
    say(text)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / f"{stem}.md", out_dir / f"{stem}.json"]
    written[0].write_text(markdown + "\n", encoding="utf-8")
    written[1].write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if cfg.name != "check":
        scaling = out_dir / ("scaling.md" if stem == "latest" else f"scaling-{stem}.md")
        scaling.write_text(render_scaling_md(results), encoding="utf-8")
        written.append(scaling)
        if results.get("plot"):
            written.append(Path(results["plot"]))
    say(f"\nwritten: {', '.join(str(w) for w in written)} ({results['elapsed_s']:.0f} s)")
    if results.get("gate") and args.check:
        failed = [r for r in results["gate"]["rows"] if r["status"] != "PASS"]
        if failed:
            say(f"\nbench-check FAILED: {len(failed)} figure(s) regressed past their tolerance:")
            for r in failed:
                say("  " + gate.describe(r).replace("\n", "\n  "))
        else:
            say(f"\nbench-check passed: {len(results['gate']['rows'])} figures within their tolerances")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
