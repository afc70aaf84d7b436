"""Undo a completed operation (files, STAC, graph, custom, mixed) from its intent's reversal steps.

The undo is itself an operation (operation "rollback", lineage_links ["wal:<id>"]) with its own
intent and completion, so it is recorded before it runs and can be undone in turn. It is refused,
with nothing recorded, unless the files are exactly as the operation left them: restoring
before-images over someone else's later change would silently destroy it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..wal import Wal
from . import files
from .blobs import BlobStore
from .contents import Contents, inline_budget
from .digests import first_difference
from .errors import NotUndoableError, PathEscapeError, PlanError, StateChangedError
from .governed import admit
from .kinds import MIXED_FORMAT, Context, Reopened, get_kind
from .lookup import index_of
from .operation import OperationOptions, OperationResult, OperationSpec, Prepared, RootLike, _plan, execute
from .paths import FileRoot
from .requests import request_of, unstored


def _undone_by(wal: Wal, wal_id: str) -> str | None:
    """The wal_id of a succeeded rollback linked to `wal_id`, if any (for the error message)."""
    link = f"wal:{wal_id}"
    linked = {r.wal_id for r in wal.records(kind="intent", operation="rollback") if link in r.body["lineage_links"]}
    found = None
    for r in wal.records(kind="completion"):
        if r.wal_id in linked and r.body["status"] == "succeeded":
            found = r.wal_id
    return found


def _refused(wal: Wal, wal_id: str, what: str, diff: tuple[str, str]) -> StateChangedError:
    """The refusal of an undo whose targets are no longer as the operation left them."""
    by = _undone_by(wal, wal_id)
    why = f"already undone by {by}; " if by else ""
    err = StateChangedError(f"undo {wal_id} refused, {why}{what} since the operation: {diff[1]}")
    err.path = diff[0]
    return err


def undo(
    wal: Wal,
    wal_id: str,
    *,
    actor: Mapping[str, Any],
    telemetry: Mapping[str, Any],
    tier: int | None = None,
    governance: Mapping[str, Any] | None = None,
    lineage_links: Sequence[str] = (),
    approvals: Sequence[Mapping[str, Any]] = (),
    root: RootLike | None = None,
    blobs: BlobStore | None = None,
    governor: Any = None,
) -> OperationResult:
    """Reverse the succeeded operation `wal_id`. `tier` and `governance` default to the
    operation's own (its approvals and policy excepted: they answered another request); `root`
    defaults to the data root recorded in its payload; `approvals` answer the undo's own request
    (`undo_request`) when the policy governs it; `governor` decides it (ops/governed.py)."""
    store = blobs or BlobStore.for_log(wal.path)
    options = _options(actor, telemetry, tier, governance, lineage_links, approvals)
    with store.deferred():  # contents durable before the intent; none kept when refused
        prepared = _planned(wal, wal_id, options, root, store)
        admit(wal, [prepared], governor)
    prepared.receipt = wal.append(prepared.entry)
    return execute(wal, prepared)


def undo_request(
    wal: Wal,
    wal_id: str,
    *,
    actor: Mapping[str, Any],
    tier: int | None = None,
    governance: Mapping[str, Any] | None = None,
    lineage_links: Sequence[str] = (),
    root: RootLike | None = None,
    blobs: BlobStore | None = None,
) -> dict[str, Any]:
    """The approval request the undo of `wal_id` by `actor` will answer (what `kfm-wal approve`
    signs): planned as `undo` plans it, refused as it would be, recording and storing nothing."""
    options = _options(actor, {}, tier, governance, lineage_links, ())
    store = unstored(blobs or BlobStore.for_log(wal.path))
    return request_of(_planned(wal, wal_id, options, root, store).entry)


def _options(
    actor: Mapping[str, Any],
    telemetry: Mapping[str, Any],
    tier: int | None,
    governance: Mapping[str, Any] | None,
    lineage_links: Sequence[str],
    approvals: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """What the undo records besides what comes from the operation (None: the operation's own)."""
    return {
        "actor": actor,
        "telemetry": telemetry,
        "tier": tier,
        "governance": governance,
        "lineage_links": lineage_links,
        "approvals": [dict(a) for a in approvals],
    }


def _planned(wal: Wal, wal_id: str, given: Mapping[str, Any], root: RootLike | None, store: BlobStore) -> Prepared:
    """The undo of `wal_id`, planned and checked against the state it must find, not recorded;
    NotUndoableError or StateChangedError when it cannot be undone."""
    index = index_of(wal)  # the log is scanned once per Wal, not once per undo
    intent = index.intent(wal_id)
    if intent is None:
        raise NotUndoableError(f"{wal_id}: no such intent in {wal.path}")
    body = intent.body
    payload, reversal = body["payload"], body["reversal"]
    if payload.get("format") == MIXED_FORMAT and reversal.get("irreversible") is True:
        raise NotUndoableError(
            f"{wal_id}: recorded as irreversible ({reversal.get('reason')}); it cannot be "
            "undone, only compensated by a new operation"
        )
    if payload.get("format") not in (files.PAYLOAD_FORMAT, MIXED_FORMAT) or "expects" not in reversal:
        raise NotUndoableError(
            f"{wal_id}: not a file operation nor any operation recorded by kfm_wal.ops; undo it by hand"
        )
    completion = index.completion(wal_id)
    status = None if completion is None else completion.body["status"]
    if status != "succeeded":
        why = f"its status is {status}" if status else "it has no completion (pending)"
        raise NotUndoableError(f"{wal_id}: only a succeeded operation can be undone; {why}")
    governance = _own(body["governance"]) if given["governance"] is None else dict(given["governance"])
    if given["approvals"]:
        governance["approvals"] = given["approvals"]
    rollback: OperationOptions = {
        "actor": given["actor"],
        "telemetry": given["telemetry"],
        "tier": body["tier"] if given["tier"] is None else given["tier"],
        "governance": governance,
        "lineage_links": [f"wal:{wal_id}", *given["lineage_links"]],
        "operation": "rollback",
    }
    if payload["format"] == MIXED_FORMAT:
        return _planned_mixed(wal, wal_id, body, store, rollback)
    file_root = root if isinstance(root, FileRoot) else FileRoot(root if root is not None else payload["root"])
    diff = first_difference(reversal["expects"], file_root.observe(reversal["expects"]))
    if diff is not None:
        raise _refused(wal, wal_id, "a file changed", diff)
    # Fetching (and verifying) every before-image now (from the intent's payload.inline, else the
    # blob store) means a missing blob refuses the undo before anything is recorded.
    source = Contents.of_payload(store, payload)
    actions: list[files.Action] = [
        files.Write(s["path"], source.get(s["blob"])) if s["type"] == "file.restore" else files.Delete(s["path"])
        for s in reversal["steps"]
    ]
    ctx = Context(store, file_root, inline_budget=inline_budget(wal))
    return _plan(OperationSpec(actions, **rollback), ctx)


def _own(governance: Mapping[str, Any]) -> dict[str, Any]:
    """The operation's governance for its undo: the approvals it carried signed its own request."""
    own = {k: v for k, v in governance.items() if k != "policy"}
    return {**own, "approvals": []} if "approvals" in own else own


def _location(root: Any) -> Any:
    """What a context root stands for: its directory (FileRoot, GraphStore), or the value given."""
    return getattr(root, "path", root)


def _planned_mixed(
    wal: Wal, wal_id: str, body: Mapping[str, Any], store: BlobStore, rollback: OperationOptions
) -> Prepared:
    """Plan the undo of a mixed-1 operation: its reversal steps become the actions of a rollback
    operation; the rollback's pre state must be exactly the state the operation left."""
    payload, reversal = body["payload"], body["reversal"]
    ctx = Context(store, inline_budget=inline_budget(wal), contents=Contents.of_payload(store, payload))
    actions: list[Any] = []
    reopened: dict[int, Reopened] = {}  # each part once, however many steps it has
    for step in reversal["steps"]:
        p = step["part"]
        if p not in reopened:
            part = payload["parts"][p]
            reopened[p] = get_kind(part["kind"]).reopen(part, ctx)
            # Each kind acts on its own context root (data root, STAC root, graph store), so a
            # file part and a STAC part are undone together; two parts of one root cannot be.
            for key, value in reopened[p].target().items():
                if getattr(ctx, key) is not None and _location(getattr(ctx, key)) != _location(value):
                    raise NotUndoableError(f"{wal_id}: two {key} parts; undo it by hand")
                setattr(ctx, key, value)
        actions.extend(reopened[p].undo_actions([step]))
    try:
        prepared = _plan(OperationSpec(actions, **rollback), ctx)
    except PathEscapeError:
        raise
    except PlanError as e:
        # A reversal step that cannot run (a file it deletes is gone, as after an earlier undo):
        # the state is not the one the operation left, which is this refusal, not a usage error.
        raise _refused(wal, wal_id, "the state changed", ("", str(e))) from None
    expects = reversal["expects"]
    diff = first_difference(
        {k: expects[k] for k in prepared.plan.pre if k in expects},
        {k: v for k, v in prepared.plan.pre.items() if k in expects},
    )
    if diff is not None:
        raise _refused(wal, wal_id, "the state changed", diff)
    return prepared


__all__ = ["undo", "undo_request"]
