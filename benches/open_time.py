"""Section 12: opening a large log. `Wal.open` after a clean close reads only what was written since
(docs/FORMAT.md section 7, the signed clean-close state); before it, opening verified the whole log.
On the validation archives (100 MB, 1 GB, 4 GB in a full run; cached, benches/archives.py), each
opened once untimed to leave a clean-close state, then opened and closed again `rounds` times:
the open time against the archive size must be flat (largest / smallest open time), and is set
against one full verification of the same archive (what opening cost before). The close time is
reported too: a clean close rewrites the ids file (16 bytes per intent).

The live segment is always read whole (at most max_segment_bytes, 64 MiB), so the open time is
bounded by one segment's verification plus what followed the close, whatever the log's size; an
archive that fits in one segment shows no difference, and flatness is judged only when the smallest
archive spans more than one segment. Standalone, on any sizes:

    .venv/bin/python benches/open_time.py --mb 100,1000,4000 [--rounds 3]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import archives
import kfm_wal
import peers
from harness import settle
from kfm_wal import keys
from stats import summarize

FLAT = 3.0  # the largest archive's open time / the smallest's, at most


def _open_close(log: Path, key: keys.SigningKey) -> tuple[float, float, dict[str, int | None]]:
    settle()
    t0 = time.perf_counter()
    wal = kfm_wal.Wal.open(log, key)
    t1 = time.perf_counter()
    opened = wal.opened
    wal.close()
    return t1 - t0, time.perf_counter() - t1, opened


def run(
    mbs: tuple[float, ...], batch: int, rounds: int, tmp_dir: Path, seed: int, say: Callable[[str], None]
) -> dict[str, Any]:
    key = keys.SigningKey.from_seed(peers.KEY_SEED)
    root = tmp_dir / "archives"
    root.mkdir(parents=True, exist_ok=True)
    sizes: list[dict[str, Any]] = []
    for mb in mbs:
        a = archives.ensure(root, mb, batch, seed, say)
        say(f"  {a.mb:,.0f} MB archive: one full verification, then a first open leaving a clean-close state ...")
        settle()
        t0 = time.perf_counter()
        report = kfm_wal.verify(a.path)
        full = time.perf_counter() - t0
        if not report.ok:
            raise RuntimeError(f"{a.path}: {report.findings[:3]}")
        _open_close(a.path, key)
        opens, closes, verified = [], [], []
        for r in range(rounds):
            say(f"  {a.mb:,.0f} MB archive: open and close, round {r + 1}/{rounds} ...")
            t_open, t_close, opened = _open_close(a.path, key)
            if opened["trusted_seq"] is None:
                raise RuntimeError(f"{a.path}: the clean-close state was not used")
            opens.append(t_open)
            closes.append(t_close)
            verified.append(opened["verified_bytes"] or 0)
        sizes.append(
            {
                "mb": a.mb,
                "bytes": a.bytes,
                "intents": a.intents,
                "segments": a.segments,
                "full_verify_s": full,
                "open_s": summarize(opens, higher_is_better=False),
                "close_s": summarize(closes, higher_is_better=False),
                "verified_bytes": statistics.median(verified),
            }
        )
    flat = sizes[-1]["open_s"]["median"] / sizes[0]["open_s"]["median"]
    judged = sizes[0]["segments"] > 1
    return {
        "rounds": rounds,
        "sizes": sizes,
        "flatness": flat,
        "target": FLAT,
        "judged": judged,
        "passed": flat <= FLAT if judged else None,
    }


def render(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    verdict = ("PASS" if res["passed"] else "FAIL") if res["judged"] else "n/a: the smallest archive is one segment"
    txt = [
        f"12. Opening a log after a clean close: median of {res['rounds']} round(s); "
        f"largest / smallest open time {res['flatness']:.2f}x (target <= {res['target']:g}x: {verdict})"
    ]
    md = [
        "## 12. Opening a large log (`Wal.open` after a clean close)",
        "",
        "Each validation archive opened once (untimed) to leave a signed clean-close state, then opened and "
        f"closed {res['rounds']} time(s): `Wal.open` trusts history up to the state's head (signature, segment "
        "names and sizes, the head seal byte for byte) and verifies only what follows. Set against one full "
        "verification of the archive, what opening cost before. The close rewrites the ids file (16 bytes per "
        f"intent). Target: largest / smallest open time <= {res['target']:g}x; measured {res['flatness']:.2f}x "
        f"({verdict}).",
        "",
        "| archive | open (median) | min-max | bytes verified at open | close (median) | full verification | "
        "full / open |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in res["sizes"]:
        o, c = s["open_s"], s["close_s"]
        ratio = s["full_verify_s"] / o["median"]
        txt.append(
            f"    {s['mb']:>7,.0f} MB  open {o['median'] * 1e3:8.1f} ms ({o['min'] * 1e3:.1f}-{o['max'] * 1e3:.1f})  "
            f"verified {s['verified_bytes']:,.0f} B  close {c['median'] * 1e3:7.1f} ms  "
            f"full verification {s['full_verify_s']:6.2f} s  ({ratio:,.0f}x the open)"
        )
        md.append(
            f"| {s['mb']:,.0f} MB | {o['median'] * 1e3:.1f} ms | {o['min'] * 1e3:.1f}-{o['max'] * 1e3:.1f} | "
            f"{s['verified_bytes']:,.0f} | {c['median'] * 1e3:.1f} ms | {s['full_verify_s']:.2f} s | {ratio:,.0f}x |"
        )
    txt.append("")
    md.append("")
    return txt, md


def main() -> None:
    import argparse

    import machine
    from harness import say

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", default="100,1000,4000", help="archive sizes in MB, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tmp-dir", type=Path, default=Path(__file__).resolve().parent.parent / ".bench-tmp")
    ap.add_argument("--seed", type=int, default=20240612)
    args = ap.parse_args()
    mbs = tuple(float(x) for x in args.mb.split(","))
    res = run(mbs, 100, args.rounds, args.tmp_dir, args.seed, say)
    say(f"CPU: {machine.cpu_model()}")
    say("\n".join(render(res)[0]))


if __name__ == "__main__":
    main()
