"""Section 6: memory, as peak RSS: of each validation of section 4 (measured there, reported here)
and of a writer under load (8 threads appending durably), kfm-wal and SQLite, each in a fresh
process (benches/child.py)."""

from __future__ import annotations

from typing import Any

import child
from config import Config
from formatting import mb_fmt, rate, ratio_cell
from harness import Scratch, rotated, say, settle
from stats import mem_summary, paired_ratio, summarize
from targets import RSS_TARGET_MB
from validation import KFM_NO_BODIES, KFM_VERIFY, REF_VERIFY

WRITER_PEERS = ("kfm-wal", "sqlite")


def run(cfg: Config, scratch: Scratch, seed: int) -> dict[str, Any]:
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


def render(results: dict[str, Any]) -> tuple[list[str], list[str]]:
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
