"""The policy's "snapshot required first", meaning a real snapshot record: an operation at a tier
whose rule says `snapshot_required` must name, in governance.snapshot, a snapshot recorded in the
same log before its intent (kfm_wal.snapshots: a snapshot intent with a succeeded completion). A
string that names no such record does not count.

One check (`snapshot_missing`), used by the guard before an operation runs (`judged`) and by
`kfm-wal validate --operations` over a whole log (`SnapshotTaken`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from ..reader import Record
from ..snapshots.record import is_snapshot_intent, snapshots
from ..verify_rules import RecordRule
from ..wal import Wal
from .decision import Decision
from .policy import Policy, default_policy


def snapshot_missing(policy: Policy, tier: Any, governance: Any, taken: Collection[str]) -> str | None:
    """Why the operation lacks the snapshot its tier requires (None when it has it, or needs none).
    `taken`: the names of the snapshots recorded in the log before the operation's intent."""
    if isinstance(tier, bool) or not isinstance(tier, int) or tier not in policy.tiers:
        return None  # not a tier this policy judges (the schema refuses it anyway)
    if not policy.tier(tier).snapshot_required:
        return None
    named = governance.get("snapshot") if isinstance(governance, Mapping) else None
    if not isinstance(named, str) or not named.strip():
        return f"tier {tier} requires a snapshot first: governance.snapshot is missing"
    if named not in taken:
        return (
            f"tier {tier} requires a snapshot first: governance.snapshot names {named!r}, which is no snapshot "
            "recorded in the log before this operation (take one with kfm-wal snapshot create)"
        )
    return None


def judged(decision: Decision, wal: Wal, policy: Policy, governance: Mapping[str, Any]) -> Decision:
    """`decision` with the snapshot check's reason added when it fails (the log is read only when
    the tier requires a snapshot and one is named)."""
    rule = policy.tiers.get(decision.tier)
    named = governance.get("snapshot")
    taken = [s.name for s in snapshots(wal.path)] if rule and rule.snapshot_required and named else []
    reason = snapshot_missing(policy, decision.tier, governance, taken)
    if reason is None or reason in decision.reasons:
        return decision
    return Decision(
        False,
        [*decision.reasons, reason],
        decision.tier,
        decision.care,
        decision.request_digest,
        decision.policy,
        decision.approvals,
    )


class SnapshotTaken(RecordRule):
    """`gov.snapshot`: every intent at a tier that requires a snapshot names one recorded before it."""

    id = "gov.snapshot"
    description = "operations at a tier that requires a snapshot name a snapshot recorded before them"
    whole_log = True  # a snapshot taken before a receipt's seq still counts in an incremental run

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or default_policy()
        self._pending: dict[str, str] = {}  # snapshot intent wal_id -> name
        self._taken: set[str] = set()

    def check(self, record: Record) -> Iterable[str]:
        body = record.body
        if record.kind == "completion":
            name = self._pending.pop(str(body.get("wal_id")), None)
            if name is not None and body.get("status") == "succeeded":
                self._taken.add(name)
            return
        if record.kind != "intent":
            return
        if is_snapshot_intent(body):
            self._pending[str(body.get("wal_id"))] = str(body["payload"].get("name"))
        reason = snapshot_missing(self.policy, body.get("tier"), body.get("governance"), self._taken)
        if reason is not None:
            yield reason


__all__ = ["SnapshotTaken", "judged", "snapshot_missing"]
