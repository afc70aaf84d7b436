"""Section 4: validation of cached archives (100 MB, 1 GB, 4 GB in a full run; benches/archives.py):
kfm_wal.verify, with and without check_bodies and check_signatures, against one SHA-256 pass over
the same bytes, and the pure-Python reference verifier on the smallest archive. Every run is a fresh
process (benches/child.py) so that its peak RSS is its own; sections 6 and 7 read these runs too.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import archives
import child
from config import Config
from formatting import closed, mb_fmt, ratio_cell
from harness import rotated, say
from stats import linear_fit, mem_summary, paired_ratio, summarize
from targets import NONLINEAR_LIMIT

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


def run(cfg: Config, tmp_dir: Path, seed: int) -> dict[str, Any]:
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
            fits[name] = linear_fit(xs, [row["validators"][name]["seconds"]["min"] for row in sizes], NONLINEAR_LIMIT)
            fits_median[name] = linear_fit(
                xs, [row["validators"][name]["seconds"]["median"] for row in sizes], NONLINEAR_LIMIT
            )
            mem_fits[name] = linear_fit(
                xs, [row["validators"][name]["memory"]["peak_mb"] for row in sizes], NONLINEAR_LIMIT
            )
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


def render(results: dict[str, Any]) -> tuple[list[str], list[str]]:
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
    return closed(txt, md, va["notes"])
