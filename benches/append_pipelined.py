"""Section 1b: sustained durable throughput, batches of 1,000, pipelined: one producer submitting
batches of 1,000 with `Wal.submit` and keeping a few in flight (each acknowledged once durable),
against append_many, LMDB, RocksDB and the raw floor at the same batch size.

Diagnostics next to it: the same producer with durability "none" (the writer's CPU ceiling: what
the durable figure could reach if the disk cost nothing) and the durable figure's ratio to it; the
same producer keeping 8 batches in flight instead of 3 (how much of the gap is waiting); the core
fed pre-encoded chunks (what orjson costs the producer); and each contender's CPU time, from which
its CPU bound follows: the rate it would reach with every core of the machine busy with its work
and no time lost to waiting. A contender whose bound is below a target cannot meet it on this
machine, whatever the scheduling.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kfm_wal
import peers
import stats
from config import Config
from formatting import rate
from harness import Scratch, rotated, say, settle


class KfmPipelined(peers.KfmWal):
    """kfm-wal with `Wal.submit`: a producer handing over batch N+1 while batch N is hashed,
    written and synced, with at most `DEPTH` batches in flight (it waits for the oldest beyond
    that). `drain` waits for every batch still in flight: the timed run ends when all are durable."""

    name = "kfm-wal pipelined"
    DEPTH = 3

    def __init__(self, directory: Path, durability: kfm_wal.wal.Durability = "fsync") -> None:
        super().__init__(directory, durability)
        self.in_flight: deque[kfm_wal.wal.Pending] = deque()

    def append_many(self, entries: Sequence[Any]) -> None:
        self.in_flight.append(self.wal.submit(entries))
        if len(self.in_flight) > self.DEPTH:
            self.in_flight.popleft().result()

    def drain(self) -> None:
        while self.in_flight:
            self.in_flight.popleft().result()


class KfmCorePipelined(KfmPipelined):
    """Diagnostic, not a peer: the pipelined path with the Python-side encoding taken out. Each
    batch comes already encoded as `Wal.submit` encodes it (one JSON array per chunk, see
    `encode_chunks`) and goes through the same core calls (checked on this thread, then
    submitted), so the gap to `kfm-wal pipelined` is what orjson costs the producer."""

    name = "kfm-wal core pipelined (pre-encoded)"

    def append_many(self, entries: Sequence[Any]) -> None:
        batch = self.wal._writer.batch("intent", False)
        for array, count in entries:
            batch.add_array(array, count)
        self.in_flight.append(batch.submit())
        if len(self.in_flight) > self.DEPTH:
            self.in_flight.popleft().result()


class KfmPipelinedAssignedIds(KfmPipelined):
    """Diagnostic: the same producer handing over the same entries without their `wal_id` (the
    writer assigns one), as ETL jobs that leave ids to the log do; its ratio to the pipelined
    figure shows whether such entries still take the writer's fast check."""

    name = "kfm-wal pipelined, ids assigned by the writer"


class KfmPipelinedNoSync(KfmPipelined):
    """Diagnostic: the same producer and writer with durability "none" (no fdatasync at all), so
    nothing waits for the disk: the measured ceiling of the writer's own CPU work (encoding,
    checks, chaining, hashing, signing, the kernel's copy) on this machine. The durable figure can
    only come near it. A loose bound: the kernel writes the pages back later, outside the run,
    where a durable run pays for it in its syncs; `CPU_BOUND` counts that work too."""

    name = "kfm-wal pipelined, no fdatasync (CPU ceiling)"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, durability="none")


class KfmPipelinedDeep(KfmPipelined):
    """Diagnostic: the same producer keeping up to 8 batches in flight instead of 3, bounded
    otherwise only by the writer's bytes in flight. With 3, a stall anywhere (the host's jitter, a
    slow sync) soon has the producer waiting for the oldest batch; its ratio to the judged figure
    shows how much of the gap to the raw floor is that waiting rather than the writer's work."""

    name = "kfm-wal pipelined, 8 in flight"
    DEPTH = 8


PIPELINED_BATCH = 1_000
ENCODE_ONLY = "encoding alone (orjson, one call per chunk)"
CPU_BOUND = "kfm-wal pipelined CPU bound (every core busy with its work)"
CHUNK = kfm_wal.wal._STREAM_CHUNK  # how Wal.submit hands a batch of 1,000 over: chunks of this many


def encode_chunks(batch: list[dict[str, Any]]) -> list[tuple[bytes, int]]:
    """A batch encoded as `Wal.submit` hands it over: one JSON array per chunk of CHUNK entries."""
    out = []
    for first in range(0, len(batch), CHUNK):
        chunk = batch[first : first + CHUNK]
        array = kfm_wal.schema.encode_array(chunk, first)
        assert array is not None, "the bench's entries encode as arrays"
        out.append((array, len(chunk)))
    return out


def encode_only(batch: list[dict[str, Any]]) -> None:
    """What the producer's thread does of a submit: encode each chunk with one orjson call as one
    JSON array (the per-entry path only for a chunk holding an entry orjson refuses)."""
    for first in range(0, len(batch), CHUNK):
        chunk = batch[first : first + CHUNK]
        if kfm_wal.schema.encode_array(chunk, first) is None:
            kfm_wal.schema.encode(chunk, first)


def run(cfg: Config, pool: list[dict[str, Any]], scratch: Scratch, line: int, seal: int) -> dict[str, Any]:
    """Sustained durable throughput at batches of 1,000, pipelined, and its ratios to the raw floor
    of the same bytes and to the better of LMDB and RocksDB (per round)."""
    skipped = peers.missing()
    contenders: list[Any] = [
        c
        for c in (
            KfmPipelined,
            peers.KfmWal,
            peers.Lmdb,
            peers.RocksDB,
            peers.RawFloor,
            KfmCorePipelined,
            KfmPipelinedAssignedIds,
            KfmPipelinedNoSync,
            KfmPipelinedDeep,
        )
        if c.name not in skipped
    ]
    bs = PIPELINED_BATCH
    n = max(min(cfg.pipelined_entries, len(pool)) // bs, 1) * bs
    batches = [pool[i : i + bs] for i in range(0, n, bs)]
    pre = [encode_chunks(b) for b in batches]
    unnamed = [[{k: v for k, v in e.items() if k != "wal_id"} for e in b] for b in batches]
    inputs: dict[type, list[Any]] = {KfmCorePipelined: pre, KfmPipelinedAssignedIds: unnamed}
    raw: dict[str, list[float]] = {c.name: [] for c in contenders}
    raw[ENCODE_ONLY] = []
    # CPU seconds of the whole process (every thread, the kernel's work on its behalf included)
    # per timed run, by contender.
    cpu: dict[str, list[float]] = {name: [] for name in raw}
    for r in range(cfg.rounds + 1):
        say(f"  pipelined {'warm-up' if r == 0 else f'round {r}/{cfg.rounds}'} ...")
        # The measured ceiling of the Python producer: encoding the batches alone as a submit
        # does (orjson, under the interpreter lock; nothing checked, hashed, written or synced).
        t0, c0 = time.perf_counter(), time.process_time()
        for b in batches:
            encode_only(b)
        if r > 0:
            raw[ENCODE_ONLY].append(len(batches) * bs / (time.perf_counter() - t0))
            cpu[ENCODE_ONLY].append(time.process_time() - c0)
        for cls in rotated(contenders, r):
            d = scratch.fresh(f"pl-{cls.name}")
            peer = peers.open_contender(cls, d, line, seal, [bs])
            settle()
            t0, c0 = time.perf_counter(), time.process_time()
            for b in inputs.get(cls, batches):
                peer.append_many(b)
            if isinstance(peer, KfmPipelined):
                peer.drain()
            dt, spent = time.perf_counter() - t0, time.process_time() - c0
            peer.close()
            scratch.remove(d)
            if r > 0:
                raw[cls.name].append(len(batches) * bs / dt)
                cpu[cls.name].append(spent)
    kv = peers.kv_best({name: raw[name] for name in peers.KV_PEERS if name in raw})
    cores = len(os.sched_getaffinity(0))
    entries = len(batches) * bs
    # The judged contender's CPU bound, per round: its rate had every core been busy with its
    # work alone. The wall clock cannot beat it; the disk's waits and the threads' hand-offs only
    # add to it.
    raw[CPU_BOUND] = [entries * cores / c for c in cpu[KfmPipelined.name]]
    ratios = {}
    for diag, other in (
        (KfmCorePipelined.name, peers.RawFloor.name),
        (ENCODE_ONLY, peers.RawFloor.name),
        (KfmPipelinedAssignedIds.name, KfmPipelined.name),
        (KfmPipelinedNoSync.name, peers.RawFloor.name),
        (KfmPipelined.name, KfmPipelinedNoSync.name),
        (KfmPipelinedDeep.name, peers.RawFloor.name),
        (KfmPipelinedDeep.name, KfmPipelined.name),
        (CPU_BOUND, peers.RawFloor.name),
        (KfmPipelined.name, CPU_BOUND),
    ):
        pr = stats.paired_ratio(raw[diag], raw[other])
        ratios[f"{diag} (diagnostic)/{other}"] = {
            k: pr[k] for k in ("ratio_of_medians", "paired_min", "paired_max", "paired")
        }
    for other, series in (
        (peers.RawFloor.name, raw[peers.RawFloor.name]),
        (peers.KV_BEST, kv),
        ("kfm-wal", raw["kfm-wal"]),
    ):
        if series:
            pr = stats.paired_ratio(raw[KfmPipelined.name], series)
            ratios[f"{KfmPipelined.name}/{other}"] = {
                k: pr[k] for k in ("ratio_of_medians", "paired_min", "paired_max", "paired")
            }
    return {
        "batch": bs,
        "entries": len(batches) * bs,
        "depth": KfmPipelined.DEPTH,
        "cores": cores,
        "peers": {name: stats.summarize(v) for name, v in raw.items()},
        "cpu_us_per_entry": {
            name: stats.summarize([c * 1e6 / entries for c in v], higher_is_better=False) for name, v in cpu.items()
        },
        "ratios": ratios,
    }


def render(pl: dict[str, Any]) -> tuple[list[str], list[str]]:
    what = (
        f"sustained durable throughput, batches of {pl['batch']:,}, pipelined (Wal.submit, up to "
        f"{pl['depth']} in flight; {pl['entries']:,} entries per run), entries/s"
    )
    txt = ["", "1b. " + what]
    md = ["", "### 1b. Sustained durable throughput, pipelined", "", what + ".", ""]
    md += ["| " + " | ".join(pl["peers"]) + " |", "|" + "---:|" * len(pl["peers"])]
    md.append(
        "| "
        + " | ".join(f"{rate(s['median'])} ({rate(s['min'])}-{rate(s['max'])})" for s in pl["peers"].values())
        + " |"
    )
    used = pl.get("cpu_us_per_entry", {})
    if used:
        md.append("| " + " | ".join(_cpu_cell(used.get(name)) for name in pl["peers"]) + " |")
        md += [
            "",
            f"Second row: CPU per entry (µs, all of the process's threads, kernel work included). "
            f"{CPU_BOUND}: entries x {pl['cores']} cores / the judged run's CPU time, per round: the "
            "rate no scheduling of its work on this machine can beat.",
        ]
    md += ["", "| ratio | median | paired range |", "|---|---:|---:|"]
    txt.append("  " + "  ".join(f"{name}: {rate(s['median'])}" for name, s in pl["peers"].items()))
    if used:
        txt.append("  CPU per entry: " + "  ".join(f"{name}: {_cpu_cell(s)}" for name, s in used.items()))
    for key, r in pl["ratios"].items():
        txt.append(f"    {key.ljust(44)} {r['ratio_of_medians']:.2f}x [{r['paired_min']:.2f}-{r['paired_max']:.2f}]")
        md.append(f"| {key} | {r['ratio_of_medians']:.2f}x | {r['paired_min']:.2f}-{r['paired_max']:.2f} |")
    return txt, md


def _cpu_cell(s: dict[str, Any] | None) -> str:
    return f"{s['median']:.2f} µs CPU" if s else "-"
