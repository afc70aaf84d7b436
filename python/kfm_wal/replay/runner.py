"""The replay itself: select, then execute operation after operation into the sandbox, halting at
the first mismatch; `check` compares the sandbox with the real roots; `checkout` is a replay up to
a point into a new directory. The real roots are only read (by `check`), never opened for writing."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from ..ops import root_state
from ..storage.store import local_path
from .executor import Halt, Recorded, replay_one
from .report import Divergence, ReplayError, ReplayReport
from .sandbox import Mapped, Sandbox, describe_roots
from .selection import select, source
from .sources import blob_store


def replay(
    log: str | os.PathLike[str],
    sandbox: str | os.PathLike[str],
    *,
    start: str | int | None = None,
    end: str | int | None = None,
    until_failure: bool = False,
    quarantine: bool = False,
    blobs: str | os.PathLike[str] | None = None,
) -> ReplayReport:
    """Re-execute the operations of the log at `log` (a directory, or an archive's URL, read
    only) in seq order into `sandbox` (empty or missing; with `start`, also the sandbox an earlier
    replay of the same log left). `start`/`end`: a seq or a wal_id. At the first mismatch the
    report's `halted` says where; the sandbox is then removed unless `until_failure` (kept as it
    was just before the operation that differs). `blobs`: the blob store when it is not the log's
    own (`DIR/blobs/`, `URL/blobs/`): a URL or a directory holding `ab/cdef...`.
    Raises ReplayError (log invalid without `quarantine`, blob missing or corrupt, custom action not
    registered, sandbox not usable)."""
    src = source(log)
    store = blob_store(src, blobs)
    sel = select(src, start, end, quarantine=quarantine)
    # Where the log is, for `_apart`: an archive at a URL is a local place only when it is file://.
    log = Path(src) if isinstance(src, Path) else Path(local_path(src) or tempfile.gettempdir()) / "no-log-dir"
    target = Path(sandbox).absolute()
    _apart(target, log, sel.operations)
    fresh = not target.exists() or (target.is_dir() and not any(target.iterdir()))
    box = Sandbox.create(target, sel.log_id, resume=start is not None)
    if not fresh and box.last_seq is not None and sel.from_seq is not None and sel.from_seq <= box.last_seq:
        raise ReplayError(
            f"sandbox {sandbox} already holds the replay through seq {box.last_seq}: --from must come after it"
        )
    report = ReplayReport(str(src), str(target), sel.from_seq, sel.to_seq)
    report.quarantined, report.stopped_before, report.damage = sel.quarantined, sel.stopped_before, sel.damage
    counts: Counter[str] = Counter()
    last = box.last_seq
    try:
        for op in sel.operations:
            if not op.replayable:
                report.skipped.append({"seq": op.intent.seq, "wal_id": op.wal_id, "operation": op.operation})
                last = max(last or 0, op.intent.seq)
                continue
            if op.completion is None:
                report.pending.append({"seq": op.intent.seq, "wal_id": op.wal_id, "operation": op.operation})
                continue
            try:
                replay_one(op, box, store)
            except Halt as h:
                report.halted = h.mismatch
                break
            except (ReplayError, KeyboardInterrupt):
                raise
            except Exception as e:  # an action failed in the sandbox (a custom action, the disk...)
                err = ReplayError(
                    f"operation {op.wal_id} ({op.operation}, seq {op.intent.seq}): replaying it failed: "
                    f"{type(e).__name__}: {e}"
                )
                err.seq, err.wal_id = op.intent.seq, op.wal_id
                raise err from e
            counts[str(op.status)] += 1
            last = max(last or 0, op.completion.seq)
    except BaseException:
        if fresh and not until_failure:
            box.remove()
        else:
            box.close()
        raise
    if report.halted is None and sel.operations:
        ends = [o.completion.seq if o.completion else o.intent.seq for o in sel.operations]
        last = max(last or 0, sel.to_seq or max(ends))
    report.replayed, report.roots, report.last_seq = dict(counts), describe_roots(box), last
    box.last_seq = last
    report.digests = box.digests()
    if report.halted is not None and fresh and not until_failure:
        box.remove()
        report.kept = False
    else:
        box.save()
        box.close()
    return report


def _apart(target: Path, log: Path, operations: list[Recorded]) -> None:
    """The sandbox may not be, hold or lie in a real root or the log: replay never writes there."""
    real = {Path(p.locator) for op in operations if op.replayable for p in op.parts() if p.locator}
    real.add(log.absolute())
    where = target.resolve()
    for root in sorted(real):
        root = root.resolve()
        if where == root or where.is_relative_to(root) or root.is_relative_to(where):
            raise ReplayError(
                f"sandbox {target} overlaps {root}, a root the log writes to (or the log itself): "
                "replay never writes there; choose a sandbox outside them"
            )


def _real_state(m: Mapped, others: list[Path]) -> dict[str, str]:
    if m.kind == "graph":
        return root_state.read_graph(m.recorded)
    here = Path(m.recorded)
    return root_state.file_tree(here, [p for p in others if p != here and p.is_relative_to(here)])


def compare(box: Sandbox, report: ReplayReport) -> None:
    """Set `report.divergence` to the first real root whose whole state differs from the sandbox's
    (the real roots are only read)."""
    report.checked = True
    recorded = [Path(m.recorded) for m in box.roots.values()]
    for m in sorted(box.roots.values(), key=lambda m: (m.kind, m.recorded)):
        want, got = box.state_of(m), _real_state(m, recorded)
        diff = root_state.first_difference(want, got)
        if diff is not None:
            report.divergence = Divergence(
                m.kind, m.recorded, m.name, root_state.digest(want), root_state.digest(got), *diff
            )
            return


def check(
    log: str | os.PathLike[str], *, quarantine: bool = False, blobs: str | os.PathLike[str] | None = None
) -> ReplayReport:
    """Replay the whole log into a temporary sandbox and compare its final state with the real
    roots: `report.ok` when equal; else `halted` (the replay itself differs from the log) or
    `divergence` (a real root differs from the replay), with the first target that does. `log`
    and `blobs` as for `replay` (an archive at a URL is compared with the real roots of this
    machine)."""
    tmp = Path(tempfile.mkdtemp(prefix="kfm-wal-replay-"))
    try:
        report = replay(log, tmp / "sandbox", until_failure=True, quarantine=quarantine, blobs=blobs)
        if report.halted is None:
            box = _reopen(tmp / "sandbox", report)
            compare(box, report)
            box.close()
        report.kept = False
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _reopen(path: Path, report: ReplayReport) -> Sandbox:
    return Sandbox(path, None, [Mapped(r["kind"], r["recorded"], r["dir"]) for r in report.roots])


def checkout(log: str | os.PathLike[str], at: str | int, out: str | os.PathLike[str]) -> ReplayReport:
    """Materialise the data roots, STAC catalogs and graph stores as they were right after `at`
    (a seq, or a wal_id: right after its completion) into `out` (new or empty)."""
    target = Path(out).absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ReplayError(f"{out} exists and is not empty: checkout writes into a new directory")
    return replay(log, target, end=at)


__all__ = ["check", "checkout", "compare", "replay"]
