"""The regression gate behind `make bench-check`: ratios of kfm-wal to its peers, measured by
`benches/run.py --check`, compared with benches/baseline.json.

Every figure is a ratio measured in one run on one machine (kfm-wal against a peer doing the same
work on the same data, or kfm-wal against itself at another thread count), never an absolute time,
so that it survives a change of machine better than a timing would. Each has a direction (`higher`
or `lower` is better), a baseline and a relative tolerance:

    higher is better: fails when measured < baseline * (1 - tolerance)
    lower is better:  fails when measured > baseline * (1 + tolerance)

Left out of the gate because on a shared 2-core VM they swing by 2x from run to run (they are
still measured and reported): append_many at batch 100 (fsync-bound for kfm-wal, CPU-bound for the
reference: the ratio follows the disk's mood) and the single-append p99.

`ops.guarded_writes.vs_direct` (section 8, benches/ops_writes.py) is a ratio of two fsync-bound
times of different fsync counts (a guarded write pays its blob's fsyncs and the batch's group
commits on top of the direct write's), so it gets the widest tolerance of the gate.

`pipelined.b1000.*` is the pipelined writer (`Wal.submit`, a producer keeping batches of 1,000 in
flight, section 1b of the report) against the raw write+fdatasync floor of the same bytes and
against the better of LMDB and RocksDB: the sustained-throughput targets of benches/targets.py.
Both swing with the disk's fsync latency; `pipelined.b1000.vs_append_many` (the same writer
waiting for each batch) swings less, and it is the one that fails when batches stop overlapping.
`pipelined.b1000.assigned_ids` is the same producer handing over the same entries without their
`wal_id` (the writer assigns one) against the entries with theirs: kfm-wal against itself on the
same disk, ~1x while such entries take the writer's fast check (they once went to the serde
check: ~0.4x).

The figures against "the better of LMDB and RocksDB" (`*.vs_kv_best`) need an optional peer:
when neither `lmdb` nor `rocksdict` is installed they are SKIPped with a note (not failed), so the
gate runs without the bench extra; with only one installed they are judged against that one, noted.

Like with like: the baseline records the CPU it was taken on (`measured.cpu`: lscpu's vendor, model
name, family and model; a figure re-based on another machine carries its own `cpu`). A ratio of
kfm-wal's speed to a peer's moves when the CPU changes (SIMD paths, the cost of a syscall and of
hashing against the disk's), so when this run's CPU is not the baseline's (another vendor or model
name, or another family/model number where both are known) such a figure is still judged, but with
its tolerance widened CPU_WIDEN times (a higher-is-better limit never below (1 - CPU_WIDEN_MAX) of
the baseline, unless its own tolerance already allows more: widening never narrows), and the
report says so and why. Peak-RSS ratios (`cpu_bound=False`) keep theirs.
Judging wider rather than skipping keeps the gate catching a collapse (a lost fast path, a sync per
entry) on any machine; a re-base on the new CPU (`--update-baseline`) restores the tolerances.

A figure that improves past its tolerance passes, with a note to raise the baseline
(`run.py --check --update-baseline` rewrites the baselines from a run, keeping the tolerances).
The baseline only means something for the sizes `--check` measures: figures of a full run are
reported next to it for information, never judged.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peers import KV_BEST, KV_PEERS

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
CPU_WIDEN = 2.0  # tolerance factor for a figure whose baseline was taken on another CPU family
CPU_WIDEN_MAX = 0.8  # ... but a higher-is-better figure must still reach 20% of its baseline
FAILING = ("FAIL", "MISSING")  # statuses that fail the gate (SKIP: an optional peer not installed)


@dataclass(frozen=True)
class Figure:
    id: str
    what: str
    better: str  # "higher" or "lower"
    get: Callable[[dict[str, Any]], dict[str, Any]]  # results -> {"ratio_of_medians", "paired", ...}
    needs: tuple[str, ...] = ()  # optional peers: SKIP when none of them is installed
    cpu_bound: bool = True  # a speed ratio, which another CPU family shifts (peak RSS ratios do not)


def _tp(peer: str, batch: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda r: r["throughput"]["ratios"][f"kfm-wal/{peer}"][str(batch)]


ASSIGNED_IDS = "kfm-wal pipelined, ids assigned by the writer (diagnostic)/kfm-wal pipelined"


def _pipelined(peer: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda r: r["throughput"]["pipelined"]["ratios"][f"kfm-wal pipelined/{peer}"]


def _latency(p: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def get(r: dict[str, Any]) -> dict[str, Any]:
        lat = r["latency"]
        paired = [c["ratio"] for c in lat["chunks"]] if p == "p50" else []
        return {"ratio_of_medians": lat[f"ratio_{p}"], "paired": paired}

    return get


def _threads(peer: str, n: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if peer == "self":
        return lambda r: r["threads"]["ratio_8_1"]
    return lambda r: r["threads"]["ratios"][f"kfm-wal/{peer}"][str(n)]


def _validate(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda r: r["validation"]["sizes"][-1]["ratios"][f"{name} / sha256 read+hash"]


def _validate_rss(r: dict[str, Any]) -> dict[str, Any]:
    v = r["validation"]["sizes"][-1]["validators"]
    return {"ratio_of_medians": v["kfm-wal verify"]["memory"]["peak_mb"] / v["sha256 read+hash"]["memory"]["peak_mb"]}


def _signatures(r: dict[str, Any]) -> dict[str, Any]:
    ratios = r["signatures"]["ratios"]
    return ratios["kfm-wal verify, check_bodies=False / cryptography Ed25519PublicKey.verify loop"]


FIGURES: tuple[Figure, ...] = (
    Figure(
        "append_many.b1000.vs_reference",
        "append_many throughput, batch 1,000: kfm-wal / reference",
        "higher",
        _tp("reference", 1_000),
    ),
    Figure(
        "append_many.b1000.vs_sqlite",
        "append_many throughput, batch 1,000: kfm-wal / SQLite",
        "higher",
        _tp("sqlite", 1_000),
    ),
    Figure(
        "append_many.b1000.vs_kv_best",
        f"append_many throughput, batch 1,000: kfm-wal / {KV_BEST}",
        "higher",
        _tp(KV_BEST, 1_000),
        KV_PEERS,
    ),
    Figure(
        "pipelined.b1000.vs_raw",
        "sustained durable throughput, batches of 1,000, pipelined (Wal.submit): kfm-wal / raw write+fdatasync",
        "higher",
        _pipelined("raw write+fdatasync"),
    ),
    Figure(
        "pipelined.b1000.vs_kv_best",
        f"sustained durable throughput, batches of 1,000, pipelined (Wal.submit): kfm-wal / {KV_BEST}",
        "higher",
        _pipelined(KV_BEST),
        KV_PEERS,
    ),
    Figure(
        "pipelined.b1000.vs_append_many",
        "sustained durable throughput, batches of 1,000: kfm-wal pipelined (Wal.submit) / kfm-wal append_many",
        "higher",
        _pipelined("kfm-wal"),
    ),
    Figure(
        "pipelined.b1000.assigned_ids",
        "sustained durable throughput, batches of 1,000, pipelined (Wal.submit): entries without a wal_id "
        "(the writer assigns it) / the same entries with theirs",
        "higher",
        lambda r: r["throughput"]["pipelined"]["ratios"][ASSIGNED_IDS],
    ),
    Figure("append.p50.vs_raw", "single durable append p50: kfm-wal / raw write+fdatasync", "lower", _latency("p50")),
    Figure(
        "threads.8.vs_1", "8 threads appending: kfm-wal 8 threads / kfm-wal 1 thread", "higher", _threads("self", 8)
    ),
    Figure("threads.8.vs_sqlite", "8 threads appending: kfm-wal / SQLite", "higher", _threads("sqlite", 8)),
    Figure(
        "threads.8.vs_raw",
        "8 threads appending: kfm-wal / raw write+fdatasync",
        "higher",
        _threads("raw write+fdatasync", 8),
    ),
    Figure(
        "threads.8.vs_kv_best",
        f"8 threads appending: kfm-wal / {KV_BEST} at 8 threads",
        "higher",
        _threads(KV_BEST, 8),
        KV_PEERS,
    ),
    Figure(
        "validate.vs_sha256",
        "validation MB/s, largest archive: kfm-wal verify / sha256 read+hash",
        "higher",
        _validate("kfm-wal verify"),
    ),
    Figure(
        "validate.no_bodies.vs_sha256",
        "validation MB/s, largest archive: kfm-wal verify check_bodies=False / sha256 read+hash",
        "higher",
        _validate("kfm-wal verify, check_bodies=False"),
    ),
    Figure(
        "validate.vs_reference",
        "validation MB/s, smallest archive: kfm-wal verify / reference verify",
        "higher",
        lambda r: r["validation"]["reference"]["ratio"],
    ),
    Figure(
        "validate.peak_rss.vs_sha256",
        "validation peak RSS, largest archive: kfm-wal verify / sha256 read+hash process",
        "lower",
        _validate_rss,
        cpu_bound=False,
    ),
    Figure(
        "signatures.vs_cryptography",
        "seals verified/s: kfm-wal verify (tiny commits, check_bodies=False) / cryptography verify loop",
        "higher",
        _signatures,
    ),
    Figure(
        "ops.guarded_writes.vs_direct",
        "guarded small file writes (ops.run_batch, batches of 1,000): time / direct atomic writes, dir fsync per file",
        "lower",
        lambda r: r["ops_writes"]["time_ratio"]["guarded (ops.run_batch) / atomic, dir fsync per file"],
    ),
    Figure(
        "writer.peak_rss.vs_sqlite",
        "writer peak RSS, 8 threads appending: kfm-wal / SQLite",
        "lower",
        lambda r: r["writer_memory"]["ratio_peak"],
        cpu_bound=False,
    ),
)


def figures(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The gate's figures from a run's results (a figure the run did not measure is left out)."""
    out: dict[str, dict[str, Any]] = {}
    for f in FIGURES:
        try:
            got = f.get(results)
        except (KeyError, IndexError, TypeError, ZeroDivisionError, statistics.StatisticsError):
            continue
        out[f.id] = {
            "what": f.what,
            "better": f.better,
            "value": float(got["ratio_of_medians"]),
            "paired": [float(x) for x in got.get("paired") or []],
        }
    return out


def load(path: Path = BASELINE) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def limit(base: dict[str, Any], tolerance: float | None = None) -> float:
    b = float(base["baseline"])
    tol = float(base["tolerance"]) if tolerance is None else tolerance
    return b * (1 - tol) if base["better"] == "higher" else b * (1 + tol)


def cpu_label(cpu: dict[str, Any]) -> str:
    nums = ", ".join(f"{k} {cpu[k]}" for k in ("family", "model") if cpu.get(k))
    return f"{cpu.get('vendor', '?')} {cpu.get('model_name', '?')}" + (f" ({nums})" if nums else "")


def same_cpu(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same CPU family: same vendor and model name, and the same family and model numbers where
    both records have them."""
    keys = ["vendor", "model_name"] + [k for k in ("family", "model") if a.get(k) and b.get(k)]
    return all(str(a.get(k, "")).strip() == str(b.get(k, "")).strip() for k in keys)


def widened(base: dict[str, Any]) -> float:
    """The tolerance of a speed figure judged on another CPU family: CPU_WIDEN times its own,
    for a higher-is-better figure at most CPU_WIDEN_MAX, but never narrower than its own (a figure
    whose own tolerance is already past the cap, such as the 8-thread one at 90%, keeps it: a
    run on another CPU must not be judged more strictly than one on the baseline's)."""
    own = float(base["tolerance"])
    if base["better"] == "higher":
        return max(own, min(own * CPU_WIDEN, CPU_WIDEN_MAX))
    return own * CPU_WIDEN


def compare(
    figs: dict[str, dict[str, Any]],
    baseline: dict[str, Any],
    cpu: dict[str, Any] | None = None,
    missing: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per baseline figure: status PASS, FAIL (regressed past its tolerance), MISSING (not
    measured), SKIP (needs an optional peer that is not installed). `cpu`: this run's CPU
    (machine.cpu_family); a baseline taken on another CPU family is judged with a wider tolerance.
    `missing`: the optional peers not installed (peers.missing)."""
    missing = missing or {}
    needs = {f.id: f.needs for f in FIGURES}
    speed = {f.id for f in FIGURES if f.cpu_bound}
    rows: list[dict[str, Any]] = []
    for fid, base in baseline["figures"].items():
        notes: list[str] = []
        tolerance = float(base["tolerance"])
        base_cpu = base.get("cpu") or baseline.get("measured", {}).get("cpu")
        if cpu and base_cpu and not same_cpu(cpu, base_cpu) and fid in speed:
            tolerance = widened(base)
            how = (
                f"widened from {100 * float(base['tolerance']):.0f}% to {100 * tolerance:.0f}%"
                if tolerance > float(base["tolerance"])
                else f"kept at {100 * tolerance:.0f}% (already past the cap)"
            )
            notes.append(f"tolerance {how}: baseline taken on another CPU family ({cpu_label(base_cpu)})")
        elif cpu and not base_cpu:
            notes.append("the baseline does not record its CPU: judged at its own tolerance")
        row: dict[str, Any] = {
            "id": fid,
            "what": base.get("what", fid),
            "better": base["better"],
            "baseline": float(base["baseline"]),
            "tolerance": tolerance,
            "limit": limit(base, tolerance),
            "measured": None,
            "paired": [],
            "base_cpu": base_cpu,
            "same_cpu": not (cpu and base_cpu and fid in speed) or same_cpu(cpu, base_cpu),
        }
        absent = [p for p in needs.get(fid, ()) if p in missing]
        got = figs.get(fid)
        if got is None:
            skip = bool(absent) and len(absent) == len(needs[fid])
            row["status"] = "SKIP" if skip else "MISSING"
            if skip:
                notes.append(f"not measured: {', '.join(absent)} not installed (`make bench-check` installs them)")
        else:
            m = got["value"]
            row["measured"], row["paired"] = m, got["paired"]
            higher = base["better"] == "higher"
            regressed = m < row["limit"] if higher else m > row["limit"]
            row["status"] = "FAIL" if regressed else "PASS"
            improved = m > row["baseline"] * (1 + tolerance) if higher else m < row["baseline"] * (1 - tolerance)
            if improved:
                notes.append("improved past the tolerance: consider raising the baseline (--update-baseline)")
            if absent:
                notes.append(f"measured without {', '.join(absent)} (not installed): against the other one only")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return rows


def describe(row: dict[str, Any]) -> str:
    op = ">=" if row["better"] == "higher" else "<="
    meas = f"{row['measured']:.3f}x" if row["measured"] is not None else "not measured"
    paired = f" (per-round {min(row['paired']):.2f}-{max(row['paired']):.2f}x)" if row["paired"] else ""
    return (
        f"{row['status']:7s} {row['id']}: {row['what']}\n"
        f"          baseline {row['baseline']:.3f}x, tolerance {100 * row['tolerance']:.0f}% "
        f"({row['better']} is better: must be {op} {row['limit']:.3f}x), measured {meas}{paired}"
        + (f"\n          note: {row['note']}" if row["note"] else "")
    )


def updated(
    baseline: dict[str, Any], figs: dict[str, dict[str, Any]], when: str, machine: str, cpu: dict[str, Any]
) -> dict[str, Any]:
    """The baseline with every measured figure's value replaced (tolerances kept; new figures get
    0.5), and this run's CPU recorded as the baseline's (a re-based figure drops its own `cpu`)."""
    out = json.loads(json.dumps(baseline))
    out.setdefault("figures", {})
    for f in FIGURES:
        got = figs.get(f.id)
        if got is None:
            continue
        entry = out["figures"].setdefault(f.id, {"tolerance": 0.5})
        entry.update(what=f.what, better=f.better, baseline=round(got["value"], 3))
        entry.pop("cpu", None)
    out["measured"] = {"when": when, "machine": machine, "cpu": cpu}
    return out


def render(g: dict[str, Any]) -> tuple[list[str], list[str]]:
    rows = g["rows"]
    failed = [r for r in rows if r["status"] in FAILING]
    skipped = [r for r in rows if r["status"] == "SKIP"]
    head = (
        f"Regression gate ({g['baseline_path']}): "
        + ("all figures within tolerance" if not failed else f"{len(failed)} of {len(rows)} figure(s) FAILED")
        + (f", {len(skipped)} skipped (optional peers not installed)" if skipped else "")
        + ("" if g["judged"] else " (not judged: a full run's sizes differ from --check's; for information)")
    )
    other = sorted({cpu_label(r["base_cpu"]) for r in rows if r.get("base_cpu") and not r.get("same_cpu", True)})
    why = (
        f"This run's CPU is {cpu_label(g['cpu'])}; figures whose baseline was taken on another CPU family "
        f"({'; '.join(other)}) are judged with their speed ratios' tolerance widened {CPU_WIDEN:g}x (at most "
        f"{100 * CPU_WIDEN_MAX:.0f}% for higher-is-better figures): a ratio to a peer shifts with the CPU "
        "(SIMD paths, syscall and hashing costs against the disk's), so the normal tolerance would judge "
        "the machine, not the code. Re-base on this CPU (--update-baseline) to judge them at their own tolerance."
        if other and g.get("cpu")
        else ""
    )
    txt = [head] + ([f"  {why}"] if why else []) + ["  " + describe(r).replace("\n", "\n  ") for r in rows] + [""]
    md = [
        "## Regression gate",
        "",
        head + ".",
        "",
        *([why, ""] if why else []),
        "| figure | better | baseline | tolerance | limit | measured | per-round | result |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        meas = f"{r['measured']:.3f}x" if r["measured"] is not None else "-"
        pr = f"{min(r['paired']):.2f}-{max(r['paired']):.2f}x" if r["paired"] else "-"
        md.append(
            f"| {r['what']} (`{r['id']}`) | {r['better']} | {r['baseline']:.3f}x | {100 * r['tolerance']:.0f}% | "
            f"{r['limit']:.3f}x | {meas} | {pr} | **{r['status']}** |"
        )
    md += [""] + [f"- `{r['id']}`: {r['note']}" for r in rows if r["note"]] + [""]
    return txt, md


__all__ = ["BASELINE", "CPU_WIDEN", "FAILING", "FIGURES", "compare", "describe", "figures", "load", "render", "updated"]
