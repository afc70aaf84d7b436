"""Statistics of benchmark rounds: medians and spreads, percentiles, paired ratios, a linear fit,
and the peak-memory summary of child processes. Pure functions of numbers: no I/O, no timing."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

MB = 1_000_000  # sizes and rates in decimal megabytes


def summarize(values: Sequence[float], higher_is_better: bool = True) -> dict[str, Any]:
    """One figure over the measured rounds: median, best, min, max, and the spread (max - min) /
    median that says how much to trust the median."""
    vals = list(values)
    med = statistics.median(vals)
    return {
        "median": med,
        "best": max(vals) if higher_is_better else min(vals),
        "min": min(vals),
        "max": max(vals),
        "spread": (max(vals) - min(vals)) / med if med else 0.0,
        "n": len(vals),
        "values": vals,
    }


def percentile(sorted_vals: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Ratio of the medians of a and b, and the range of the per-round ratios a[i] / b[i]."""
    paired = [x / y for x, y in zip(a, b, strict=False)]
    return {
        "ratio_of_medians": statistics.median(a) / statistics.median(b),
        "paired": paired,
        "paired_min": min(paired) if paired else None,
        "paired_max": max(paired) if paired else None,
    }


def mem_summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Peak RSS over the runs of one measurement (each its own process, benches/child.py), in MB."""
    peaks = [r["peak_kb"] * 1024 / MB for r in runs]
    added = [(r["peak_kb"] - r["rss_before_kb"]) * 1024 / MB for r in runs]
    return {
        "peak_mb": max(peaks),
        "peak_mb_median": statistics.median(peaks),
        "added_mb": max(added),
        "rss_before_mb": statistics.median(r["rss_before_kb"] * 1024 / MB for r in runs),
        "sampled_anon_mb": max(r.get("sampled_anon_kb", 0) for r in runs) * 1024 / MB,
        "sampled_file_mb": max(r.get("sampled_file_kb", 0) for r in runs) * 1024 / MB,
        "peak_reset": all(r.get("peak_reset") for r in runs),
    }


def linear_fit(xs: Sequence[float], ys: Sequence[float], limit: float) -> dict[str, Any]:
    """Least squares y = a*x + b, and how the cost per unit of x grows from the smallest x to the
    largest: (y/x at the largest) / (y/x at the smallest), flagged `nonlinear` above `limit`."""
    n = len(xs)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    a = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else float("nan")
    b = my - a * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (a * x + b)) ** 2 for x, y in zip(xs, ys, strict=True))
    per = [y / x for x, y in zip(xs, ys, strict=True)]
    growth = per[-1] / per[0] if n >= 2 and per[0] else float("nan")
    return {
        "a": a,
        "b": b,
        "r2": 1 - ss_res / ss_tot if ss_tot else 1.0,
        "per_unit": per,
        "growth": growth,
        "nonlinear": bool(growth > limit),
    }
