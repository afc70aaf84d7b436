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
       with and without check_bodies, against one SHA-256 pass over the same bytes (and the
       reference verifier on the smallest archive); each run in a fresh process, with its peak RSS
    5. Ed25519: kfm-wal verifying a log of tiny commits (one seal per intent), in seals/s, against
       `cryptography`'s Ed25519PublicKey.verify in a loop over the same seals
    6. memory: peak RSS of each validation (4) and of a writer under load (8 threads), kfm-wal and
       SQLite
    7. scaling: throughput vs threads and validation time vs archive size (a linear fit, and a
       flag when the per-MB cost at the largest archive exceeds 1.3x that at the smallest):
       benches/results/scaling.{png,md}

Targets are ratios against peers measured in the same run, never absolute timings:

    append_many throughput at batch 1,000   kfm-wal / reference >= 8x, kfm-wal / SQLite >= 4x
    single durable append latency           kfm-wal p50 <= 1.5x raw write+fdatasync p50
    concurrent single appends, one Wal      8 threads / 1 thread >= 6x (group commit)

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
import hashlib
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
    archive_rounds=3,
    ref_archive_rounds=1,
    sig_commits=20_000,
    sig_rounds=5,
    writer_threads=8,
    writer_appends=1_000,
    writer_rounds=2,
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
)

# The regression gate: small sizes, enough rounds for stable medians, under a minute on 2 cores.
CHECK = Config(
    name="check",
    rounds=4,
    batch_entries={1: 30, 100: 500, 1_000: 3_000, 10_000: 10_000},
    latency_samples=400,
    latency_warmup=20,
    latency_chunks=4,
    thread_counts=(1, 2, 4, 8, 16),
    thread_appends=50,
    thread_rounds=3,
    archive_mb=(10, 40),
    archive_batch=100,
    archive_rounds=3,
    ref_archive_rounds=1,
    sig_commits=5_000,
    sig_rounds=3,
    writer_threads=8,
    writer_appends=200,
    writer_rounds=2,
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


def run_threads(cfg: Config, pool: list[dict[str, Any]], scratch: Scratch) -> dict[str, Any]:
    per = cfg.thread_appends
    if max(cfg.thread_counts) * per > len(pool):
        raise ValueError("entry pool too small for the thread test")
    raw: dict[int, list[float]] = {n: [] for n in cfg.thread_counts}
    groups: dict[int, list[float]] = {n: [] for n in cfg.thread_counts}
    sequences: dict[int, list[int]] = {}
    for r in range(cfg.thread_rounds + 1):
        say(f"  threads {'warm-up' if r == 0 else f'round {r}/{cfg.thread_rounds}'} ...")
        for n in rotated(cfg.thread_counts, r):
            d = scratch.fresh(f"threads-{n}")
            kfm = peers.KfmWal(d)
            seq0 = kfm.wal.head[0]
            barrier = threading.Barrier(n + 1)
            errors: list[BaseException] = []

            def worker(
                entries: list[dict[str, Any]],
                wal: peers.KfmWal = kfm,
                gate: threading.Barrier = barrier,
                errs: list[BaseException] = errors,
            ) -> None:
                gate.wait()
                try:
                    for e in entries:
                        wal.append(e)
                except BaseException as exc:  # reported after the run
                    errs.append(exc)

            threads = [threading.Thread(target=worker, args=(pool[i * per : (i + 1) * per],)) for i in range(n)]
            for t in threads:
                t.start()
            settle()
            barrier.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            dt = time.perf_counter() - t0
            commits = kfm.wal.head[0] - seq0 - n * per  # one seal per group commit
            kfm.close()
            if r > 0:
                sequences[n] = commit_sizes(d)
            scratch.remove(d)
            if errors:
                raise RuntimeError(f"{len(errors)} thread(s) failed: {errors[0]!r}")
            if r > 0:
                raw[n].append(n * per / dt)
                groups[n].append(n * per / commits)
    out: dict[str, Any] = {"appends_per_thread": per, "threads": {}}
    for n in cfg.thread_counts:
        seq = sequences.get(n, [])
        out["threads"][str(n)] = {
            **summarize(raw[n]),
            "entries_per_commit": statistics.median(groups[n]),
            # from the last round: how many entries each group commit carried, in log order
            "commit_sizes_first": seq[:24],
            "commit_size_histogram": {str(k): v for k, v in sorted(Counter(seq).items())},
        }
    if 1 in raw:
        base = statistics.median(raw[1])
        for n in cfg.thread_counts:
            out["threads"][str(n)]["vs_1_thread"] = statistics.median(raw[n]) / base
        if 8 in raw:
            paired = [a / b for a, b in zip(raw[8], raw[1], strict=True)]
            out["ratio_8_1"] = {
                "ratio_of_medians": statistics.median(raw[8]) / base,
                "paired": paired,
                "paired_min": min(paired),
                "paired_max": max(paired),
            }
    return out


# --------------------------------------------------------------------------- 4. validation


def build_log(directory: Path, mb: float, batch: int, seed: int) -> dict[str, Any]:
    """A log of about `mb` MB: group commits of `batch` intents, each followed by a group commit
    completing the previous batch's intents. Built with durability "none" (the bytes are the same;
    only the build is faster) and flushed to disk afterwards."""
    target = mb * MB
    p = peers.KfmWal(directory, durability="none")
    wal = p.wal
    i, intents, completions = 0, 0, 0
    chunk = 5_000
    previous: list[dict[str, Any]] = []
    written, archived, live = 0, 0, ""
    while written < target:
        entries = workload.make_entries(chunk, seed=seed, start=i)
        i += chunk
        for k in range(0, chunk, batch):
            b = entries[k : k + batch]
            receipts = wal.append_many(b)
            intents += len(b)
            if previous:
                receipts = wal.complete_many(
                    [
                        {
                            "wal_id": e["wal_id"],
                            "status": "succeeded",
                            "post_state_hash": e["post_state_expected"],
                            "duration_ms": 12.5,
                        }
                        for e in previous
                    ]
                )
                completions += len(previous)
            previous = b
            # bytes so far: the archived segments plus the live one up to its last record + a seal
            last = receipts[-1]
            written = archived + last.offset + 1_500
            if last.segment != live:
                live = last.segment
                archived = peers.log_bytes(directory) - (directory / live).stat().st_size
                written = archived + last.offset + 1_500
            if written >= target:
                break
    p.close()
    os.sync()
    files = peers.log_files(directory)
    return {
        "bytes": sum(f.stat().st_size for f in files),
        "segments": len(files),
        "intents": intents,
        "completions": completions,
    }


def sha256_pass(files: Sequence[Path], buf: bytearray) -> str:
    """One SHA-256 pass over the segment bytes, read in 1 MiB chunks (from the page cache)."""
    h = hashlib.sha256()
    view = memoryview(buf)
    for f in files:
        with open(f, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(view[:n])
    return h.hexdigest()


def time_it(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def run_validation(cfg: Config, scratch: Scratch, validate_mb: float, seed: int) -> dict[str, Any]:
    ref = peers.load_reference()
    say(f"  building a {validate_mb:g} MB log (not timed) ...")
    big = scratch.fresh("validate-big")
    big_info = build_log(big, validate_mb, cfg.validate_batch, seed)
    ref_mb = min(cfg.ref_verify_mb, validate_mb)
    say(f"  building a {ref_mb:g} MB log for the reference verifier (not timed) ...")
    small = scratch.fresh("validate-small")
    small_info = build_log(small, ref_mb, cfg.validate_batch, seed + 1)
    big_files, small_files = peers.log_files(big), peers.log_files(small)
    buf = bytearray(1 << 20)
    for f in big_files + small_files:  # warm the page cache
        f.read_bytes()
    in_memory = b"".join(f.read_bytes() for f in big_files)

    times: dict[str, list[float]] = {
        "kfm-wal verify": [],
        "sha256 read+hash": [],
        "sha256 in memory": [],
        "kfm-wal verify (small log)": [],
        "reference verify (small log)": [],
        "kfm-wal verify, check_bodies=False (diag)": [],
    }
    notes: list[str] = []
    core_elapsed: list[float] = []

    def kfm_verify(path: Path) -> Any:
        rep = kfm_wal.verify(path)
        if not rep.ok:
            codes = sorted({f.code for f in rep.findings})
            notes.append(f"kfm_wal.verify({path.name}) reported {len(rep.findings)} finding(s): {codes}")
        return rep

    def ref_verify() -> Any:
        rep = ref.verify(small)
        if not rep.ok:
            codes = sorted({e.code for e in rep.errors})
            notes.append(f"reference verify reported {len(rep.errors)} error(s) on a kfm-wal log: {codes}")
        return rep

    runs: dict[str, Callable[[], Any]] = {
        "kfm-wal verify": lambda: kfm_verify(big),
        "sha256 read+hash": lambda: sha256_pass(big_files, buf),
        "sha256 in memory": lambda: hashlib.sha256(in_memory).hexdigest(),
        "kfm-wal verify (small log)": lambda: kfm_verify(small),
        "kfm-wal verify, check_bodies=False (diag)": lambda: kfm_wal.verify(big, check_bodies=False),
    }
    for r in range(cfg.verify_rounds + 1):
        say(f"  validation {'warm-up' if r == 0 else f'round {r}/{cfg.verify_rounds}'} ...")
        for name in rotated(list(runs), r):
            gc.collect()
            dt, result = time_it(runs[name])
            if r > 0:
                times[name].append(dt)
                if name == "kfm-wal verify":
                    core_elapsed.append(result.elapsed)
    for r in range(cfg.ref_verify_rounds):
        say(f"  reference verifier round {r + 1}/{cfg.ref_verify_rounds} ...")
        gc.collect()
        dt, _ = time_it(ref_verify)
        times["reference verify (small log)"].append(dt)
    scratch.remove(big)
    scratch.remove(small)

    sizes = {
        "kfm-wal verify": big_info["bytes"],
        "sha256 read+hash": big_info["bytes"],
        "sha256 in memory": big_info["bytes"],
        "kfm-wal verify (small log)": small_info["bytes"],
        "reference verify (small log)": small_info["bytes"],
        "kfm-wal verify, check_bodies=False (diag)": big_info["bytes"],
    }
    rows: dict[str, Any] = {}
    for name, ts in times.items():
        mbps = [sizes[name] / MB / t for t in ts]
        rows[name] = {
            "bytes": sizes[name],
            "seconds": summarize(ts, higher_is_better=False),
            "mb_per_s": summarize(mbps),
        }
    med = {name: rows[name]["mb_per_s"]["median"] for name in rows}
    return {
        "log": big_info,
        "small_log": small_info,
        "group_commit_intents": cfg.validate_batch,
        "rows": rows,
        "kfm_verify_core_elapsed_s": statistics.median(core_elapsed) if core_elapsed else None,
        "ratios": {
            "kfm-wal verify / sha256 read+hash": med["kfm-wal verify"] / med["sha256 read+hash"],
            "kfm-wal verify / sha256 in memory": med["kfm-wal verify"] / med["sha256 in memory"],
            "kfm-wal verify / reference verify (same small log)": med["kfm-wal verify (small log)"]
            / med["reference verify (small log)"],
        },
        "notes": sorted(set(notes)),
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
    return [t1, t2, t3, t4]


def verdict(t: Target) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[t.passed]


def paired_range(vals: Sequence[float]) -> str:
    return f"{min(vals):.2f}-{max(vals):.2f}x" if vals else "-"


def render(results: dict[str, Any], targets: list[Target]) -> tuple[str, str]:
    """(plain text for the terminal, Markdown for the results file)."""
    m, w, cfg = results["machine"], results["workload"], results["config"]
    tp, lat, th, va = results["throughput"], results["latency"], results["threads"], results["validation"]
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

    # threads
    txt.append(
        f"3. Concurrent single appends on one Wal ({th['appends_per_thread']} appends per thread; "
        f"median of {cfg['thread_rounds']} rounds)"
    )
    txt.append("  threads   entries/s         vs 1 thread   entries per commit (first commits of the last round)")
    md += [
        "## 3. Threads appending single entries to one `Wal`",
        "",
        f"Each thread calls `append` {th['appends_per_thread']} times; median of {cfg['thread_rounds']} "
        "rounds after a warm-up; (min-max). A group commit can carry at most one entry per thread.",
        "",
        "| threads | entries/s | vs 1 thread | entries per group commit | first commits of the last round |",
        "|---:|---:|---:|---:|---|",
    ]
    for n, s in th["threads"].items():
        txt.append(
            f"  {n:<9} {rate(s['median'])} ±{pct(s['spread'] / 2)}".ljust(30)
            + f"{s.get('vs_1_thread', float('nan')):.2f}x".ljust(14)
            + f"{s['entries_per_commit']:.1f}".ljust(6)
            + f"({','.join(map(str, s['commit_sizes_first'][:16]))})"
        )
        md.append(
            f"| {n} | {rate(s['median'])} ({rate(s['min'])}-{rate(s['max'])}) | "
            f"{s.get('vs_1_thread', float('nan')):.2f}x | {s['entries_per_commit']:.1f} | "
            f"{', '.join(map(str, s['commit_sizes_first'][:16]))} |"
        )
    txt.append("")
    md.append("")

    # validation
    txt.append(
        f"4. Validation throughput, MB/s ({va['log']['bytes'] / MB:.0f} MB log in {va['log']['segments']} "
        f"segment(s); reference on a {va['small_log']['bytes'] / MB:.0f} MB log)"
    )
    md += [
        "## 4. Validation throughput",
        "",
        f"Log of {va['log']['bytes'] / MB:.1f} MB ({va['log']['segments']} segments, "
        f"{va['log']['intents']:,} intents in group commits of {va['group_commit_intents']}, each followed "
        f"by the completions of the previous commit: {va['log']['completions']:,}); "
        f"the reference verifier runs on a {va['small_log']['bytes'] / MB:.1f} MB log built the same way, "
        "and kfm-wal verifies that log too. "
        "Files are read from a warm page cache.",
        "",
        "| | MB/s (median) | min-max | seconds (median) |",
        "|---|---:|---:|---:|",
    ]
    for name, row in va["rows"].items():
        s = row["mb_per_s"]
        txt.append(
            f"  {name:42s} {s['median']:8.1f} MB/s ±{pct(s['spread'] / 2)}  "
            f"({row['seconds']['median']:.3f} s for {row['bytes'] / MB:.1f} MB)"
        )
        md.append(f"| {name} | {s['median']:.1f} | {s['min']:.1f}-{s['max']:.1f} | {row['seconds']['median']:.3f} |")
    md.append("")
    for key, val in va["ratios"].items():
        txt.append(f"  {key}: {val:.2f}x")
        md.append(f"- {key}: {val:.2f}x")
    for note in va["notes"]:
        txt.append(f"  NOTE: {note}")
        md.append(f"- **note**: {note}")
    md.append("")

    if results["warnings"]:
        txt.append("Warnings:")
        md += ["## Warnings", ""]
        for wmsg in results["warnings"]:
            txt.append(f"  - {wmsg}")
            md.append(f"- {wmsg}")
        md.append("")
    return "\n".join(txt), "\n".join(md)


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run in under 30 s")
    ap.add_argument(
        "--validate-mb",
        type=float,
        default=None,
        help=f"validation log size in MB (default {FULL.validate_mb:g}, --quick {QUICK.validate_mb:g})",
    )
    ap.add_argument("--rounds", type=int, default=None, help="measured rounds of the throughput test")
    ap.add_argument(
        "--tmp-dir",
        type=Path,
        default=REPO / ".bench-tmp",
        help="where scratch logs go (must be a real disk file system; default: .bench-tmp in the repo)",
    )
    ap.add_argument("--out", type=Path, default=None, help="results directory (default benches/results)")
    ap.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    args = ap.parse_args(argv)

    cfg = QUICK if args.quick else FULL
    if args.rounds is not None:
        cfg = Config(**{**asdict(cfg), "rounds": max(1, args.rounds)})
    validate_mb = args.validate_mb if args.validate_mb is not None else cfg.validate_mb
    out_dir = args.out or RESULTS
    stem = "quick" if args.quick else "latest"

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
        "config": asdict(cfg) | {"validate_mb": validate_mb},
        "warnings": warnings,
    }
    with Scratch(root) as scratch:
        results["machine"] = machine_info(root)
        line, seal = calibrate(pool, scratch)
        results["workload"] = {
            "seed": args.seed,
            "pool": len(pool),
            "mean_bytes": desc["mean"],
            "min_bytes": desc["min"],
            "max_bytes": desc["max"],
            "intent_line_bytes": line,
            "seal_line_bytes": seal,
        }
        say("1/4 durable append_many throughput")
        results["throughput"] = run_throughput(cfg, pool, scratch, line, seal)
        say("2/4 single-append latency")
        results["latency"] = run_latency(cfg, pool, scratch)
        say("3/4 threads")
        results["threads"] = run_threads(cfg, pool, scratch)
        say("4/4 validation")
        del pool
        gc.collect()
        results["validation"] = run_validation(cfg, scratch, validate_mb, args.seed + 1)
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["elapsed_s"] = time.perf_counter() - t_start
    if max(results["machine"]["loadavg_start"][0], results["machine"]["loadavg_end"][0]) > (os.cpu_count() or 1):
        warnings.append("the machine was busy (1-min load average above the core count): expect wide spreads")

    targets = judge(results)
    results["targets"] = [asdict(t) | {"passed": t.passed} for t in targets]
    text, markdown = render(results, targets)
    say("")
    say(text)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.md").write_text(markdown + "\n", encoding="utf-8")
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    say(f"\nwritten: {out_dir / f'{stem}.md'}, {out_dir / f'{stem}.json'} ({results['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
