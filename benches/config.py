"""What a run measures and how much: the three modes (full, --quick, --check) as sizes and round
counts, and the command-line flags that pick a mode or override some of its sizes.

Sizes are chosen per mode: `full` for the published figures (~5-10 min on 2 cores), `quick` for a
smoke run of every suite (< 1 min), `check` for the regression gate (< 1 min, and the sizes the
baseline in benches/baseline.json was measured at: change them and the baseline must be re-measured).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import gate
import workload
from peers import REPO

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Config:
    name: str
    rounds: int  # measured rounds, after one discarded warm-up round
    batch_entries: dict[int, int]  # batch size -> entries appended per timed run
    # sustained pipelined throughput (section 1b): entries per timed run, in batches of 1,000;
    # long enough that filling and draining the pipeline is a small part of it
    pipelined_entries: int
    latency_samples: int
    latency_warmup: int
    latency_chunks: int  # the samples are split in this many chunks to show the spread
    thread_counts: tuple[int, ...]
    thread_appends: int  # appends per thread per timed run
    kv_thread_appends: int  # ... for LMDB and RocksDB (LMDB's synced transactions are serialised: slow)
    thread_rounds: int
    archive_mb: tuple[float, ...]  # validation archives, cached (benches/archives.py)
    archive_batch: int  # intents per group commit in an archive (each followed by completions)
    archive_rounds: int  # measured validation runs per archive and validator (each a fresh process)
    ref_archive_rounds: int  # runs of the reference verifier, on the smallest archive
    sig_commits: int  # tiny commits in the seals-dominated log
    sig_rounds: int
    writer_threads: int  # writer under load: threads ...
    writer_appends: int  # ... each appending this many entries durably
    writer_rounds: int
    ops_files: int  # guarded small file writes (section 8): files per timed run ...
    ops_batch: int  # ... operations per ops.run_batch call (one Write each)
    ops_bytes: int  # ... bytes per file
    ops_rounds: int
    ops_warmup: int  # files in the discarded warm-up round
    undo_ops: int  # rollback and replay (section 9): operations per timed run (0: not measured)
    undo_rounds: int
    replay_ops: int  # replay (section 10): logged operations replayed per timed run (0: not measured)
    replay_rounds: int

    def pool_size(self) -> int:
        """Entries built before anything is timed: enough for the largest timed run of sections 1-3
        (a log refuses a wal_id twice, so no run may reuse an entry)."""
        return max(
            max(self.batch_entries.values()),
            self.pipelined_entries,
            self.latency_warmup + self.latency_samples,
            max(self.thread_counts) * max(self.thread_appends, self.kv_thread_appends),
        )


FULL = Config(
    name="full",
    rounds=7,
    batch_entries={1: 500, 100: 5_000, 1_000: 10_000, 10_000: 20_000},
    pipelined_entries=100_000,
    latency_samples=1_000,
    latency_warmup=50,
    latency_chunks=5,
    thread_counts=(1, 2, 4, 8, 16),
    thread_appends=300,
    kv_thread_appends=100,
    thread_rounds=5,
    archive_mb=(100, 1_000, 4_000),
    archive_batch=100,
    archive_rounds=5,
    ref_archive_rounds=1,
    sig_commits=20_000,
    sig_rounds=5,
    writer_threads=8,
    writer_appends=1_000,
    writer_rounds=2,
    ops_files=10_000,
    ops_batch=1_000,
    ops_bytes=200,
    ops_rounds=3,
    ops_warmup=1_000,
    undo_ops=1_000,
    undo_rounds=3,
    replay_ops=10_000,
    replay_rounds=3,
)

QUICK = Config(
    name="quick",
    rounds=2,
    batch_entries={1: 30, 100: 300, 1_000: 2_000, 10_000: 10_000},
    pipelined_entries=10_000,
    latency_samples=150,
    latency_warmup=10,
    latency_chunks=3,
    thread_counts=(1, 2, 4, 8, 16),
    thread_appends=25,
    kv_thread_appends=25,
    thread_rounds=1,
    archive_mb=(8, 32),
    archive_batch=100,
    archive_rounds=2,
    ref_archive_rounds=1,
    sig_commits=3_000,
    sig_rounds=2,
    writer_threads=8,
    writer_appends=100,
    writer_rounds=1,
    ops_files=10_000,
    ops_batch=1_000,
    ops_bytes=200,
    ops_rounds=1,
    ops_warmup=500,
    undo_ops=200,
    undo_rounds=1,
    replay_ops=2_000,
    replay_rounds=1,
)

# The regression gate: small sizes, enough rounds for stable medians, under a minute on 2 cores.
CHECK = Config(
    name="check",
    rounds=4,
    batch_entries={1: 30, 100: 500, 1_000: 3_000, 10_000: 10_000},
    pipelined_entries=30_000,
    latency_samples=600,
    latency_warmup=20,
    latency_chunks=4,
    thread_counts=(1, 8),  # the gate's figures; the full run covers 1, 2, 4, 8, 16
    thread_appends=150,
    kv_thread_appends=40,
    thread_rounds=6,
    archive_mb=(10, 40),
    archive_batch=100,
    archive_rounds=3,
    ref_archive_rounds=1,
    sig_commits=5_000,
    sig_rounds=3,
    writer_threads=8,
    writer_appends=200,
    writer_rounds=1,
    ops_files=2_000,  # two batches: the gate's figure, not the 10,000 (a full or quick run measures those)
    ops_batch=1_000,
    ops_bytes=200,
    ops_rounds=3,
    ops_warmup=500,
    undo_ops=0,  # the gate has no figure for it
    undo_rounds=0,
    replay_ops=0,  # nor for replay
    replay_rounds=0,
)


def parse_args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes: a smoke run in under a minute")
    mode.add_argument(
        "--check",
        action="store_true",
        help="the regression gate: small sizes, compared with the baseline; exit 1 on a regression",
    )
    ap.add_argument(
        "--baseline", type=Path, default=gate.BASELINE, help="baseline file (default benches/baseline.json)"
    )
    ap.add_argument(
        "--update-baseline",
        action="store_true",
        help="with --check: write the measured figures into the baseline file (tolerances kept) instead of judging",
    )
    ap.add_argument(
        "--archive-mb",
        type=lambda v: tuple(float(x) for x in v.split(",")),
        default=None,
        help=f"validation archive sizes in MB, comma-separated (default {','.join(f'{x:g}' for x in FULL.archive_mb)};"
        f" --check {','.join(f'{x:g}' for x in CHECK.archive_mb)})",
    )
    ap.add_argument("--rounds", type=int, default=None, help="measured rounds of the throughput test")
    ap.add_argument(
        "--tmp-dir",
        type=Path,
        default=REPO / ".bench-tmp",
        help="where scratch logs and cached archives go (a real disk file system; default: .bench-tmp in the repo)",
    )
    ap.add_argument("--out", type=Path, default=None, help="results directory (default benches/results)")
    ap.add_argument("--no-plot", action="store_true", help="do not write the scaling PNG (full and quick runs)")
    ap.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    args = ap.parse_args(argv)
    if args.update_baseline and not args.check:
        ap.error("--update-baseline needs --check (the baseline is for the gate's sizes)")
    return args


def select(args: argparse.Namespace) -> Config:
    """The mode's configuration with the overrides given on the command line."""
    cfg = CHECK if args.check else QUICK if args.quick else FULL
    if args.rounds is not None:
        cfg = replace(cfg, rounds=max(1, args.rounds))
    if args.archive_mb is not None:
        cfg = replace(cfg, archive_mb=tuple(sorted(args.archive_mb)))
    return cfg
