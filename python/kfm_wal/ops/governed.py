"""The governance hook of kfm_wal.ops: every operation the policy governs is decided by it
before its intent is recorded, and its outcome written to the governance ledger, whichever
function ran it (run, prepare/execute, run_batch, undo, retry, a hotfix).

An operation is governed when its tier is 1 or more, or it is a hotfix (or the retry of one):
those are decided at any tier. Tier-0 operations pass without loading the governance layer.
Without a governor the default applies: `Governor.for_log(the log)` (the shipped policy, the
keyring and writer key next to the log, the ledger in <parent of the log>/governance/ledger).
A refusal raises kfm_wal.governance.GovernanceError with nothing recorded in the log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..wal import Wal
from .result import OperationResult

# `prepared` below: operation.Prepared (entry, decision, governor), which imports this module.

HOTFIX = "hotfix"  # the operation kinds decided at every tier (governance/policy.py: HOTFIX)


def governed(entry: Mapping[str, Any]) -> bool:
    """Whether the policy decides this intent (tier >= 1, or a hotfix or its retry)."""
    tier = entry.get("tier")
    if isinstance(tier, int) and 1 <= tier <= 4:  # an invalid tier is the schema's to refuse
        return True
    governance = entry.get("governance")
    retry_of = governance.get("retry_of") if isinstance(governance, Mapping) else None
    return entry.get("operation") == HOTFIX or retry_of == HOTFIX


def admit(wal: Wal, prepared: Sequence[Any], governor: Any) -> None:
    """Decide the governed operations of `prepared` (one decision each, refusals recorded in one
    ledger group commit); raises GovernanceError when any is refused, before anything is logged."""
    todo = [p for p in prepared if governed(p.entry)]
    if not todo:
        return
    # Imported here: the governance package imports kfm_wal.ops (its guard runs operations).
    from ..governance.gate import Governor

    gov = governor if governor is not None else Governor.for_log(wal.path)
    for p, decision in zip(todo, gov.decide([p.entry for p in todo], wal.path), strict=True):
        p.decision, p.governor = decision, gov


def settle(prepared: Sequence[Any], results: Sequence[OperationResult]) -> None:
    """Record the outcome of every decided operation in its governor's ledger (one group commit
    per governor)."""
    by_governor: dict[int, tuple[Any, list[tuple[Any, OperationResult]]]] = {}
    for p, r in zip(prepared, results, strict=True):
        if p.decision is not None:
            by_governor.setdefault(id(p.governor), (p.governor, []))[1].append((p, r))
    for gov, done in by_governor.values():
        gov.record([(p.entry, p.decision, r.wal_id, r.status) for p, r in done])


__all__ = ["HOTFIX", "admit", "governed", "settle"]
