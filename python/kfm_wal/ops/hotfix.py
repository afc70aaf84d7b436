"""Hotfixes: operations of kind "hotfix", tier 0 to 3, an unscheduled fix applied outside the
normal pipeline. A hotfix is always decided by the governance policy (tier 0 included) under the
policy's hotfix rules, which grade it per tier (the default: more approvals, and a declared
snapshot at tiers 2-3); tier 4 is refused, pointing at rollback. Every hotfix, allowed or refused,
is recorded in the governance ledger (ops/governed.py). Otherwise it is an operation like any:
recorded before it runs, validated, completed, undoable, retryable.

    hotfix(wal, [Write("counties.csv", fixed)], actor=..., tier=2, snapshot="snap-2026-12-06",
           governance={"care": "public", "approvals": [a1, a2]}, telemetry={"id": "fix-17"})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from ..wal import Wal
from .governed import HOTFIX
from .operation import OperationResult, RunOptions, run


def hotfix(
    wal: Wal, actions: Sequence[Any], *, snapshot: str | None = None, **options: Unpack[RunOptions]
) -> OperationResult:
    """Run `actions` as a hotfix (the keywords of `ops.run`; `operation` is "hotfix"). `snapshot`
    names the snapshot taken before it (governance.snapshot), which higher tiers require."""
    if options.get("operation", HOTFIX) != HOTFIX:
        raise TypeError(f"hotfix() records operation {HOTFIX!r}, not {options['operation']!r}")
    governance = dict(options["governance"])
    if snapshot is not None:
        governance["snapshot"] = snapshot
    options = {**options, "governance": governance, "operation": HOTFIX}
    return run(wal, actions, **options)


__all__ = ["HOTFIX", "hotfix"]
