"""Section 8 of benches/run.py: small file writes as guarded operations (`kfm_wal.ops.run_batch`)
against the same writes done directly with the same durability.

Peers, each writing the same N files of the same bytes (one directory, fresh each run):

    guarded            kfm_wal.ops.run_batch on a Wal (durability "fsync"), batches of B operations
                       of one Write each. Per operation, what ops does (kfm_wal/ops/files.py,
                       contents.py, durable.py): read the target (absent: no before-image is
                       needed), put the new content (200 B, under INLINE_MAX) inline in the
                       intent's payload, which the intents' group commit makes durable before
                       anything executes (a content over INLINE_MAX would be a blob: temp, fsync,
                       rename, blob directory fsync, before the intents), check the target is
                       still as planned, write it atomically (temp, fsync, rename), read it back
                       and hash it; per batch, one group commit (one fdatasync) for the intents,
                       one fsync of the data directory after the last rename, and one group commit
                       for the completions. A write is acknowledged when run_batch returns.
    atomic, dir fsync per file
                       the judged unguarded peer: temp file, write, fsync, rename over the target,
                       fsync of the directory, per file, so each write is durable when it returns:
                       at least the guarantee each guarded write has when run_batch returns.
    atomic, dir fsync per batch
                       diagnostic floor, not the judged peer: temp, fsync, rename per file, one
                       directory fsync per batch of B (the directory durability the guarded
                       peer has: renames durable when the batch returns), without a log.

The judged figure is guarded time / unguarded (dir fsync per file) time for the same files, target
at most 2x (the issue's). Entries are file writes: one operation of one Write each.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import kfm_wal
from formatting import rate
from harness import paired_rounds, settle
from kfm_wal import keys, ops
from stats import paired_ratio

GUARDED = "guarded (ops.run_batch)"
PER_FILE = "atomic, dir fsync per file"
PER_BATCH = "atomic, dir fsync per batch"
PEERS = (GUARDED, PER_FILE, PER_BATCH)
TARGET = 2.0  # guarded / unguarded time, at most (the target)

ACTOR = {"type": "ci", "id": "bench-ops"}
GOVERNANCE = {"care": "public"}
KEY_SEED = bytes(range(32))


def contents(n: int, size: int, seed: int) -> list[tuple[str, bytes]]:
    """n distinct files of `size` bytes (distinct, so the blob store cannot deduplicate them)."""
    out = []
    for i in range(n):
        block = hashlib.sha256(f"{seed}/{i}".encode()).hexdigest().encode()
        out.append((f"f{i:05d}.bin", (block * (size // len(block) + 1))[:size]))
    return out


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _put(path: Path, data: bytes) -> None:
    """Temp file in the same directory, write, fsync, rename over the target (as ops does)."""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def atomic_per_file(root: Path, files: Sequence[tuple[str, bytes]], batch: int) -> None:
    for name, data in files:
        _put(root / name, data)
        _fsync_dir(root)


def atomic_per_batch(root: Path, files: Sequence[tuple[str, bytes]], batch: int) -> None:
    for i in range(0, len(files), batch):
        for name, data in files[i : i + batch]:
            _put(root / name, data)
        _fsync_dir(root)


REVIEWER_SEED = bytes(range(32, 64))


def governor(directory: Path, writer: keys.SigningKey) -> Any:
    """Tier-1 operations are decided by the governance policy (the shipped one) and recorded in the
    governance ledger (directory/governance/ledger): a reviewer key (role maintainer) approves
    each operation's request, as a CI reviewer would."""
    from kfm_wal.governance import Ledger, approve
    from kfm_wal.governance.gate import Governor

    reviewer = keys.SigningKey.from_seed(REVIEWER_SEED)
    ring = keys.Keyring(()).with_key(writer).with_key(reviewer, ("maintainer",), "bench reviewer")
    ledger = Ledger.open(directory / "governance" / "ledger", writer, durability="fsync")
    return Governor.for_log(
        directory / "wal",
        keyring=ring,
        ledger=ledger,
        approver=lambda request: [approve(request, reviewer, "maintainer")],
    )


class Guarded:
    """ops.run_batch at `tier` (1: decided by the policy and recorded in the governance ledger,
    what an ETL job runs; 0: not governed, the ops path alone)."""

    def __init__(self, directory: Path, tier: int = 1) -> None:
        writer = keys.SigningKey.from_seed(KEY_SEED)
        self.wal = kfm_wal.Wal.create(directory / "wal", writer, durability="fsync")
        self.tier = tier
        self.governor = governor(directory, writer) if tier >= 1 else None

    def run(self, root: Path, files: Sequence[tuple[str, bytes]], batch: int) -> None:
        for i in range(0, len(files), batch):
            specs = [
                ops.OperationSpec([ops.Write(name, data)], ACTOR, self.tier, GOVERNANCE, {"id": f"bench-ops/{i + k}"})
                for k, (name, data) in enumerate(files[i : i + batch])
            ]
            # blobs: the log's store, wal/blobs/
            results = ops.run_batch(self.wal, specs, root=root, governor=self.governor)
            bad = [r for r in results if r.status != "succeeded"]
            if bad:
                raise RuntimeError(f"guarded write {bad[0].wal_id} {bad[0].status}: {bad[0].error}")

    def close(self) -> None:
        self.wal.close()
        if self.governor is not None:
            self.governor.ledger.close()


def _spread(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def rows_of(times: dict[str, list[float]], count: int, rate_key: str) -> dict[str, dict[str, Any]]:
    """Per peer: its timed runs' seconds and `count` / seconds under `rate_key`."""
    return {name: {"seconds": _spread(ts), rate_key: _spread([count / t for t in ts])} for name, ts in times.items()}


def operation_result(times: dict[str, list[float]], count: int, ours: str, floor: str, **fields: Any) -> dict[str, Any]:
    """What an operation suite (undo, recovery, rollback, replay) reports: `count` operations, its
    own `fields`, each peer's seconds and operations/s, and the time ratio of `ours` to `floor`."""
    return {
        "operations": count,
        **fields,
        "rows": rows_of(times, count, "ops_per_s"),
        "time_ratio": {f"{ours} / {floor}": paired_ratio(times[ours], times[floor])},
    }


def files_left(name: str, root: Path, what: str) -> None:
    """A peer that removes files left none in `root` (`what`: after what)."""
    left = sorted(p.name for p in root.iterdir())
    if left:
        raise RuntimeError(f"{name}: {len(left)} file(s) left after {what}, e.g. {left[0]}")


def _check(root: Path, files: Sequence[tuple[str, bytes]]) -> None:
    """Every peer really wrote every file (checked after timing; a cheap spot check of contents)."""
    names = {p.name for p in root.iterdir() if not p.name.startswith(".")}
    if len(names) != len(files):
        raise RuntimeError(f"{root}: {len(names)} files, expected {len(files)}")
    for name, data in files[:: max(1, len(files) // 50)]:
        if (root / name).read_bytes() != data:
            raise RuntimeError(f"{root / name}: wrong content")


def run(
    *,
    files: int,
    batch: int,
    size: int,
    rounds: int,
    warmup: int,
    seed: int,
    fresh: Callable[[str], Path],
    remove: Callable[[Path], None],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """`rounds` measured rounds (peers in a rotating order, fresh directories, dirty pages flushed
    before each timed run) after a discarded warm-up round of `warmup` files."""
    work = contents(files, size, seed)

    def count(r: int) -> int:
        return warmup if r == 0 else files

    def measure(name: str, d: Path, r: int) -> float:
        root = d / "processed"
        root.mkdir(parents=True)
        guarded = Guarded(d) if name == GUARDED else None
        settle()
        t0 = time.perf_counter()
        if guarded is not None:
            guarded.run(root, work[: count(r)], batch)
        elif name == PER_FILE:
            atomic_per_file(root, work[: count(r)], batch)
        else:
            atomic_per_batch(root, work[: count(r)], batch)
        dt = time.perf_counter() - t0
        if guarded is not None:
            guarded.close()
        _check(root, work[: count(r)])
        return dt

    times = paired_rounds(
        "guarded file writes",
        PEERS,
        rounds,
        measure,
        fresh=fresh,
        remove=remove,
        say=say,
        size=lambda r: f" ({count(r):,} files)",
    )
    return {
        "files": files,
        "batch": batch,
        "file_bytes": size,
        "rounds": rounds,
        "warmup_files": warmup,
        "rows": rows_of(times, files, "entries_per_s"),
        "time_ratio": {
            f"{GUARDED} / {PER_FILE}": paired_ratio(times[GUARDED], times[PER_FILE]),
            f"{GUARDED} / {PER_BATCH}": paired_ratio(times[GUARDED], times[PER_BATCH]),
        },
        "target": TARGET,
    }


def judged(res: dict[str, Any]) -> dict[str, Any]:
    """The judged ratio: guarded time / unguarded (dir fsync per file) time."""
    ratio: dict[str, Any] = res["time_ratio"][f"{GUARDED} / {PER_FILE}"]
    return ratio


def render(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    j = judged(res)
    floor = res["time_ratio"][f"{GUARDED} / {PER_BATCH}"]
    ok = j["ratio_of_medians"] <= res["target"]
    verdict = "PASS" if ok else "FAIL"
    txt = [
        f"8. Guarded small file writes: {res['files']:,} files of {res['file_bytes']} B, ops.run_batch in batches "
        f"of {res['batch']:,} (one Write per operation), median of {res['rounds']} round(s)"
    ]
    md = [
        "## 8. Guarded small file writes (`kfm_wal.ops.run_batch`)",
        "",
        f"{res['files']:,} distinct files of {res['file_bytes']} bytes in one directory, written as guarded "
        f"operations through `ops.run_batch` in batches of {res['batch']:,} operations of one `Write` each "
        "(Wal durability `fsync`), against the same bytes written directly. The judged peer gives each file the "
        "guarantee a guarded write has when its batch returns, or more: temp file, fsync, rename, fsync of the "
        "directory, per file (each write durable when it returns). The diagnostic peer fsyncs the directory "
        "once per batch instead, as ops does after the batch's last rename. Per guarded write ops also reads the "
        "target before and after, and carries the new content inline in the intent (contents up to 4 KiB; "
        "larger ones are blobs with their own atomic write), made durable by the intents' group commit before "
        "anything executes; two group commits per batch. "
        f"Median of {res['rounds']} interleaved round(s) after a warm-up of {res['warmup_files']:,} files; fresh "
        "directories, dirty pages flushed before each timed run.",
        "",
        "| peer | files/s | min-max | seconds |",
        "|---|---:|---:|---:|",
    ]
    for name, row in res["rows"].items():
        e, s = row["entries_per_s"], row["seconds"]
        md.append(f"| {name} | {rate(e['median'])} | {rate(e['min'])}-{rate(e['max'])} | {s['median']:.2f} |")
        txt.append(f"  {name:30s} {rate(e['median']):>8} files/s  ({s['median']:.2f} s)")
    line = (
        f"guarded / unguarded time (dir fsync per file): {j['ratio_of_medians']:.2f}x "
        f"(per-round {j['paired_min']:.2f}-{j['paired_max']:.2f}x), target <= {res['target']:g}x: {verdict}; "
        f"vs the per-batch directory fsync floor: {floor['ratio_of_medians']:.2f}x"
    )
    txt += ["  " + line, ""]
    md += ["", ("**" + line + "**") if not ok else line, ""]
    return txt, md


__all__ = ["GUARDED", "PEERS", "PER_BATCH", "PER_FILE", "TARGET", "contents", "judged", "render", "run"]
