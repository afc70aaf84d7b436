"""The lifecycle of a file operation on top of `kfm_wal.Wal`:

    1. plan: state of the targets before (pre_state_hash) and after (post_state_expected), blobs
       stored (before-images and new contents, durable), intent appended (durable);
    2. validate: the files still match pre_state_hash, else completion "refused", nothing runs;
    3. execute the actions in order; if one fails, the ones before it are reversed from the
       before-images (completion "reversed", or "failed" when the reversal fails too);
    4. completion "succeeded" with the observed post_state_hash, executed_digest and duration_ms.

Nothing touches the data root before its intent is durable, and every intent can be undone.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import WalError
from ..wal import Receipt, Wal
from . import files
from .blobs import BlobStore
from .digests import actions_digest, first_difference, state_hash
from .errors import OperationFailedError, PlanError, StateChangedError, attach
from .paths import DEFAULT_ROOT, FileRoot

RootLike = FileRoot | str | os.PathLike[str]


@dataclass(frozen=True)
class OperationSpec:
    """One operation for `run_batch` (the same arguments `run` takes)."""

    actions: Sequence[files.Action]
    actor: Mapping[str, Any]
    tier: int
    governance: Mapping[str, Any]
    telemetry: Mapping[str, Any]
    lineage_links: Sequence[str] = ()
    operation: str = "etl_step"


@dataclass(frozen=True)
class OperationResult:
    wal_id: str
    operation: str
    status: str  # the completion's: succeeded, refused, reversed or failed
    pre_state_hash: str
    post_state_expected: str
    post_state_hash: str | None
    executed_digest: str | None
    duration_ms: float
    intent: Receipt
    completion: Receipt
    error: str | None = None


@dataclass
class Prepared:
    """An operation whose intent is (or is about to be) in the log, not yet executed."""

    entry: dict[str, Any]
    plan: files.FilePlan
    blobs: BlobStore
    receipt: Receipt | None = None

    @property
    def wal_id(self) -> str:
        return str(self.entry["wal_id"])


@dataclass
class _Outcome:
    completion: dict[str, Any]
    error: WalError | None = None
    cause: BaseException | None = None


def _stores(wal: Wal, root: RootLike, blobs: BlobStore | None) -> tuple[FileRoot, BlobStore]:
    return (root if isinstance(root, FileRoot) else FileRoot(root)), (blobs or BlobStore.for_log(wal.path))


def _plan(spec: OperationSpec, root: FileRoot, blobs: BlobStore) -> Prepared:
    plan = files.plan(root, blobs, spec.actions)
    entry = {
        "wal_id": str(uuid.uuid4()),
        "operation": spec.operation,
        "actor": dict(spec.actor),
        "pre_state_hash": state_hash(plan.pre),
        "post_state_expected": state_hash(plan.post),
        "payload": {"format": files.PAYLOAD_FORMAT, "root": str(root.path), "actions": plan.actions},
        # `expects` is the state the steps undo (the post state per path): undo checks it first.
        "reversal": {"steps": plan.steps, "expects": plan.post},
        "tier": spec.tier,
        "governance": dict(spec.governance),
        "lineage_links": list(spec.lineage_links),
        "telemetry": dict(spec.telemetry),
    }
    return Prepared(entry, plan, blobs)


def _observed(plan: files.FilePlan) -> str | None:
    try:
        return state_hash(plan.root.observe(plan.pre))
    except WalError:
        return None


def _completion(p: Prepared, status: str, started: float, **members: Any) -> dict[str, Any]:
    out = {"wal_id": p.wal_id, "status": status, **{k: v for k, v in members.items() if v is not None}}
    out["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return out


def _refuse(p: Prepared, started: float, why: str, path: str | None) -> _Outcome:
    err = StateChangedError(f"operation {p.wal_id} refused, nothing executed: {why}")
    err.path = path
    return _Outcome(_completion(p, "refused", started, post_state_hash=_observed(p.plan), error=str(err)), err)


def _execute(p: Prepared) -> _Outcome:
    """Validate and execute a prepared operation; returns its completion (not yet recorded)."""
    started = time.perf_counter()
    plan = p.plan
    try:
        now = plan.root.observe(plan.pre)
    except WalError as e:  # a target became a directory, or a symlink now leads out of the root
        return _refuse(p, started, str(e), None)
    diff = first_difference(plan.pre, now)
    if diff is not None:
        return _refuse(p, started, f"changed since planning: {diff[1]}", diff[0])
    executed: list[dict[str, Any]] = []
    for k, action in enumerate(plan.actions):
        try:
            executed.append(files.execute(plan.root, action, plan.data))
        except Exception as e:  # any failure: undo what ran, record it, re-raise to the caller
            return _reverse(p, k, e, started)
    digest = actions_digest(executed)
    try:
        observed = plan.root.observe(plan.pre)
    except WalError as e:  # a target turned into a directory under us: report, do not guess
        err = OperationFailedError(f"operation {p.wal_id}: cannot read the files it wrote: {e}")
        return _Outcome(_completion(p, "failed", started, executed_digest=digest, error=str(err)), err)
    diff = first_difference(plan.post, observed)
    if diff is not None:
        # Someone else changed a target while we ran: reversing could destroy their change, so the
        # files are left as found and the operation is reported failed.
        err = OperationFailedError(f"operation {p.wal_id}: files differ from the planned post state: {diff[1]}")
        post = state_hash(observed)
        failed = _completion(p, "failed", started, post_state_hash=post, executed_digest=digest, error=str(err))
        return _Outcome(failed, err)
    done = _completion(p, "succeeded", started, post_state_hash=state_hash(observed), executed_digest=digest)
    return _Outcome(done)


def _reverse(p: Prepared, k: int, cause: Exception, started: float) -> _Outcome:
    # Action k itself is reversed too: a failure after its rename may have left it done. Steps are
    # idempotent, so restoring a path that was not changed costs nothing.
    plan = p.plan
    steps = plan.steps_for(k + 1)
    what = f"action {k} ({plan.actions[k]['type']}) failed: {type(cause).__name__}: {cause}"
    detail = {"failed_action": k, "reversed_paths": [s["path"] for s in steps]}
    try:
        files.apply_steps(plan.root, p.blobs, steps)
        status, message = "reversed", f"{what}; actions 0..{k} reversed"
    except Exception as e:
        status, message = "failed", f"{what}; reversal failed too: {type(e).__name__}: {e}"
    observed = _observed(plan)
    if status == "reversed" and observed != p.entry["pre_state_hash"]:
        status, message = "failed", f"{what}; after reversal the files do not match pre_state_hash"
    err = OperationFailedError(f"operation {p.wal_id}: {message}")
    completion = _completion(p, status, started, post_state_hash=observed, error=message, detail=detail)
    return _Outcome(completion, err, cause)


def _result(p: Prepared, outcome: _Outcome, completion: Receipt) -> OperationResult:
    c = outcome.completion
    assert p.receipt is not None
    return OperationResult(
        wal_id=p.wal_id,
        operation=p.entry["operation"],
        status=c["status"],
        pre_state_hash=p.entry["pre_state_hash"],
        post_state_expected=p.entry["post_state_expected"],
        post_state_hash=c.get("post_state_hash"),
        executed_digest=c.get("executed_digest"),
        duration_ms=c["duration_ms"],
        intent=p.receipt,
        completion=completion,
        error=c.get("error"),
    )


def prepare(
    wal: Wal,
    actions: Sequence[files.Action],
    *,
    actor: Mapping[str, Any],
    tier: int,
    governance: Mapping[str, Any],
    telemetry: Mapping[str, Any],
    lineage_links: Sequence[str] = (),
    operation: str = "etl_step",
    root: RootLike = DEFAULT_ROOT,
    blobs: BlobStore | None = None,
) -> Prepared:
    """Steps 1 of the lifecycle: plan, store blobs, append the intent (durable on return)."""
    file_root, store = _stores(wal, root, blobs)
    spec = OperationSpec(actions, actor, tier, governance, telemetry, lineage_links, operation)
    prepared = _plan(spec, file_root, store)
    prepared.receipt = wal.append(prepared.entry)
    return prepared


def execute(wal: Wal, prepared: Prepared) -> OperationResult:
    """Steps 2-4: validate, execute (reversing on failure), record the completion. Raises
    StateChangedError (refused) or OperationFailedError (reversed/failed) after recording."""
    if prepared.receipt is None:
        raise PlanError("execute() needs an operation returned by prepare(): its intent is not in the log")
    outcome = _execute(prepared)
    (receipt,) = wal.complete_many([outcome.completion])
    result = _result(prepared, outcome, receipt)
    if outcome.error is not None:
        raise attach(outcome.error, result) from outcome.cause
    return result


def run(
    wal: Wal,
    actions: Sequence[files.Action],
    *,
    actor: Mapping[str, Any],
    tier: int,
    governance: Mapping[str, Any],
    telemetry: Mapping[str, Any],
    lineage_links: Sequence[str] = (),
    operation: str = "etl_step",
    root: RootLike = DEFAULT_ROOT,
    blobs: BlobStore | None = None,
) -> OperationResult:
    """Record, validate, execute and complete one file operation."""
    prepared = prepare(
        wal, actions, actor=actor, tier=tier, governance=governance, telemetry=telemetry,
        lineage_links=lineage_links, operation=operation, root=root, blobs=blobs,
    )
    return execute(wal, prepared)


def run_batch(
    wal: Wal, operations: Sequence[OperationSpec], *, root: RootLike = DEFAULT_ROOT, blobs: BlobStore | None = None
) -> list[OperationResult]:
    """The ETL fast path: all intents in ONE group commit, then each operation validated and
    executed in order, then all completions in ONE group commit. Operations must touch disjoint
    paths (each is planned against the files as they are now). At the first operation that is
    refused or fails, the ones after it are not attempted (completion "refused"); the error raised
    carries `.results` for all of them."""
    if not operations:
        return []
    file_root, store = _stores(wal, root, blobs)
    prepared = [_plan(spec, file_root, store) for spec in operations]
    owner: dict[str, int] = {}
    for i, p in enumerate(prepared):
        for path in p.plan.pre:
            if owner.setdefault(path, i) != i:
                raise PlanError(f"operations {owner[path]} and {i} of the batch both touch {path!r}; use separate runs")
    for p, receipt in zip(prepared, wal.append_many([p.entry for p in prepared]), strict=True):
        p.receipt = receipt
    outcomes: list[_Outcome] = []
    failed: int | None = None
    for i, p in enumerate(prepared):
        if failed is None:
            outcomes.append(_execute(p))
            failed = i if outcomes[-1].error is not None else None
        else:
            why = f"not attempted: operation {prepared[failed].wal_id} of the batch did not succeed"
            outcomes.append(_Outcome(_completion(p, "refused", time.perf_counter(), error=why)))
    receipts = wal.complete_many([o.completion for o in outcomes])
    results = [_result(p, o, r) for p, o, r in zip(prepared, outcomes, receipts, strict=True)]
    if failed is not None:
        bad = outcomes[failed]
        assert bad.error is not None
        raise attach(bad.error, results[failed], results) from bad.cause
    return results


__all__ = ["OperationResult", "OperationSpec", "Prepared", "execute", "prepare", "run", "run_batch"]
