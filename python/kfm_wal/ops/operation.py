"""The lifecycle of a file operation on top of `kfm_wal.Wal`:

    1. plan: state of the targets before (pre_state_hash) and after (post_state_expected),
       before-images and new contents kept (small ones inline in the intent's payload, the
       others as blobs, durable: contents.py), intent appended (durable);
    2. validate: the files still match pre_state_hash, else completion "refused", nothing runs;
    3. execute the actions in order; if one fails, the ones before it are reversed from the
       before-images (completion "reversed", or "failed" when the reversal fails too);
    4. completion "succeeded" with the observed post_state_hash, executed_digest and duration_ms.

Nothing touches the data root before its intent is durable, and every intent can be undone.
Before step 1 records anything, an operation the governance policy governs (tier >= 1, or a
hotfix) is decided by it and, refused, recorded only in the governance ledger (governed.py).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack, cast

from ..errors import SchemaError, WalError
from ..wal import Pending, Receipt, Wal
from . import durable
from .blobs import BlobStore
from .contents import inline_budget
from .digests import actions_digest, first_difference, state_hash
from .errors import OperationFailedError, PlanError, StateChangedError, attach
from .governed import admit, settle
from .kinds import Context
from .paths import FileRoot
from .planning import OpPlan, plan_actions
from .result import OperationResult

RootLike = FileRoot | str | os.PathLike[str]


@dataclass(frozen=True)
class OperationSpec:
    """One operation for `run_batch` (the same arguments `run` takes: `OperationOptions` names
    them as keywords, and tests/test_ops_options.py holds the two to the same names)."""

    actions: Sequence[Any]  # files.Write/Delete/Move, stac.*, graph.*, custom.Custom...
    actor: Mapping[str, Any]
    tier: int
    governance: Mapping[str, Any]
    telemetry: Mapping[str, Any]
    lineage_links: Sequence[str] = ()
    operation: str = "etl_step"
    irreversible: str | None = None  # the reason, for an operation declared irreversible


class _Required(TypedDict):
    actor: Mapping[str, Any]
    tier: int
    governance: Mapping[str, Any]
    telemetry: Mapping[str, Any]


class OperationOptions(_Required, total=False):
    """What an operation records, as keywords of `run` and `prepare` (OperationSpec's fields after
    `actions`; the defaults are OperationSpec's). `total=False` rather than NotRequired[...]: the
    required keys stay right at run time under `from __future__ import annotations`."""

    lineage_links: Sequence[str]
    operation: str
    irreversible: str | None


class Roots(TypedDict, total=False):
    """Where an operation acts: `root` the file data root (default data/processed), `blobs` the
    blob store (default under the log), `stac_root` the STAC catalog root (default data/stac),
    `graph` the RDF store (a GraphStore or a path; default data/graph)."""

    root: RootLike | None
    blobs: BlobStore | None
    stac_root: RootLike | None
    graph: Any


class Governed(TypedDict, total=False):
    """`governor`: the governance an operation the policy governs (tier >= 1, a hotfix) is decided
    under (a kfm_wal.governance.Governor; default: Governor.for_log(the log), ops/governed.py)."""

    governor: Any


class BatchOptions(Roots, Governed):
    """The keywords of `run_batch`: where the operations act, and who decides them."""


class RunOptions(OperationOptions, Roots, Governed):
    """The keywords of `run` and `prepare`: what is recorded, where it acts, who decides it."""


@dataclass
class Prepared:
    """An operation whose intent is (or is about to be) in the log, not yet executed."""

    entry: dict[str, Any]
    plan: OpPlan
    blobs: BlobStore
    receipt: Receipt | None = None
    decision: Any = None  # the governance decision that allowed it (None: not governed)
    governor: Any = None  # who decided it, and records its outcome in the governance ledger

    @property
    def wal_id(self) -> str:
        return str(self.entry["wal_id"])


@dataclass
class _Outcome:
    completion: dict[str, Any]
    error: WalError | None = None
    cause: BaseException | None = None


def _context(wal: Wal, roots: Roots) -> Context:
    unknown = sorted(set(roots) - Roots.__optional_keys__)
    if unknown:  # what a keyword-only signature would refuse
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
    blobs = roots.get("blobs") or BlobStore.for_log(wal.path)
    return Context(
        blobs, roots.get("root"), roots.get("stac_root"), roots.get("graph"), inline_budget=inline_budget(wal)
    )


def _split(actions: Sequence[Any], options: RunOptions) -> tuple[OperationSpec, Roots, Any]:
    """The operation `run`/`prepare` are asked for, where it acts, and its governor."""
    recorded = dict(options)
    governor = recorded.pop("governor", None)
    roots = cast(Roots, {k: recorded.pop(k) for k in Roots.__optional_keys__ if k in recorded})
    return OperationSpec(actions, **cast(OperationOptions, recorded)), roots, governor


def _plan(spec: OperationSpec, ctx: Context) -> Prepared:
    plan = plan_actions(spec.actions, ctx, spec.irreversible)
    entry = {
        "wal_id": str(uuid.uuid4()),
        "operation": spec.operation,
        "actor": dict(spec.actor),
        "pre_state_hash": state_hash(plan.pre),
        "post_state_expected": state_hash(plan.post),
        "payload": plan.payload,
        "reversal": plan.reversal,
        "tier": spec.tier,
        "governance": dict(spec.governance),
        "lineage_links": list(spec.lineage_links),
        "telemetry": dict(spec.telemetry),
    }
    return Prepared(entry, plan, ctx.blobs)


def _observed(plan: OpPlan) -> str | None:
    try:
        return state_hash(plan.observe())
    except Exception:
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
        now = plan.observe()
    except WalError as e:  # a target became a directory, or a symlink now leads out of the root
        return _refuse(p, started, str(e), None)
    diff = first_difference(plan.pre, now)
    if diff is not None:
        return _refuse(p, started, f"changed since planning: {diff[1]}", diff[0])
    executed: list[dict[str, Any]] = []
    for k in range(len(plan.order)):
        try:
            executed.append(plan.execute(k))
        except Exception as e:  # any failure: undo what ran, record it, re-raise to the caller
            return _reverse(p, k, e, started)
    digest = actions_digest(executed)
    try:
        observed = plan.observe()
    except WalError as e:  # a target turned into a directory under us: report, do not guess
        err = OperationFailedError(f"operation {p.wal_id}: cannot read the files it wrote: {e}")
        return _Outcome(_completion(p, "failed", started, executed_digest=digest, error=str(err)), err)
    diff = first_difference(plan.post, observed)
    if diff is not None:
        # Someone else changed a target while we ran: reversing could destroy their change, so the
        # files are left as found and the operation is reported failed.
        what = "files differ" if plan.file_plan is not None else "the state differs"
        err = OperationFailedError(f"operation {p.wal_id}: {what} from the planned post state: {diff[1]}")
        post = state_hash(observed)
        failed = _completion(p, "failed", started, post_state_hash=post, executed_digest=digest, error=str(err))
        return _Outcome(failed, err)
    done = _completion(p, "succeeded", started, post_state_hash=state_hash(observed), executed_digest=digest)
    return _Outcome(done)


def _reverse(p: Prepared, k: int, cause: Exception, started: float) -> _Outcome:
    # Action k itself is reversed too: a failure after its rename may have left it done. Steps are
    # idempotent, so restoring a path that was not changed costs nothing.
    plan = p.plan
    what = f"action {k} ({plan.action(k)['type']}) failed: {type(cause).__name__}: {cause}"
    fp = plan.file_plan
    detail: dict[str, Any] = {"failed_action": k}
    if fp is not None:
        detail["reversed_paths"] = [s["path"] for s in fp.steps_for(k + 1)]
    try:
        reversed_keys = plan.reverse(k + 1)
        if fp is None:
            detail["reversed_keys"] = reversed_keys
        status, message = "reversed", f"{what}; actions 0..{k} reversed"
    except Exception as e:
        status, message = "failed", f"{what}; reversal failed too: {type(e).__name__}: {e}"
    observed = _observed(plan)
    if status == "reversed" and observed != p.entry["pre_state_hash"]:
        status, message = "failed", f"{what}; after reversal the state does not match pre_state_hash"
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


def prepare(wal: Wal, actions: Sequence[Any], **options: Unpack[RunOptions]) -> Prepared:
    """Steps 1 of the lifecycle: plan, store blobs, append the intent (durable on return).
    The keywords (RunOptions) say what is recorded (actor, tier, governance, telemetry,
    lineage_links, operation, irreversible), where the operation acts (Roots) and who decides it
    when the policy governs it (governor; GovernanceError, nothing recorded, when refused).
    `irreversible` (a reason) declares the operation irreversible: required when an action has
    no reversal, and then recorded as reversal {"irreversible": true, "reason": ...}."""
    spec, roots, governor = _split(actions, options)
    ctx = _context(wal, roots)
    with ctx.blobs.deferred():  # the blobs are stored together, durable when the block ends
        prepared = _plan(spec, ctx)
        # Decided before anything is recorded: a refusal leaves no blob and no intent.
        admit(wal, [prepared], governor)
    prepared.receipt = wal.append(prepared.entry)
    return prepared


def record(wal: Wal, prepared: Prepared, governor: Any = None) -> Prepared:
    """Step 1 for an operation planned apart (undo): the governance decision, then its intent."""
    admit(wal, [prepared], governor)
    prepared.receipt = wal.append(prepared.entry)
    return prepared


def execute(wal: Wal, prepared: Prepared) -> OperationResult:
    """Steps 2-4: validate, execute (reversing on failure), record the completion. Raises
    StateChangedError (refused) or OperationFailedError (reversed/failed) after recording."""
    if prepared.receipt is None:
        raise PlanError("execute() needs an operation returned by prepare(): its intent is not in the log")
    with durable.deferred_dir_sync():  # each directory fsynced once, before the completion
        outcome = _execute(prepared)
    (receipt,) = wal.complete_many([outcome.completion])
    result = _result(prepared, outcome, receipt)
    settle([prepared], [result])
    if outcome.error is not None:
        raise attach(outcome.error, result) from outcome.cause
    return result


def run(wal: Wal, actions: Sequence[Any], **options: Unpack[RunOptions]) -> OperationResult:
    """Record, validate, execute and complete one operation (the keywords: see `prepare`)."""
    return execute(wal, prepare(wal, actions, **options))


# Above this many operations, intents go in chunks of it, all handed over at once (`Wal.submit`):
# chunk k's actions run while chunks k+1.. become durable, never before their own chunk is.
PIPELINE_CHUNK = 1_000


def _submit_intents(wal: Wal, prepared: list[Prepared], step: int) -> list[Pending]:
    """Record the intents: at once (returns []) or, above `step`, pipelined (the chunks' handles).
    Schema errors come before anything runs; chunks already handed over are completed as refused."""
    if len(prepared) <= step:  # one group commit
        for p, receipt in zip(prepared, wal.append_many([p.entry for p in prepared]), strict=True):
            p.receipt = receipt
        return []
    chunks: list[Pending] = []
    try:
        for lo in range(0, len(prepared), step):
            chunks.append(wal.submit([p.entry for p in prepared[lo : lo + step]]))
    except SchemaError as e:
        err = SchemaError(f"entry {(e.index or 0) + lo}: {str(e).split(': ', 1)[-1]}")
        err.index, err.field = (e.index or 0) + lo, e.field
        why = f"not attempted: entry {err.index} of the batch was refused"
        handed = [p for k, c in enumerate(chunks) if c.result() for p in prepared[k * step : (k + 1) * step]]
        wal.complete_many([{"wal_id": p.wal_id, "status": "refused", "error": why} for p in handed])
        raise err from None
    return chunks


def run_batch(
    wal: Wal,
    operations: Sequence[OperationSpec],
    **options: Unpack[BatchOptions],
) -> list[OperationResult]:
    """The ETL fast path: all intents in ONE group commit (above PIPELINE_CHUNK operations:
    pipelined chunks, see there), then each operation validated and executed in order, then all
    completions in ONE group commit. Operations must touch disjoint
    paths (each is planned against the files as they are now). At the first operation that is
    refused or fails, the ones after it are not attempted (completion "refused"); the error raised
    carries `.results` for all of them.

    Durability, batched without weakening it: the contents of all operations (before-images, new
    contents) are inline in their intents when small, and otherwise blobs written to temp files,
    each fsynced, renamed, and each blob directory fsynced once, all before the intents are
    appended (one group commit makes the intents, inline contents included, durable); each
    target file is written to a temp file, fsynced and renamed over the target as its operation
    runs, and each directory the batch changed is fsynced once after the last operation, before
    the completions are appended (so a recorded "succeeded" is durable). A crash in between
    leaves pending intents for `recover`."""
    if not operations:
        return []
    given: dict[str, Any] = dict(options)
    governor = given.pop("governor", None)
    ctx = _context(wal, cast(Roots, given))
    with ctx.blobs.deferred():  # stored (durably) when the block ends: before the intents
        prepared = [_plan(spec, ctx) for spec in operations]
        owner: dict[str, int] = {}
        for i, p in enumerate(prepared):
            for path in p.plan.pre:
                if owner.setdefault(path, i) != i:
                    raise PlanError(
                        f"operations {owner[path]} and {i} of the batch both touch {path!r}; use separate runs"
                    )
        admit(wal, prepared, governor)  # one ledger group commit for any refusals
    step, chunks = PIPELINE_CHUNK, _submit_intents(wal, prepared, PIPELINE_CHUNK)
    outcomes: list[_Outcome] = []
    failed: int | None = None
    with durable.deferred_dir_sync():  # each directory fsynced once, before the completions
        for i, p in enumerate(prepared):
            if chunks and i % step == 0:  # this chunk's intents durable: its actions may run
                for q, receipt in zip(prepared[i : i + step], chunks[i // step].result(), strict=True):
                    q.receipt = receipt
            if failed is None:
                outcomes.append(_execute(p))
                failed = i if outcomes[-1].error is not None else None
            else:
                why = f"not attempted: operation {prepared[failed].wal_id} of the batch did not succeed"
                outcomes.append(_Outcome(_completion(p, "refused", time.perf_counter(), error=why)))
    receipts = wal.complete_many([o.completion for o in outcomes])
    results = [_result(p, o, r) for p, o, r in zip(prepared, outcomes, receipts, strict=True)]
    settle(prepared, results)  # the governed ones' outcomes: one ledger group commit
    if failed is not None:
        bad = outcomes[failed]
        assert bad.error is not None
        raise attach(bad.error, results[failed], results) from bad.cause
    return results


__all__ = [
    "BatchOptions",
    "Governed",
    "OperationOptions",
    "OperationResult",
    "OperationSpec",
    "Prepared",
    "Roots",
    "RunOptions",
    "execute",
    "prepare",
    "record",
    "run",
    "run_batch",
]
