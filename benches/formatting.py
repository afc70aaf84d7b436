"""Number formatting shared by the terminal text and the Markdown of every report section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def rate(x: float) -> str:
    """A rate with three significant digits or so: 1.23M, 45.6k, 1.23k, 789."""
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e4:
        return f"{x / 1e3:.1f}k"
    if x >= 1e3:
        return f"{x / 1e3:.2f}k"
    return f"{x:.0f}"


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def ratio_cell(r: dict[str, Any]) -> str:
    """A paired ratio (stats.paired_ratio) as "1.23x (1.10-1.40)"; no range from a single round."""
    lo, hi = r.get("paired_min"), r.get("paired_max")
    rng = f" ({lo:.2f}-{hi:.2f})" if lo is not None and hi is not None and len(r.get("paired", [])) > 1 else ""
    return f"{r['ratio_of_medians']:.2f}x{rng}"


def mb_fmt(x: float) -> str:
    """An archive size in MB: whole MB from 10 up, one decimal below (the quick run's 8 MB)."""
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def closed(txt: list[str], md: list[str], notes: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """A section's text and Markdown, ended: its notes (what a measured call reported wrong, e.g.
    findings of a verifier that should have found none) and the blank line before the next."""
    for note in notes:
        txt.append(f"  NOTE: {note}")
        md.append(f"- **note**: {note}")
    txt.append("")
    md.append("")
    return txt, md


def operation_rows(res: dict[str, Any], direct: str, txt: list[str], md: list[str]) -> None:
    """The rows of an operations/s table (the ops suites): each peer's rate, its spread, its time,
    and its time against the `direct` peer's, to the text and Markdown renderings."""
    for name, row in res["rows"].items():
        ratio = res["time_ratio"].get(f"{name} / {direct}")
        cell = "1.00x"
        if ratio:
            cell = f"{ratio['ratio_of_medians']:.2f}x ({ratio['paired_min']:.2f}-{ratio['paired_max']:.2f})"
        ops_s = row["ops_per_s"]
        md.append(
            f"| {name} | {rate(ops_s['median'])} | {rate(ops_s['min'])}-{rate(ops_s['max'])} | "
            f"{row['seconds']['median']:.2f} | {cell} |"
        )
        txt.append(f"  {name:<28} {rate(ops_s['median'])} operations/s  ({row['seconds']['median']:.2f} s; {cell})")
