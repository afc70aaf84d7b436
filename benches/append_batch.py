"""Section 1: durable append_many throughput at batch 1, 100, 1,000 and 10,000 entries: kfm-wal
against the pure-Python reference writer, SQLite (WAL, synchronous=FULL), LMDB and RocksDB (each
synced per batch; skipped with a note when their package is missing) and raw write+fdatasync of
the same bytes (benches/peers.py), plus a diagnostic: the core fed pre-encoded bodies.

Every kfm-wal figure has its ratio to each peer, to the raw floor of the same bytes, and to the
better of LMDB and RocksDB (per round, whichever of the two was faster).

Next to it, "sustained durable throughput, batches of 1,000, pipelined": one producer submitting
batches of 1,000 with `Wal.submit` and keeping a few in flight (each acknowledged once durable),
against append_many, LMDB, RocksDB and the raw floor at the same batch size; and, as diagnostics,
the same producer with durability "none" (the writer's measured CPU ceiling on this machine: what
the durable figure could reach if the disk cost nothing) and the ratio of the durable figure to it,
and the same producer keeping 8 batches in flight instead of 3 (how much of the gap is waiting).

Also the calibration the other append suites share: how many bytes kfm-wal writes per intent line
and per seal line, so that the raw floor writes exactly as much as kfm-wal does.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kfm_wal
import peers
import stats
from config import Config
from formatting import closed, pct, rate
from harness import Scratch, rotated, say, settle


def calibrate(pool: Sequence[dict[str, Any]], scratch: Scratch) -> tuple[int, int]:
    """Mean bytes of one intent line and of one seal line as kfm-wal writes them (for the floor)."""
    d = scratch.fresh("calibrate")
    p = peers.KfmWal(d, durability="none")
    n = min(1_000, len(pool))
    for i in range(0, n, 100):
        p.append_many(pool[i : i + 100])
    p.close()
    lines = list(peers.record_lines(d))
    intents = [len(x) for kind, x in lines if kind == "intent"]
    seals = [len(x) for kind, x in lines if kind == "seal"]
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
    only come near it; its ratio to the raw floor is the most the pipelined target can reach here."""

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


def run_pipelined(cfg: Config, pool: list[dict[str, Any]], scratch: Scratch, line: int, seal: int) -> dict[str, Any]:
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
    for r in range(cfg.rounds + 1):
        say(f"  pipelined {'warm-up' if r == 0 else f'round {r}/{cfg.rounds}'} ...")
        # The measured ceiling of the Python producer: encoding the batches alone as a submit
        # does (orjson, under the interpreter lock; nothing checked, hashed, written or synced).
        t0 = time.perf_counter()
        for b in batches:
            encode_only(b)
        if r > 0:
            raw[ENCODE_ONLY].append(len(batches) * bs / (time.perf_counter() - t0))
        for cls in rotated(contenders, r):
            d = scratch.fresh(f"pl-{cls.name}")
            if cls is peers.RawFloor:
                peer = cls(d, line_bytes=line, seal_bytes=seal)
                peer.prepare([bs])
            else:
                peer = cls(d)
            settle()
            t0 = time.perf_counter()
            for b in inputs.get(cls, batches):
                peer.append_many(b)
            if isinstance(peer, KfmPipelined):
                peer.drain()
            dt = time.perf_counter() - t0
            peer.close()
            scratch.remove(d)
            if r > 0:
                raw[cls.name].append(len(batches) * bs / dt)
    kv = peers.kv_best({name: raw[name] for name in peers.KV_PEERS if name in raw})
    ratios = {}
    for diag, other in (
        (KfmCorePipelined.name, peers.RawFloor.name),
        (ENCODE_ONLY, peers.RawFloor.name),
        (KfmPipelinedAssignedIds.name, KfmPipelined.name),
        (KfmPipelinedNoSync.name, peers.RawFloor.name),
        (KfmPipelined.name, KfmPipelinedNoSync.name),
        (KfmPipelinedDeep.name, peers.RawFloor.name),
        (KfmPipelinedDeep.name, KfmPipelined.name),
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
        "peers": {name: stats.summarize(v) for name, v in raw.items()},
        "ratios": ratios,
    }


def run(cfg: Config, pool: list[dict[str, Any]], scratch: Scratch, line: int, seal: int) -> dict[str, Any]:
    skipped = peers.missing()
    for note in skipped.values():
        say(f"  {note}")
    contenders: list[Any] = [
        c
        for c in (peers.KfmWal, peers.Reference, peers.SQLite, peers.Lmdb, peers.RocksDB, peers.RawFloor, KfmCoreOnly)
        if c.name not in skipped
    ]
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
    out: dict[str, Any] = {
        "entries_per_run": {str(k): v for k, v in cfg.batch_entries.items()},
        "peers": {},
        "skipped": list(skipped.values()),
    }
    for name, by_bs in raw.items():
        out["peers"][name] = {str(bs): stats.summarize(v) for bs, v in by_bs.items()}
    kv = {bs: peers.kv_best({n: raw[n][bs] for n in peers.KV_PEERS if n in raw}) for bs in cfg.batch_entries}
    ratios: dict[str, Any] = {}
    others = [n for n in (peers.Reference.name, peers.SQLite.name, *peers.KV_PEERS) if n in raw]
    for other in [*others, peers.RawFloor.name, peers.KV_BEST]:
        if other == peers.KV_BEST and not kv[next(iter(kv))]:
            continue  # neither LMDB nor RocksDB ran
        ratios[f"kfm-wal/{other}"] = {}
        for bs in cfg.batch_entries:
            pr = stats.paired_ratio(raw[peers.KfmWal.name][bs], kv[bs] if other == peers.KV_BEST else raw[other][bs])
            # this section's results have always listed the ratio's keys in this order
            ratios[f"kfm-wal/{other}"][str(bs)] = {
                key: pr[key] for key in ("ratio_of_medians", "paired_min", "paired_max", "paired")
            }
    out["ratios"] = ratios
    out["pipelined"] = run_pipelined(cfg, pool, scratch, line, seal)
    return out


def render_pipelined(pl: dict[str, Any]) -> tuple[list[str], list[str]]:
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
    md += ["", "| ratio | median | paired range |", "|---|---:|---:|"]
    txt.append("  " + "  ".join(f"{name}: {rate(s['median'])}" for name, s in pl["peers"].items()))
    for key, r in pl["ratios"].items():
        txt.append(f"    {key.ljust(44)} {r['ratio_of_medians']:.2f}x [{r['paired_min']:.2f}-{r['paired_max']:.2f}]")
        md.append(f"| {key} | {r['ratio_of_medians']:.2f}x | {r['paired_min']:.2f}-{r['paired_max']:.2f} |")
    return txt, md


def render(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    tp, cfg = results["throughput"], results["config"]
    txt: list[str] = []
    md: list[str] = []
    names = list(tp["peers"])
    batch_sizes = list(tp["entries_per_run"])
    txt.append(
        f"1. Durable append_many throughput, entries/s (median of {cfg['rounds']} rounds after a warm-up; "
        "±: half the min-max range, relative to the median)"
    )
    short = {peers.RawFloor.name: "raw floor", KfmCoreOnly.name: "core-only (diag)"}
    col = 16
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
            + key.ljust(38)
            + "  ".join(
                f"b{int(bs):,}: {tp['ratios'][key][bs]['ratio_of_medians']:.2f}x "
                f"[{tp['ratios'][key][bs]['paired_min']:.2f}-{tp['ratios'][key][bs]['paired_max']:.2f}]"
                for bs in batch_sizes
            )
        )

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
        "per batch. `lmdb`: one write transaction per batch (sync=True, metasync=True), one put per "
        "entry; `rocksdb`: one WriteBatch per batch written with sync=True (RocksDB's WAL, fdatasync); "
        f"both store the entries' orjson bytes under 8-byte sequence keys. `kfm-wal/{peers.KV_BEST}`: "
        "per round, kfm-wal against whichever of the two was faster.",
    ]
    if "pipelined" in tp:
        more_txt, more_md = render_pipelined(tp["pipelined"])
        txt += more_txt
        md += more_md
    return closed(txt, md, tp.get("skipped", []))
