"""The scaling curves of a benchmark run as one PNG: durable appends vs thread count (kfm-wal and
its peers) and validation time vs archive size (with the linear fit, and peak RSS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def scaling_png(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    th, va = results["threads"], results["validation"]
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    (ax1, ax2), (ax3, ax4) = axes

    for name, by_n in th["peers"].items():
        ns = [int(n) for n in by_n]
        med = [by_n[n]["median"] for n in by_n]
        lo = [by_n[n]["median"] - by_n[n]["min"] for n in by_n]
        hi = [by_n[n]["max"] - by_n[n]["median"] for n in by_n]
        ax1.errorbar(ns, med, yerr=[lo, hi], marker="o", capsize=3, label=name)
    ax1.set_xscale("log", base=2)
    ax1.set_xticks([int(n) for n in th["threads"]], [str(n) for n in th["threads"]])
    ax1.set_xlabel("threads, each appending single entries durably")
    ax1.set_ylabel("entries/s (median, bars: min-max)")
    ax1.set_title("Durable appends vs threads")
    ax1.grid(True, alpha=0.3)
    ax1.legend(fontsize=8)

    sizes = va["sizes"]
    xs = [s["mb"] for s in sizes]
    names = list(sizes[0]["validators"])
    colors: dict[str, Any] = {}
    for name in names:
        secs = [s["validators"][name]["seconds"] for s in sizes]
        med = [x["median"] for x in secs]
        line = ax2.errorbar(
            xs,
            med,
            yerr=[[x["median"] - x["min"] for x in secs], [x["max"] - x["median"] for x in secs]],
            marker="o",
            capsize=3,
            label=name,
        )
        colors[name] = line[0].get_color()
        fit = va["fits"].get(name)
        if fit:
            grid = [0, max(xs)]
            ax2.plot(
                grid,
                [fit["a"] * x + fit["b"] for x in grid],
                linestyle=":",
                color=colors[name],
                label=f"  fit (best runs): {1000 * fit['a']:.2f} ms/MB + {fit['b']:.2f} s",
            )
    ref = va["reference"]
    ax2.plot(
        [ref["archive_mb"]],
        [ref["seconds"]["median"]],
        marker="x",
        linestyle="none",
        color="black",
        label=f"reference verify ({ref['archive_mb']:.0f} MB only)",
    )
    ax2.set_xlabel("archive size (MB)")
    ax2.set_ylabel("seconds (median, bars: min-max; warm page cache)")
    ax2.set_title("Validation time vs archive size")
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=7)

    for name in names:
        secs = [s["validators"][name]["seconds"] for s in sizes]
        ax3.plot(
            xs,
            [1000 * x["min"] / mb for x, mb in zip(secs, xs, strict=True)],
            marker="o",
            color=colors[name],
            label=f"{name} (best run)",
        )
        ax3.plot(
            xs,
            [1000 * x["median"] / mb for x, mb in zip(secs, xs, strict=True)],
            marker=".",
            linestyle="--",
            color=colors[name],
            alpha=0.6,
            label=f"{name} (median)",
        )
    ax3.set_xscale("log")
    ax3.set_xticks(xs, [f"{x:,.0f}" for x in xs])
    ax3.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax3.set_ylim(bottom=0)
    ax3.set_xlabel("archive size (MB, log scale)")
    ax3.set_ylabel("ms per MB")
    ax3.set_title("Validation cost per MB (flat = linear growth)")
    ax3.grid(True, alpha=0.3)
    ax3.legend(fontsize=7)

    for name in names:
        ys = [s["validators"][name]["memory"]["peak_mb"] for s in sizes]
        ax4.plot(xs, ys, marker="o", color=colors[name], label=name)
    ax4.plot(
        [ref["archive_mb"]],
        [ref["memory"]["peak_mb"]],
        marker="x",
        linestyle="none",
        color="black",
        label=f"reference verify ({ref['archive_mb']:.0f} MB only)",
    )
    ax4.axhline(300, color="red", linestyle="--", linewidth=1, label="300 MB (target for 4 GB)")
    ax4.set_xlabel("archive size (MB)")
    ax4.set_ylabel("peak RSS of the validating process (MB)")
    ax4.set_title("Validation peak RSS vs archive size")
    ax4.grid(True, alpha=0.3)
    ax4.legend(fontsize=8)

    m = results["machine"]
    fig.suptitle(
        f"kfm-wal {results['config']['name']} run {results['started']}: {m['cpu_model']}, {m['cores']} cores, "
        f"{m['filesystem']}",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["scaling_png"]
