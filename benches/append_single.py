"""Section 2: single durable append latency, p50/p90/p99: kfm-wal's `Wal.append` against a raw
write+fdatasync of the same number of bytes, the two interleaved sample by sample (alternating
which goes first) so that both see the same disk at the same moment. A diagnostic adds kfm-wal's
CPU cost alone (durability "none")."""

from __future__ import annotations

import statistics
import time
from typing import Any

import peers
from config import Config
from harness import Scratch, say, settle
from stats import percentile


def run(cfg: Config, pool: list[dict[str, Any]], scratch: Scratch) -> dict[str, Any]:
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


def render(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    lat = results["latency"]
    txt: list[str] = []
    md: list[str] = []
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

    return txt, md
