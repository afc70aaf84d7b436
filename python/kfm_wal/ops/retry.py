"""Retry: re-run a failed, refused or reversed operation from its logged intent, as a new
operation (operation "retry", lineage_links ["wal:<original>", ...]).

The actions come from the intent's payload and the contents from its payload.inline or the blob
store, never from files that may have changed since; the retry is planned against the state of
now (its own pre_state_hash), so it runs only if nothing changed while it was planned, like any
operation. It keeps the original's tier and governance (its approvals and policy excepted: they
answered the original's request) and records governance.retry_of = the original's operation, so
the policy judges a retried hotfix as a hotfix. Refused, with nothing recorded:
- an operation that succeeded (undo it, or run a new one), or has no completion (recover it);
- one whose targets a later succeeded rollback (an undo) reversed: retrying would cross that
  decision; and one already retried successfully (the error names that operation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..wal import Wal
from . import files, graph
from .blobs import BlobStore
from .contents import Contents
from .custom import Custom
from .errors import RetryError
from .kinds import MIXED_FORMAT
from .lookup import index_of
from .operation import OperationResult, run

RETRY = "retry"
RETRYABLE = ("failed", "refused", "reversed")
REVERSING = ("rollback",)  # what ops.undo records: an operation that reverses an earlier one
_FILE_PARTS = ("file", "stac")  # a STAC part's actions are file actions on its catalog root


def _parts(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if payload.get("format") == files.PAYLOAD_FORMAT:
        return [{"kind": "file", "root": payload["root"]}]
    return list(payload["parts"])


def targets(payload: Mapping[str, Any]) -> set[str]:
    """The state keys an intent's payload acts on ("file:<root>:<path>", "graph:<store>:<triple>",
    "custom:<name>"), to tell whether two operations touch the same thing."""
    parts, out = _parts(payload), set[str]()
    for a in payload.get("actions", []):
        part = parts[a.get("part", 0)]
        if part["kind"] in _FILE_PARTS:
            out.update(f"file:{part['root']}:{p}" for p in files.targets(a))
        elif part["kind"] == "graph":
            out.update(f"graph:{part['store']}:{t}" for t in a["triples"])
        else:
            out.add(f"custom:{a.get('name')}")
    return out


def _actions(wal_id: str, payload: Mapping[str, Any], store: BlobStore) -> tuple[list[Any], dict[str, Any]]:
    """The operation's actions rebuilt from its payload, and the roots they act on."""
    if payload.get("format") not in (files.PAYLOAD_FORMAT, MIXED_FORMAT):
        raise RetryError(f"{wal_id}: not an operation recorded by kfm_wal.ops; nothing to retry from")
    contents = Contents.of_payload(store, payload)  # BlobError names a missing or damaged blob
    parts, roots = _parts(payload), dict[str, Any]()
    actions: list[Any] = []
    for a in payload["actions"]:
        part, kind = parts[a.get("part", 0)], a["type"]
        where = ("root", part.get("root")) if part["kind"] in _FILE_PARTS else ("graph", part.get("store"))
        if part["kind"] not in (*_FILE_PARTS, "graph"):
            where = ("custom", None)
        if roots.setdefault(where[0], where[1]) != where[1]:
            raise RetryError(f"{wal_id}: acts on two {where[0]}s ({roots[where[0]]}, {where[1]}); retry it by hand")
        if kind == "file.write":
            actions.append(files.Write(a["path"], contents.get(a["blob"])))
        elif kind == "file.delete":
            actions.append(files.Delete(a["path"]))
        elif kind == "file.move":
            actions.append(files.Move(a["src"], a["dst"]))
        elif kind in ("graph.insert", "graph.delete"):
            actions.append((graph.Insert if kind == "graph.insert" else graph.Delete)(a["triples"]))
        elif kind.startswith("custom.") and not kind.endswith(".reverse"):
            actions.append(Custom(a["name"], a["params"]))
        else:
            raise RetryError(f"{wal_id}: action type {kind!r} cannot be retried")
    roots.pop("custom", None)
    return actions, roots


def _in_the_way(wal: Wal, wal_id: str, seq: int, touched: set[str]) -> str | None:
    """Why a later operation forbids the retry: a succeeded rollback of any of the same targets,
    or a succeeded retry of this very operation."""
    link = f"wal:{wal_id}"
    later = {
        r.wal_id: r
        for r in wal.records(kind="intent")
        if r.seq > seq and (r.body.get("operation") in REVERSING or r.body.get("operation") == RETRY)
    }
    if not later:
        return None
    succeeded = {r.wal_id for r in wal.records(kind="completion") if r.body.get("status") == "succeeded"}
    for other_id, r in sorted(later.items(), key=lambda kv: kv[1].seq):
        if other_id not in succeeded:
            continue
        if r.body["operation"] == RETRY and link in r.body.get("lineage_links", []):
            return f"it was already retried by {other_id} (seq {r.seq}), which succeeded"
        if r.body["operation"] in REVERSING:
            shared = touched & targets(r.body.get("payload") or {})
            if shared:
                return (
                    f"a later {r.body['operation']} {other_id} (seq {r.seq}) reversed the same targets "
                    f"({sorted(shared)[0]}); retrying would cross it"
                )
    return None


def _planned(
    wal: Wal,
    wal_id: str,
    actor: Mapping[str, Any],
    approvals: Sequence[Mapping[str, Any]],
    lineage_links: Sequence[str],
    store: BlobStore,
) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """The retry of `wal_id`: its actions, what it records, where it acts; RetryError if refused."""
    index = index_of(wal)
    intent = index.intent(wal_id)
    if intent is None:
        raise RetryError(f"{wal_id}: no such intent in {wal.path}")
    completion = index.completion(wal_id)
    status = None if completion is None else completion.body.get("status")
    if status == "succeeded":
        raise RetryError(f"{wal_id}: it succeeded, there is nothing to retry (undo it, or run a new operation)")
    if status not in RETRYABLE:
        raise RetryError(f"{wal_id}: it has no completion (pending); settle it first with recover")
    body = intent.body
    actions, roots = _actions(wal_id, body["payload"], store)
    blocked = _in_the_way(wal, wal_id, intent.seq, targets(body["payload"]))
    if blocked:
        raise RetryError(f"retry of {wal_id} refused, nothing recorded: {blocked}")
    own = {k: v for k, v in body["governance"].items() if k not in ("approvals", "policy")}
    # A retry of a retry stands for the same original kind (a hotfix stays judged as one).
    retry_of = own.get("retry_of", RETRY) if body["operation"] == RETRY else body["operation"]
    reversal = body.get("reversal") or {}
    irreversible = reversal.get("reason") if reversal.get("irreversible") is True else None
    options = {
        "actor": dict(actor),
        "tier": body["tier"],
        "governance": {**own, "retry_of": retry_of, "approvals": [dict(a) for a in approvals]},
        "lineage_links": [f"wal:{wal_id}", *lineage_links],
        "operation": RETRY,
        "irreversible": str(irreversible) if irreversible else None,
    }
    return actions, options, roots


def retry(
    wal: Wal,
    wal_id: str,
    *,
    actor: Mapping[str, Any],
    telemetry: Mapping[str, Any],
    approvals: Sequence[Mapping[str, Any]] = (),
    lineage_links: Sequence[str] = (),
    blobs: BlobStore | None = None,
    governor: Any = None,
) -> OperationResult:
    """Re-run the failed, refused or reversed operation `wal_id` as a new "retry" operation (see
    the module doc). `approvals` answer the retry's own request (`retry_request`) when the policy
    governs it (tier >= 1, or the retry of a hotfix); `governor` decides it (ops/governed.py)."""
    store = blobs or BlobStore.for_log(wal.path)
    actions, options, roots = _planned(wal, wal_id, actor, approvals, lineage_links, store)
    return run(wal, actions, **options, telemetry=telemetry, blobs=store, governor=governor, **roots)


def retry_request(
    wal: Wal,
    wal_id: str,
    *,
    actor: Mapping[str, Any],
    lineage_links: Sequence[str] = (),
    blobs: BlobStore | None = None,
) -> dict[str, Any]:
    """The approval request the retry of `wal_id` by `actor` will answer (what `kfm-wal approve`
    signs), planned as `retry` plans it (ops/requests.py), recording and storing nothing."""
    from .requests import planned_request, unstored

    store = unstored(blobs or BlobStore.for_log(wal.path))
    actions, options, roots = _planned(wal, wal_id, actor, (), lineage_links, store)
    return planned_request(actions, **options, telemetry={}, blobs=store, **roots)


__all__ = ["RETRY", "RETRYABLE", "retry", "retry_request", "targets"]
