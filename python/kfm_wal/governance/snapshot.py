"""The policy's "snapshot required first", in one place: an operation whose rule (its tier's, or
a hotfix tier's) says `snapshot_required` must name, in governance.snapshot, a snapshot recorded
in the same log before its intent (kfm_wal.snapshots: a snapshot intent with a succeeded
completion). Judging an approval request alone, only the declaration can be checked; wherever the
log is at hand (the ops governor, the guard, rollback, `validate --operations`), the names of the
snapshots recorded so far are passed as `taken` and a name that is no such record is refused."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .policy import HOTFIX, TierRule


def declared(value: Any) -> bool:
    """A declaration counts when it says something: a non-blank string, a non-empty list/object."""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict):
        return bool(value)
    return False


def snapshot_problem(
    rule: TierRule, operation: str, governance: Mapping[str, Any], taken: Collection[str] | None = None
) -> str | None:
    """Why the operation does not meet its rule's snapshot requirement, or None when it does.
    `taken`: the names of the snapshots recorded before it (None: the log is not at hand)."""
    if not rule.snapshot_required:
        return None
    which = "a hotfix at tier" if rule.operations == (HOTFIX,) else "tier"
    named = governance.get("snapshot")
    if not declared(named):
        return f"{which} {rule.tier} requires a snapshot first: governance.snapshot is missing"
    if taken is not None and (not isinstance(named, str) or named not in taken):
        return (
            f"{which} {rule.tier} requires a snapshot first: governance.snapshot names {named!r}, which is no "
            "snapshot recorded in the log before this operation (take one with kfm-wal snapshot create)"
        )
    return None


__all__ = ["declared", "snapshot_problem"]
