"""Benchmark driver behind `make bench` and `make bench-check`: kfm-wal against its peers,
measured in one process run.

    .venv/bin/python benches/run.py                 # full run (~5-10 min on 2 cores; the first run
                                                    # also builds the 100 MB, 1 GB and 4 GB archives)
    .venv/bin/python benches/run.py --quick         # smoke run (< 1 min)
    .venv/bin/python benches/run.py --check         # the regression gate (< 1 min): exit 1 when a
                                                    # ratio regresses past benches/baseline.json
    .venv/bin/python benches/run.py --check --update-baseline   # re-base the gate on this machine
    .venv/bin/python benches/run.py --archive-mb 100,1000

What is measured, always next to peers measured in the same run on the same data:

    1. durable append_many throughput at batch 1, 100, 1,000, 10,000: kfm-wal, the pure-Python
       reference writer, SQLite (WAL, synchronous=FULL), LMDB (a synced write transaction per
       batch), RocksDB (a WriteBatch per batch, written with sync=True), raw write+fdatasync of the
       same bytes; every kfm-wal figure also as a ratio to the better of LMDB and RocksDB
   1b. the same at batches of 1,000, pipelined (Wal.submit, 3 batches in flight), with its
       diagnostics and each contender's CPU per entry: the judged figure's CPU bound (the rate
       with every core busy with its work) says what this machine allows it
    2. single durable append latency p50/p90/p99: kfm-wal and raw write+fdatasync, interleaved
    3. N threads (1, 2, 4, 8, 16) each appending single entries durably: one kfm-wal Wal, one
       SQLite connection (shared, under a lock), one LMDB environment (a synced write transaction
       per entry), one RocksDB (a put with sync=True per entry), one file written with
       write+fdatasync by every thread, and the ceiling of any group commit on this disk
    4. validation of cached archives (100 MB, 1 GB, 4 GB; benches/archives.py): kfm_wal.verify
       with and without check_bodies and check_signatures, against one SHA-256 pass over the same
       bytes (and the reference verifier on the smallest archive); each run in a fresh process, with its peak RSS
    5. Ed25519: kfm-wal verifying a log of tiny commits (one seal per intent), in seals/s, against
       `cryptography`'s Ed25519PublicKey.verify in a loop over the same seals
    6. memory: peak RSS of each validation (4) and of a writer under load (8 threads), kfm-wal and
       SQLite
    7. scaling: throughput vs threads and validation time vs archive size (a linear fit, and a
       flag when the per-MB cost at the largest archive exceeds 1.3x that at the smallest):
       benches/results/scaling.{png,md}
    8. guarded small file writes: 10,000 files of 200 B written as guarded operations through
       kfm_wal.ops.run_batch (batches of 1,000 operations of one Write each) against the same
       writes done directly with the same durability (temp file, fsync, rename, fsync of the
       directory per file, as ops does), and a diagnostic floor with one directory fsync per batch
       (benches/ops_writes.py)
    9. rollback: guarded single-file writes undone with ops.undo (one call each), operations/s,
       against direct unlinks with a directory fsync each (benches/ops_undo.py)
   10. replay: 10,000 logged small-file operations replayed into a sandbox by kfm_wal.replay
       (log verified, every state checked) against the same writes done directly with fsync
       (benches/replay.py)
   11. crash recovery: 1,000 pending operations (two writes each, stopped after the first)
       settled by one ops.recover call, operations/s, against the same files removed directly
       with one directory fsync (benches/recover.py)
   12. rollback to a snapshot: 1,000 guarded overwrites reversed by one governed kfm_wal.rollback
       (audit, plan, one recorded undo each), operations/s, against the same before-images
       restored directly with fsync (benches/rollback_to.py)
   13. compressed archives: a log written with archive_compression="zstd" (the size of the smallest
       validation archive) validated, MB/s of uncompressed log, against one SHA-256 pass over the
       same uncompressed bytes; the compression ratio (benches/compressed.py)
   14. opening a large log: Wal.open after a clean close on each validation archive, open time
       against log size (flat: largest / smallest <= 3x), set against one full verification
       (benches/open_time.py)
   15. validation on a Dask cluster: an archive (4 GB; 130 MB in --check and --quick) validated
       from a file:// URL by 1 and 2 single-threaded Dask workers against the local validator on
       one thread and on all cores, the client's join timed apart, and a model of a 100 GB,
       1,000-segment archive on 32 workers (benches/dask_validation.py)

Targets are ratios against peers measured in the same run, never absolute timings:

    append_many throughput at batch 1,000   kfm-wal / reference >= 8x, kfm-wal / SQLite >= 4x,
                                            kfm-wal / raw write+fdatasync >= 0.7x,
                                            kfm-wal / the better of LMDB and RocksDB >= 1.5x
    single durable append latency           kfm-wal p50 <= 1.3x raw write+fdatasync p50
    concurrent single appends, one Wal      8 threads / 1 thread >= 6x (group commit); at 8 threads
                                            kfm-wal / grouped-ceiling peer >= 0.6x and
                                            kfm-wal / the better of LMDB and RocksDB >= 2.5x
    guarded small file writes               ops.run_batch time / direct atomic writes time <= 2x
    replay                                  replay of 10,000 logged small-file operations time /
                                            the same writes done directly with fsync <= 1x
    validation on a Dask cluster            2 workers / 1 worker >= 1.7x; client join < 5% of the
                                            total; 1 worker / local validator on one thread <= 1.3x

Measurements are interleaved (every round runs every peer, in a rotating order, on fresh
directories) and repeated; the first round is a discarded warm-up. Figures are medians, with the
spread (max - min) / median over the rounds, and ratios are given both as the ratio of the
medians (the one judged against the target) and as the range of the per-round paired ratios.

The regression gate (`--check`, benches/gate.py) measures the same things at small sizes and
compares a set of ratios (kfm-wal vs peers) with benches/baseline.json, each with its tolerance,
widened when the run's CPU family is not the one the baseline was taken on (gate.py says why).

LMDB and RocksDB come from the `lmdb` and `rocksdict` packages, which `make bench` and `make
bench-check` install; without them those peers are skipped with a one-line note, the targets
against them are n/a and the gate's figures against them SKIP.

Scratch logs go to a directory on the repository's file system (default `.bench-tmp/` in the
repository, removed afterwards; the archives stay cached in `.bench-tmp/archives/`): fsync on tmpfs
is free and would make every comparison meaningless. Results are printed and written to
benches/results/latest.{md,json} (`--quick`: quick.*, `--check`: check.*).

Where the code is: this file only parses the flags and runs the sections in order. config.py holds
the modes' sizes and the flags; harness.py the scratch directories, settling and round order every
suite uses; stats.py the medians and ratios; machine.py the machine facts. Each section is one
module that measures it and renders its part of the report: append_batch.py (1), append_single.py
(2), append_threads.py (3), validation.py (4), signatures.py (5), memory.py (6), scaling.py (7),
ops_writes.py (8), ops_undo.py (9), replay.py (10), recover.py (11), rollback_to.py (12), compressed.py
(13), open_time.py (14), dask_validation.py (15), compaction.py (16). targets.py judges the goals
above, gate.py the baseline, report.py assembles and writes the results, plot.py draws the scaling
PNG. What the suites measure with: peers.py, workload.py, archives.py and child.py (one measurement
in a fresh process).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import append_batch
import append_single
import append_threads
import compaction
import compressed
import config
import dask_validation
import gate
import machine
import memory
import open_time
import ops_undo
import ops_writes
import peers
import recover
import replay
import report
import rollback_to
import signatures
import targets
import validation
import workload
from harness import Scratch, say


def main(argv: Sequence[str] | None = None) -> int:
    args = config.parse_args(argv, description=__doc__.split("\n\n")[0])
    cfg = config.select(args)
    out_dir = args.out or config.RESULTS
    stem = report.stem_of(cfg.name)

    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t_start = time.perf_counter()
    args.tmp_dir.mkdir(parents=True, exist_ok=True)
    root = args.tmp_dir / f"run-{os.getpid()}"
    warnings = machine.scratch_warnings(args.tmp_dir)  # results["warnings"]: later ones are added to it

    pool_size = cfg.pool_size()
    say(f"kfm-wal bench ({cfg.name}): building {pool_size:,} entries (not timed) ...")
    pool = workload.make_entries(pool_size, seed=args.seed)
    desc = workload.describe(pool)

    results: dict[str, Any] = {
        "started": started,
        "config": asdict(cfg),
        "warnings": warnings,
    }
    with_compressed = cfg.name != "check"  # the gate leaves it out
    steps = 8 + 3 * bool(cfg.undo_ops) + bool(cfg.replay_ops) + 3 * with_compressed
    with Scratch(root) as scratch:
        results["machine"] = machine.machine_info(root)
        line, seal = append_batch.calibrate(pool, scratch)
        results["workload"] = {
            "seed": args.seed,
            "version": workload.WORKLOAD_VERSION,
            "pool": len(pool),
            "mean_bytes": desc["mean"],
            "min_bytes": desc["min"],
            "max_bytes": desc["max"],
            "intent_line_bytes": line,
            "seal_line_bytes": seal,
        }
        section_s: dict[str, float] = {}

        done = [0]  # steps run so far: numbered as they run, whichever sections this mode has

        def step(title: str, key: str, fn: Callable[[], Any]) -> None:
            done[0] += 1
            say(f"{done[0]}/{steps} {title}")
            t0 = time.perf_counter()
            results[key] = fn()
            section_s[key] = time.perf_counter() - t0

        step(
            "durable append_many throughput",
            "throughput",
            lambda: append_batch.run(cfg, pool, scratch, line, seal),
        )
        step("single-append latency", "latency", lambda: append_single.run(cfg, pool, scratch))
        step("threads", "threads", lambda: append_threads.run(cfg, pool, scratch, line, seal))
        pool.clear()  # the entries are not needed any more
        gc.collect()
        step(
            "validation (archives, fresh processes)",
            "validation",
            lambda: validation.run(cfg, args.tmp_dir, args.seed + 1),
        )
        step("signatures", "signatures", lambda: signatures.run(cfg, scratch))
        step("writer memory", "writer_memory", lambda: memory.run(cfg, scratch, args.seed + 2))
        step(
            "guarded small file writes (ops.run_batch vs direct atomic writes)",
            "ops_writes",
            lambda: ops_writes.run(
                files=cfg.ops_files,
                batch=cfg.ops_batch,
                size=cfg.ops_bytes,
                rounds=cfg.ops_rounds,
                warmup=cfg.ops_warmup,
                seed=args.seed + 3,
                fresh=scratch.fresh,
                remove=scratch.remove,
                say=say,
            ),
        )
        if cfg.undo_ops:
            step(
                "rollback (ops.undo vs direct unlinks)",
                "ops_undo",
                lambda: ops_undo.run(
                    ops_count=cfg.undo_ops,
                    batch=cfg.ops_batch,
                    size=cfg.ops_bytes,
                    rounds=cfg.undo_rounds,
                    seed=args.seed + 4,
                    fresh=scratch.fresh,
                    remove=scratch.remove,
                    say=say,
                ),
            )
        if cfg.undo_ops:  # the same number of operations, pending after a crash
            step(
                "crash recovery (ops.recover vs direct unlinks)",
                "recover",
                lambda: recover.run(
                    ops_count=cfg.undo_ops,
                    size=cfg.ops_bytes,
                    rounds=cfg.undo_rounds,
                    seed=args.seed + 6,
                    fresh=scratch.fresh,
                    remove=scratch.remove,
                    say=say,
                ),
            )
            step(
                "rollback to a snapshot (kfm_wal.rollback vs direct restores with fsync)",
                "rollback_to",
                lambda: rollback_to.run(
                    ops_count=cfg.undo_ops,
                    batch=cfg.ops_batch,
                    size=cfg.ops_bytes,
                    rounds=cfg.undo_rounds,
                    seed=args.seed + 7,
                    fresh=scratch.fresh,
                    remove=scratch.remove,
                    say=say,
                ),
            )
        if cfg.replay_ops:
            step(
                "replay (kfm_wal.replay into a sandbox vs direct writes with fsync)",
                "replay",
                lambda: replay.run(
                    ops_count=cfg.replay_ops,
                    batch=cfg.ops_batch,
                    size=cfg.ops_bytes,
                    rounds=cfg.replay_rounds,
                    seed=args.seed + 5,
                    fresh=scratch.fresh,
                    remove=scratch.remove,
                    say=say,
                ),
            )
        if with_compressed:
            step(
                "validating a compressed archive (zstd vs one SHA-256 pass)",
                "compressed",
                lambda: compressed.run(cfg.archive_mb[0], cfg.archive_rounds, args.seed + 6, scratch.fresh, say),
            )
        if with_compressed:
            step(
                "opening a log after a clean close (open time vs log size)",
                "open_time",
                lambda: open_time.run(
                    cfg.archive_mb, cfg.archive_batch, cfg.archive_rounds, args.tmp_dir, args.seed + 1, say
                ),
            )
        step(
            "validation on a Dask cluster (1 and 2 workers vs the local validator)",
            "distributed",
            lambda: dask_validation.run(cfg.name, args.tmp_dir, args.seed + 1),
        )
        if with_compressed:  # left out of --check: a copy of the 1 GB archive per round
            step(
                "compacting a large log (kfm-wal compact vs one validation pass)",
                "compaction",
                lambda: compaction.run(
                    cfg.archive_mb, cfg.archive_batch, cfg.archive_rounds, args.tmp_dir, args.seed + 1, say
                ),
            )
        results["section_s"] = section_s
    warnings += machine.end_of_run(results["machine"])
    results["elapsed_s"] = time.perf_counter() - t_start
    judged = targets.judge(results)
    results["targets"] = [asdict(t) | {"passed": t.passed} for t in judged]
    figs = gate.figures(results)
    results["gate_figures"] = figs
    exit_code = 0
    if args.update_baseline:
        measured_on = f"{results['machine']['cpu_model']}, {results['machine']['cores']} cores"
        old = gate.load(args.baseline) if args.baseline.exists() else {"figures": {}}
        new = gate.updated(old, figs, started, measured_on, results["machine"]["cpu"])
        args.baseline.write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
        say(f"baseline written: {args.baseline}")
    elif args.check and args.baseline.exists():
        cpu = results["machine"]["cpu"]
        rows = gate.compare(figs, gate.load(args.baseline), cpu, peers.missing())
        results["gate"] = {"baseline_path": str(args.baseline), "judged": True, "rows": rows, "cpu": cpu}
        if any(r["status"] in gate.FAILING for r in rows):
            exit_code = 1
    elif args.check:
        say(f"no baseline at {args.baseline}: nothing to judge (run with --update-baseline to create it)")
        exit_code = 2

    if cfg.name != "check" and not args.no_plot:
        try:
            import plot

            png = report.scaling_path(out_dir, stem, "png")
            results["plot"] = str(plot.scaling_png(results, png))
        except ImportError as exc:
            warnings.append(f"no scaling plot: {exc} (pip install matplotlib)")
    text, markdown = report.render(results, judged)
    say("")
    say(text)
    written = report.write(results, markdown, out_dir, stem)
    say(f"\nwritten: {', '.join(str(w) for w in written)} ({results['elapsed_s']:.0f} s)")
    if results.get("gate") and args.check:
        failed = [r for r in results["gate"]["rows"] if r["status"] in gate.FAILING]
        if failed:
            say(f"\nbench-check FAILED: {len(failed)} figure(s) regressed past their tolerance:")
            for r in failed:
                say("  " + gate.describe(r).replace("\n", "\n  "))
        else:
            rows = results["gate"]["rows"]
            passed = sum(r["status"] == "PASS" for r in rows)
            skipped = [r["id"] for r in rows if r["status"] == "SKIP"]
            say(
                f"\nbench-check passed: {passed} figures within their tolerances"
                + (f", {len(skipped)} skipped ({', '.join(skipped)}: optional peers not installed)" if skipped else "")
            )
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
