"""Number formatting shared by the terminal text and the Markdown of every report section."""

from __future__ import annotations

from typing import Any


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


def ratio_cell(r: dict[str, Any]) -> str:
    lo, hi = r.get("paired_min"), r.get("paired_max")
    rng = f" ({lo:.2f}-{hi:.2f})" if lo is not None and hi is not None and len(r.get("paired", [])) > 1 else ""
    return f"{r['ratio_of_medians']:.2f}x{rng}"


def mb_fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"
