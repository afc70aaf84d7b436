"""Section 7: scaling, read from sections 3 and 4: throughput vs threads and validation time vs
archive size, with a linear fit and a flag when the per-MB cost at the largest archive exceeds
NONLINEAR_LIMIT times that at the smallest; also benches/results/scaling.md (the PNG is plot.py's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from formatting import mb_fmt, rate
from targets import NONLINEAR_LIMIT
from validation import KFM_VERIFY


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


def head(results: dict[str, Any]) -> str:
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


def render(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    lines = linearity_lines(results)
    verdict = head(results)
    txt = ["7. Scaling", "  " + verdict] + ["  " + x for x in lines]
    if results.get("plot"):
        txt.append(f"  plot: {results['plot']}")
    txt.append("")
    md = ["## 7. Scaling", "", f"**{verdict}**", ""] + [f"- {x}" for x in lines] + [""]
    if results.get("plot"):
        md += [f"![scaling curves]({Path(results['plot']).name})", ""]
    return txt, md


def render_md(results: dict[str, Any]) -> str:
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
    _, scaling = render(results)
    md += [""] + scaling[2:]
    return "\n".join(md) + "\n"
