"""The rollback as one governed operation: operation "rollback", tier 4, its payload actions the
plan's reversals (what the approvers sign, through the request's actions_digest), judged under the
policy's approvals, its "snapshot required first" (a real snapshot record) and, when the range
holds irreversible operations it must leave in place, a declaration of them
(governance.irreversible) that the approvers sign too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..governance.approvals import check
from ..governance.decision import Decision
from ..governance.policy import Policy
from ..governance.snapshot_required import judged
from ..keys import Keyring
from ..ops.digests import actions_digest
from ..snapshots import snapshots
from ..wal import Wal
from .plan import Plan

TIER = 4
OPERATION = "rollback"
CARE_ORDER = ("public", "sensitive", "restricted")
MASKING = "restores the before-images the masked operations recorded; their masking stands"


def current_snapshot(plan: Plan) -> str | None:
    """The latest snapshot when no operation completed after it (it holds the state the rollback
    starts from, so the rollback itself can be rolled back to it), else None."""
    taken = snapshots(plan.log)
    if not taken:
        return None
    last = taken[-1]
    later = [s for s in plan.steps if s.action != "skip" and (s.completed or 0) > last.completed_seq]
    return last.name if not later else None


def governance_for(plan: Plan, *, snapshot: str | None, cross_irreversible: bool) -> dict[str, Any]:
    """The rollback's governance (before approvals and policy are added): the most restrictive
    CARE label of the operations it reverses or crosses, the snapshot it names, the declaration of
    the irreversible operations it leaves in place."""
    cares = [s.care for s in plan.steps if s.action != "skip" and s.care in CARE_ORDER]
    care = max(cares, key=CARE_ORDER.index, default="public")
    gov: dict[str, Any] = {"care": care}
    if care == "sensitive":
        gov["masking"] = MASKING
    if snapshot:
        gov["snapshot"] = snapshot
    if plan.crossed and cross_irreversible:
        ids = ", ".join(s.wal_id for s in plan.crossed)
        gov["irreversible"] = f"leaves in place the irreversible operation(s) {ids}"
    return gov


def links_for(plan: Plan) -> list[str]:
    t = plan.target
    if t.snapshot is not None:
        return [f"wal:{t.snapshot.wal_id}"]
    return [f"wal:{t.wal_id}"] if t.wal_id else []


def request_for(plan: Plan, actor: Mapping[str, Any], governance: Mapping[str, Any]) -> dict[str, Any]:
    """The approval request of the rollback (what `kfm-wal approve` signs), with its actions."""
    actions = plan.actions()
    return {
        "operation": OPERATION,
        "actor": dict(actor),
        "tier": TIER,
        "governance": dict(governance),
        "lineage_links": links_for(plan),
        "actions_digest": actions_digest(actions),
        "actions": actions,
    }


def decide(
    wal: Wal,
    plan: Plan,
    request: Mapping[str, Any],
    approvals: Sequence[Mapping[str, Any]],
    keyring: Keyring,
    policy: Policy,
) -> Decision:
    governance = request["governance"]
    decision = judged(check(request, list(approvals), keyring, policy), wal.path, policy, request)
    if plan.crossed and not governance.get("irreversible"):
        ids = ", ".join(f"{s.wal_id} (seq {s.seq})" for s in plan.crossed)
        reason = (
            f"the range holds irreversible operation(s) {ids}: leaving them in place needs a declaration "
            "(governance.irreversible, --cross-irreversible) that the approvers sign"
        )
        decision = Decision(
            False,
            [*decision.reasons, reason],
            decision.tier,
            decision.care,
            decision.request_digest,
            decision.policy,
            decision.approvals,
        )
    return decision


__all__ = ["OPERATION", "TIER", "current_snapshot", "decide", "governance_for", "links_for", "request_for"]
