"""Undo a completed file operation from its intent's reversal steps.

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
from .digests import first_difference
from .errors import NotUndoableError, StateChangedError
from .operation import OperationResult, RootLike, run
from .paths import FileRoot


def _undone_by(wal: Wal, wal_id: str) -> str | None:
    """The wal_id of a succeeded rollback linked to `wal_id`, if any (for the error message)."""
    link = f"wal:{wal_id}"
    linked = {r.wal_id for r in wal.records(kind="intent", operation="rollback") if link in r.body["lineage_links"]}
    found = None
    for r in wal.records(kind="completion"):
        if r.wal_id in linked and r.body["status"] == "succeeded":
            found = r.wal_id
    return found


def undo(
    wal: Wal,
    wal_id: str,
    *,
    actor: Mapping[str, Any],
    telemetry: Mapping[str, Any],
    tier: int | None = None,
    governance: Mapping[str, Any] | None = None,
    lineage_links: Sequence[str] = (),
    root: RootLike | None = None,
    blobs: BlobStore | None = None,
) -> OperationResult:
    """Reverse the succeeded operation `wal_id`. `tier` and `governance` default to the
    operation's own; `root` defaults to the data root recorded in its payload."""
    intent = wal.intent(wal_id)
    if intent is None:
        raise NotUndoableError(f"{wal_id}: no such intent in {wal.path}")
    body = intent.body
    payload, reversal = body["payload"], body["reversal"]
    if payload.get("format") != files.PAYLOAD_FORMAT or "expects" not in reversal:
        raise NotUndoableError(f"{wal_id}: not a file operation recorded by kfm_wal.ops; undo it by hand")
    completion = wal.completion(wal_id)
    status = None if completion is None else completion.body["status"]
    if status != "succeeded":
        why = f"its status is {status}" if status else "it has no completion (pending)"
        raise NotUndoableError(f"{wal_id}: only a succeeded operation can be undone; {why}")
    file_root = root if isinstance(root, FileRoot) else FileRoot(root if root is not None else payload["root"])
    store = blobs or BlobStore.for_log(wal.path)
    diff = first_difference(reversal["expects"], file_root.observe(reversal["expects"]))
    if diff is not None:
        by = _undone_by(wal, wal_id)
        why = f"already undone by {by}; " if by else ""
        err = StateChangedError(f"undo {wal_id} refused, {why}a file changed since the operation: {diff[1]}")
        err.path = diff[0]
        raise err
    # Fetching (and verifying) every before-image now means a missing blob refuses the undo
    # before anything is recorded.
    actions: list[files.Action] = [
        files.Write(s["path"], store.get(s["blob"])) if s["type"] == "file.restore" else files.Delete(s["path"])
        for s in reversal["steps"]
    ]
    return run(
        wal, actions, actor=actor, telemetry=telemetry,
        tier=body["tier"] if tier is None else tier,
        governance=body["governance"] if governance is None else governance,
        lineage_links=[f"wal:{wal_id}", *lineage_links], operation="rollback", root=file_root, blobs=store,
    )


__all__ = ["undo"]
