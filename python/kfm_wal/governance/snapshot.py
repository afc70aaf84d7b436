"""The "snapshot required" check of the policy, in one place: a tier (or hotfix) rule that says
`snapshot_required` needs the operation to name the snapshot taken before it (governance.snapshot).
Today the check is that the declaration is there; verifying that the snapshot it names exists
and matches the targets belongs here too, so every caller of the decision gets it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .policy import HOTFIX, TierRule


def declared(value: Any) -> bool:
    """A declaration counts when it says something: a non-blank string, a non-empty list/object."""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict):
        return bool(value)
    return False


def snapshot_problem(rule: TierRule, operation: str, governance: Mapping[str, Any]) -> str | None:
    """Why the operation does not meet its rule's snapshot requirement, or None when it does."""
    if not rule.snapshot_required or declared(governance.get("snapshot")):
        return None
    which = "a hotfix at tier" if rule.operations == (HOTFIX,) else "tier"
    return f"{which} {rule.tier} requires a snapshot first: governance.snapshot is missing"


__all__ = ["declared", "snapshot_problem"]
