"""Section 16: compacting a large log. `kfm-wal compact` on the 1 GB validation archive (cached,
benches/archives.py; the largest archive up to 1 GB in a quick run): every closed segment before
the live one compacted to a cold directory, timed from the plan (which validates the whole log
first: damage is found before anything moves) through the checkpoint, the segment moves and the
blob collection, against one validation pass (`kfm_wal.verify`) of the same log. Each round
compacts a fresh copy (archived segments hard-linked, the live segment and the state copied:
untimed); files in the page cache. No target: reported. Left out of `--check` (a copy of the
archive per round). Standalone:

    .venv/bin/python benches/compaction.py --mb 1000 [--rounds 3]
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import archives
import kfm_wal
import peers
from harness import rotated, settle
from kfm_wal import _core, compaction, keys
from stats import paired_ratio, summarize

MB = 1_000_000
COMPACT = "kfm-wal compact (plan + apply)"
VALIDATE = "kfm_wal.verify (one validation pass)"
PEERS = (COMPACT, VALIDATE)


def _copy(log: Path, to: Path) -> Path:
    """A copy of `log` that compaction may change: archived segments hard-linked (they are only
    renamed), everything else copied (the live segment is appended to)."""
    (to / "archive").mkdir(parents=True)
    for f in (log / "archive").iterdir():
        os.link(f, to / "archive" / f.name)
    for f in log.iterdir():
        if f.is_file() and f.name != "LOCK":
            shutil.copyfile(f, to / f.name)
    return to


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    settle()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(
    archive_mb: tuple[float, ...], batch: int, rounds: int, tmp_dir: Path, seed: int, say: Callable[[str], None]
) -> dict[str, Any]:
    mb = 1_000 if 1_000 in archive_mb else max(m for m in archive_mb if m <= 1_000)
    archive = archives.ensure(tmp_dir / "archives", mb, batch, seed, say)
    if archive.segments < 2:  # a quick run's archives fit in one segment: nothing closed to move
        return {"skipped": f"the {archive.mb:,.0f} MB archive is one segment: nothing closed to compact"}
    key = keys.SigningKey.from_seed(peers.KEY_SEED)
    for f in archive.files():
        f.read_bytes()  # in the page cache: disk speed is not what is measured
    work = tmp_dir / f"compaction-{os.getpid()}"
    times: dict[str, list[float]] = {p: [] for p in PEERS}
    facts: dict[str, Any] = {}
    for r in range(rounds + 1):
        say(f"  compaction {'warm-up' if r == 0 else f'round {r}/{rounds}'} ...")
        for name in rotated(PEERS, r):
            if name == VALIDATE:
                dt, report = _timed(lambda: kfm_wal.verify(archive.path))
                if not report.ok:
                    raise RuntimeError(f"{archive.path}: {report.findings[:3]}")
            else:
                shutil.rmtree(work, ignore_errors=True)
                copy = _copy(archive.path, work)
                dt, facts = _timed(lambda copy=copy: _compact_timed(copy, key))
                if not kfm_wal.verify(copy).ok:
                    raise RuntimeError(f"{copy}: the compacted log does not validate")
            if r > 0:
                times[name].append(dt)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "mb": archive.bytes / MB,
        "segments": archive.segments,
        "moved": facts.get("moved"),
        "seals": facts.get("seals"),
        "rounds": rounds,
        "seconds": {p: summarize(times[p]) for p in PEERS},
        "time_ratio": {f"{COMPACT} / {VALIDATE}": paired_ratio(times[COMPACT], times[VALIDATE])},
    }


def _compact_timed(log: Path, key: keys.SigningKey) -> dict[str, Any]:
    live_first = _core.segments(log)[-1][1]
    planned = compaction.plan(log, str(live_first))
    with kfm_wal.Wal.open(log, key) as wal:
        done = compaction.apply(planned, wal)
    return {"moved": len(done.moved), "seals": planned.payload["seals"]["count"]}


def render(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    if "skipped" in res:
        return [f"16. Compaction: skipped ({res['skipped']})", ""], [
            "## 16. Compacting a large log (`kfm-wal compact`)",
            "",
            f"Skipped: {res['skipped']} (a full run uses the 1 GB archive).",
            "",
        ]
    ratio = res["time_ratio"][f"{COMPACT} / {VALIDATE}"]["ratio_of_medians"]
    head = (
        f"16. Compaction: {res['mb']:,.0f} MB log, {res['moved']} of {res['segments']} segments moved to cold, "
        f"{res['seals']:,} seals listed in the checkpoint, median of {res['rounds']} round(s)"
    )
    txt = [head]
    md = [
        "## 16. Compacting a large log (`kfm-wal compact`)",
        "",
        f"The {res['mb']:,.0f} MB validation archive, every closed segment before the live one compacted "
        f"({res['moved']} of {res['segments']} moved to a cold directory, {res['seals']:,} seals listed in "
        "the checkpoint), timed from the plan (a full validation first) to the checkpoint's completion, "
        "against one validation pass of the same log. A fresh copy per round (untimed); files in the page "
        f"cache; median of {res['rounds']} interleaved round(s) after a warm-up. No target: reported.",
        "",
        "| run | seconds | min-max |",
        "|---|---:|---:|",
    ]
    for p in PEERS:
        s = res["seconds"][p]
        txt.append(f"    {p:<40} {s['median']:>8.2f} s  ({s['min']:.2f}-{s['max']:.2f})")
        md.append(f"| {p} | {s['median']:.2f} | {s['min']:.2f}-{s['max']:.2f} |")
    txt += [f"    compaction / one validation pass: {ratio:.2f}x", ""]
    md += ["", f"compaction / one validation pass: {ratio:.2f}x", ""]
    return txt, md


def main() -> None:
    import argparse

    import machine
    from harness import say

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=1_000, help="archive size in MB")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tmp-dir", type=Path, default=Path(__file__).resolve().parent.parent / ".bench-tmp")
    ap.add_argument("--seed", type=int, default=20240612)
    args = ap.parse_args()
    res = run((args.mb,), 100, args.rounds, args.tmp_dir, args.seed, say)
    say(f"CPU: {machine.cpu_model()}")
    say("\n".join(render(res)[0]))


if __name__ == "__main__":
    main()
