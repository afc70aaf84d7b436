"""Applying a rollback, all or nothing.

1. the plan (plan.py: audit of the roots against the log, the range, the refusals);
2. the decision (request.py: tier 4 under the policy's approvals); a refusal is recorded in the
   governance ledger when one is given, and nothing is written to the log;
3. the rollback's intent (payload `kfm-wal-rollback/1`: the target, the reversals as actions,
   the digests the roots must have after), durable before anything changes;
4. each reversal, newest operation first, by `kfm_wal.ops.undo` (itself an operation "rollback"
   linked to the operation and to this rollback, recorded before it runs);
5. the roots' digests compared with the expected ones;
6. the completion: "succeeded" with the digests (detail.digests) when they match; otherwise the
   reversals already done are re-applied (each undone in turn, newest first, recorded too) and
   the completion says "reversed" (the roots are back where they were) or "failed" (re-applying
   failed too: the log still says exactly what was done), and the error is raised."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import ops
from ..governance.errors import GovernanceError
from ..governance.ledger import Ledger
from ..governance.policy import Policy
from ..keys import Keyring
from ..ops.digests import actions_digest, first_difference, state_hash
from ..snapshots import digests, keyed
from ..wal import Wal
from .errors import RollbackError
from .plan import FORMAT, Plan, build
from .request import OPERATION, TIER, current_snapshot, decide, governance_for, request_for


@dataclass
class RollbackResult:
    wal_id: str | None  # of the rollback's intent (None when there was nothing to do)
    status: str  # "succeeded", "reversed", "failed", or "unchanged" (nothing recorded)
    target: str
    undone: list[str] = field(default_factory=list)  # the operations reversed (before any re-applying), newest first
    undo_operations: list[str] = field(default_factory=list)  # the undo operations that did it
    digests: dict[str, str] = field(default_factory=dict)  # {root key: digest} afterwards
    completion_seq: int | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _now(plan: Plan) -> dict[str, str]:
    return {k: v for k, v in keyed(digests(plan.roots, plan.log)).items() if k in plan.expected}


def _entry(
    plan: Plan, request: Mapping[str, Any], approvals: list[dict[str, Any]], policy: Policy, telemetry: Any
) -> dict[str, Any]:
    gov = request["governance"]
    target = plan.target
    step: dict[str, Any] = {"type": "rollback.reapply"}
    if gov.get("snapshot"):
        step["snapshot"] = gov["snapshot"]
    return {
        "operation": OPERATION,
        "actor": request["actor"],
        "pre_state_hash": state_hash({k: v for k, v in plan.current.items() if k in plan.expected}),
        "post_state_expected": state_hash(plan.expected),
        "payload": {
            "format": FORMAT,
            "to": {
                "given": target.given,
                "seq": target.point,
                "snapshot": target.snapshot.name if target.snapshot else None,
                "wal_id": target.wal_id,
            },
            "actions": request["actions"],
            "expects": plan.expected,
        },
        "reversal": {"steps": [step]},
        "tier": TIER,
        "governance": {**gov, "approvals": approvals, "policy": policy.version_hash},
        "lineage_links": request["lineage_links"],
        "telemetry": dict(telemetry),
    }


def _undo(wal: Wal, wal_id: str, actor: Mapping[str, Any], rollback_id: str, k: str) -> ops.OperationResult:
    return ops.undo(
        wal,
        wal_id,
        actor=actor,
        telemetry={"id": f"rollback/{rollback_id}/{k}"},
        lineage_links=[f"wal:{rollback_id}"],
    )


def _reapply(wal: Wal, done: list[ops.OperationResult], actor: Mapping[str, Any], rollback_id: str) -> list[str]:
    """Undo the undos already done, newest first; returns the errors (empty when all went)."""
    errors = []
    for k, result in enumerate(reversed(done)):
        try:
            _undo(wal, result.wal_id, actor, rollback_id, f"reapply-{k}")
        except Exception as e:  # reported and recorded by the caller; the others are still tried
            errors.append(f"re-applying {result.wal_id}: {type(e).__name__}: {e}")
    return errors


def apply(
    wal: Wal,
    to: str | int,
    *,
    actor: Mapping[str, Any],
    approvals: Sequence[Mapping[str, Any]],
    policy: Policy,
    keyring: Keyring,
    snapshot: str | None = None,
    cross_irreversible: bool = False,
    ledger: Ledger | None = None,
    telemetry: Mapping[str, Any] | None = None,
    plan: Plan | None = None,
) -> RollbackResult:
    """Roll the roots of the log `wal` writes back to `to` (a snapshot name, a wal_id or a seq),
    all or nothing (the module docstring). `snapshot`: the snapshot the rollback names as taken
    first (governance.snapshot; default the latest one when nothing completed after it).
    Raises RollbackError (refused, or failed and re-applied) or GovernanceError (refused)."""
    started = time.perf_counter()
    plan = plan or build(wal.path, to)
    gov = governance_for(plan, snapshot=snapshot or current_snapshot(plan), cross_irreversible=cross_irreversible)
    request = request_for(plan, actor, gov)
    decision = decide(wal, plan, request, approvals, keyring, policy)
    tel = dict(telemetry or {"id": f"rollback/to/{plan.target.given}"})
    if not decision.allowed:
        receipt = ledger.record(decision, request, policy, telemetry=tel) if ledger is not None else None
        refusal = GovernanceError(
            f"rollback to {plan.target.label} (tier {TIER}, {decision.care}) refused by governance policy "
            f"{decision.policy}, nothing changed: " + "; ".join(decision.reasons)
        )
        refusal.decision, refusal.ledger_receipt = decision, receipt
        raise refusal
    if not plan.reversals and plan.current == plan.expected:
        return RollbackResult(None, "unchanged", plan.target.label, digests=dict(plan.current))
    intent = wal.append(_entry(plan, request, [dict(a) for a in approvals], policy, tel))
    rid = intent.wal_id
    done: list[ops.OperationResult] = []
    failure: str | None = None
    failed_at: str | None = None
    for k, step in enumerate(plan.reversals):
        try:
            done.append(_undo(wal, step.wal_id, actor, rid, str(k)))
        except Exception as e:  # any failure: re-apply what was done (all or nothing)
            failure, failed_at = f"reversing {step.wal_id} ({step.operation}, seq {step.seq}) failed: {e}", step.wal_id
            break
    now = _now(plan)
    if failure is None:
        diff = first_difference(plan.expected, now)
        if diff is not None:
            failure = f"after the reversals the roots differ from {plan.target.label}: {diff[1]}"
    result = RollbackResult(rid, "succeeded", plan.target.label, [s.wal_id for s in plan.reversals[: len(done)]])
    result.undo_operations = [r.wal_id for r in done]
    detail: dict[str, Any] = {"to": plan.target.given, "undo_operations": result.undo_operations}
    completion: dict[str, Any] = {"wal_id": rid}
    if failure is None:
        completion.update(status="succeeded", executed_digest=actions_digest(request["actions"]))
    else:
        errors = _reapply(wal, done, actor, rid)
        now = _now(plan)
        back = first_difference({k: v for k, v in plan.current.items() if k in now}, now)
        result.status = "reversed" if not errors and back is None else "failed"
        if errors or back is not None:
            failure += "; re-applying failed too: " + "; ".join(errors or [back[1] if back else ""])
        else:
            failure += f"; the {len(done)} reversal(s) done were re-applied: the roots are as they were"
        detail.update(failed_at=failed_at, reapplied=not errors)
        completion.update(status=result.status, error=failure)
    detail["digests"] = now
    result.digests, result.error = now, failure
    completion.update(
        post_state_hash=state_hash(now), duration_ms=round((time.perf_counter() - started) * 1000, 3), detail=detail
    )
    (receipt,) = wal.complete_many([completion])
    result.completion_seq = receipt.seq
    if ledger is not None:
        ledger.record(decision, request, policy, wal_id=rid, status=result.status, telemetry=tel)
    if failure is not None:
        err = RollbackError(f"rollback {rid} to {plan.target.label} {result.status}: {failure}")
        err.wal_id, err.result = rid, result
        raise err
    return result


def plan_of(log: str | os.PathLike[str], to: str | int) -> Plan:
    """The plan `apply` would carry out (nothing written)."""
    return build(log, to)


__all__ = ["RollbackResult", "apply", "plan_of"]
