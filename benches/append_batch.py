"""Section 1: durable append_many throughput at batch 1, 100, 1,000 and 10,000 entries: kfm-wal
against the pure-Python reference writer, SQLite (WAL, synchronous=FULL), LMDB and RocksDB (each
synced per batch; skipped with a note when their package is missing) and raw write+fdatasync of
the same bytes (benches/peers.py), plus a diagnostic: the core fed pre-encoded bodies.

Every kfm-wal figure has its ratio to each peer, to the raw floor of the same bytes, and to the
better of LMDB and RocksDB (per round, whichever of the two was faster).

Next to it, section 1b (`append_pipelined.py`): sustained durable throughput at batches of 1,000,
pipelined with `Wal.submit`.

Also the calibration the other append suites share: how many bytes kfm-wal writes per intent line
and per seal line, so that the raw floor writes exactly as much as kfm-wal does.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import append_pipelined
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
                peer = peers.open_contender(cls, d, line, seal, [bs])
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
    out["pipelined"] = append_pipelined.run(cfg, pool, scratch, line, seal)
    return out


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
        more_txt, more_md = append_pipelined.render(tp["pipelined"])
        txt += more_txt
        md += more_md
    return closed(txt, md, tp.get("skipped", []))
