"""The snapshot requirement (governance/snapshot.py) judged against the log: before an operation
runs (`judged`, used by the ops governor, the guard and rollback) and over a whole log by
`kfm-wal validate --operations` (`SnapshotTaken`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..reader import Record
from ..snapshots.record import is_snapshot_intent, snapshots
from ..verify_rules import RecordRule
from .decision import Decision
from .policy import Policy, default_policy, judged_as
from .snapshot import snapshot_problem


def _rule_problem(policy: Policy, body: Mapping[str, Any], taken: Iterable[str] | None) -> str | None:
    tier = body.get("tier")
    if isinstance(tier, bool) or not isinstance(tier, int) or tier not in policy.tiers:
        return None  # not a tier this policy judges (the schema refuses it anyway)
    governance = body.get("governance")
    governance = governance if isinstance(governance, Mapping) else {}
    operation = judged_as(body.get("operation"), governance)
    rule = policy.rule(tier, operation)
    return snapshot_problem(rule, operation, governance, None if taken is None else list(taken))


def judged(decision: Decision, log_dir: str | os.PathLike[str], policy: Policy, intent: Mapping[str, Any]) -> Decision:
    """`decision` with the snapshot requirement judged against the log in `log_dir`. `intent`: the
    operation's intent entry or approval request (tier, operation, governance). The log is read
    only when the operation's rule requires a snapshot and one is named."""
    if _rule_problem(policy, intent, ()) is None:
        return decision  # its rule requires no snapshot
    if _rule_problem(policy, intent, None) is not None:
        return decision  # none named: the decision already says so (approvals.check)
    reason = _rule_problem(policy, intent, [s.name for s in snapshots(log_dir)])
    if reason is None or reason in decision.reasons:
        return decision
    return replace(decision, allowed=False, reasons=[*decision.reasons, reason])


class SnapshotTaken(RecordRule):
    """`gov.snapshot`: every intent whose rule requires a snapshot names one recorded before it."""

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
        reason = _rule_problem(self.policy, body, self._taken)
        if reason is not None:
            yield reason


__all__ = ["SnapshotTaken", "judged"]
