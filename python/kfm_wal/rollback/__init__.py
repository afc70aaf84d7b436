"""Rollback to a point: every operation completed after a snapshot, a wal_id or a seq reversed,
newest first, from its reversal steps and before-images, as one governed tier-4 operation, all or
nothing; afterwards the roots' digests equal the target's and the log says so.

    from kfm_wal import rollback
    plan = rollback.plan_of("data/wal", "before-etl")          # nothing written
    request = rollback.request_for(plan, actor, rollback.governance_for(plan, snapshot=..., cross_irreversible=False))
    rollback.apply(wal, "before-etl", actor=..., approvals=[...], policy=..., keyring=...)

Modules: `target` (where `--to` points, the digests there), `plan` (audit, range, refusals),
`describe` (a reversal in words), `request` (the governed request and decision), `apply` (the
all-or-nothing execution), `errors`."""

from __future__ import annotations

from .apply import RollbackResult, apply, plan_of
from .errors import RollbackError
from .plan import FORMAT, Plan, Step, build
from .request import current_snapshot, governance_for, request_for
from .target import Target

__all__ = [
    "FORMAT",
    "Plan",
    "RollbackError",
    "RollbackResult",
    "Step",
    "Target",
    "apply",
    "build",
    "current_snapshot",
    "governance_for",
    "plan_of",
    "request_for",
]
