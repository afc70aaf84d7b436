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
    kdir, fdir, zdir = scratch.fresh("lat-kfm"), scratch.fresh("lat-raw"), scratch.fresh("lat-zeros")
    kfm = peers.KfmWal(kdir)
    floor = peers.RawFloor(fdir)
    zeros = peers.RawIntoZeros(zdir)
    total = cfg.latency_warmup + cfg.latency_samples
    if total > len(pool):
        raise ValueError("entry pool too small for the latency samples")
    k_ns: list[int] = []
    r_ns: list[int] = []
    z_ns: list[int] = []
    nbytes: list[int] = []
    # The bytes of kfm-wal's last complete append (intent line + seal), from its receipts' offsets:
    # its live segment's size says nothing, since the writer fills zeros ahead of its data.
    grown, last = 1_200, None
    clock = time.perf_counter_ns
    orders = (("kfm", "raw", "zeros"), ("raw", "zeros", "kfm"), ("zeros", "kfm", "raw"))
    settle()
    for i in range(total):
        entry = pool[i]
        for who in orders[i % 3]:
            if who == "kfm":
                t0 = clock()
                receipt = kfm.append(entry)
                dt = clock() - t0
                if last is not None and last.segment == receipt.segment:
                    grown = receipt.offset - last.offset
                last = receipt
                if i >= cfg.latency_warmup:
                    k_ns.append(dt)
            elif who == "raw":
                data = floor.payload(grown)  # the bytes kfm-wal wrote for an append
                t0 = clock()
                floor.write(data)
                dt = clock() - t0
                if i >= cfg.latency_warmup:
                    r_ns.append(dt)
                    nbytes.append(len(data))
            else:
                data = floor.payload(grown)
                zeros.fill(len(data))
                t0 = clock()
                zeros.write(data)
                dt = clock() - t0
                if i >= cfg.latency_warmup:
                    z_ns.append(dt)
    kfm.close()
    floor.close()
    zeros.close()
    for d in (kdir, fdir, zdir):
        scratch.remove(d)

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
    ks, rs, zs = stats(k_ns), stats(r_ns), stats(z_ns)
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
        "raw_into_zeros": zs,
        "ratio_p50": ks["p50_us"] / rs["p50_us"],
        "ratio_p50_vs_zeros": ks["p50_us"] / zs["p50_us"],
        "ratio_p99": ks["p99_us"] / rs["p99_us"],
        "chunks": chunks,
    }


def render(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    lat = results["latency"]
    txt: list[str] = []
    md: list[str] = []
    k, r_ = lat["kfm-wal"], lat["raw"]
    z = lat.get("raw_into_zeros")  # results from before this peer have none
    rows = [("kfm-wal append", k), ("raw write+fdatasync", r_)] + ([("raw into zeros (diag)", z)] if z else [])
    txt.append(
        f"2. Single durable append latency, {lat['samples']} interleaved samples each "
        f"(~{lat['bytes_per_append_mean']:.0f} bytes per append)"
    )
    txt.append("  " + "".ljust(24) + "p50".ljust(11) + "p90".ljust(11) + "p99".ljust(11) + "mean".ljust(11) + "max")
    for label, s in rows:
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
    if z:
        txt.append(f"  (diag: kfm-wal / raw pwrite into zeros, p50 {lat['ratio_p50_vs_zeros']:.2f}x)")
    txt.append("")
    md += [
        "## 2. Single durable `append` latency",
        "",
        f"{lat['samples']} samples each after {lat['warmup_discarded']} discarded, kfm-wal and the raw "
        "floors interleaved (rotating which goes first); a raw write has the size of a kfm-wal append "
        f"(from its receipts' offsets; mean {lat['bytes_per_append_mean']:.0f} bytes: intent line + seal). "
        "The judged floor appends to its file (O_APPEND), whose size grows with every sync; the "
        "diagnostic floor writes into a file already filled with zeros ahead of its data (filled "
        "outside the timed calls), as kfm-wal's preallocated live segment is (FORMAT.md section 7): "
        "on ext4 an fdatasync of a file whose size grew also writes its inode.",
        "",
        "| | p50 | p90 | p99 | mean | min | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    md_rows = [("kfm-wal `append`", k), ("raw write + fdatasync", r_)]
    if z:
        md_rows.append(("raw pwrite into zeros + fdatasync (diagnostic)", z))
    for label, s in md_rows:
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
        f"p50 {lat['cpu_only_p50_us']:.0f} us."
        + (f" kfm-wal / raw pwrite into zeros: p50 {lat['ratio_p50_vs_zeros']:.2f}x." if z else ""),
        "",
    ]

    return txt, md
