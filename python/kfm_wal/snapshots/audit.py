"""The audit a snapshot and a rollback both start with: do the real roots hold exactly what the
log says? The whole log is replayed into a scratch sandbox and compared with the real roots
(`kfm_wal.replay.check`, what `kfm-wal replay --check` runs); a write around the log shows as a
divergence naming the root and the first path or quad that differs."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .. import replay


@dataclass(frozen=True)
class Audit:
    operations: int  # replayed
    problem: str | None  # why the roots cannot be trusted, or None
    around: bool = False  # the problem is a write around the log (not the log itself)


def audit(log: str | os.PathLike[str]) -> Audit:
    try:
        report = replay.check(log)
    except replay.ReplayError as e:  # the log fails validation, a blob is missing...
        return Audit(0, str(e))
    if report.halted is not None:
        return Audit(report.operations, f"the log does not reproduce its own roots: {report.halted.message()}")
    if report.divergence is not None:
        return Audit(report.operations, report.divergence.message(), around=True)
    return Audit(report.operations, None)


__all__ = ["Audit", "audit"]
