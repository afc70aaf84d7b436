"""Approval requests of operations not yet recorded: the request the governor will judge an
operation by (governance.approvals: `request_from_intent` of its intent), for any kind of action
(files, STAC, graph, custom, mixed).

The operation is planned exactly as `run` plans it (operation._plan, against the state of now),
so the request's actions_digest is the one `run` will compute, as long as the targets do not
change in between (then the approvals no longer match and the run is refused: they signed other
changes). Nothing is recorded and no content is stored: planning keeps before-images and new
contents in a blob store that drops them. Only the roots are created when missing, as a run would.

    request = planned_request([stac.CreateItem(item)], actor=..., tier=1,
                              governance={"care": "public"}, telemetry={}, stac_root="data/stac")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

from .blobs import BlobStore
from .kinds import Context
from .operation import RunOptions, _plan, _split


class _Unstored(BlobStore):
    """Reads like the store at its root; stores nothing (a request is planned, never recorded)."""

    def put_many(self, blobs: Mapping[str, bytes]) -> None:
        return None


def unstored(store: BlobStore | None = None) -> BlobStore:
    """A store reading `store`'s blobs (those an undo restores) that keeps no new one."""
    return _Unstored(store.root if store is not None else Path("blobs"))


def request_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The request a planned intent entry answers to (the six signed members), plus its payload
    actions for review ("actions", which `kfm-wal approve` checks against actions_digest)."""
    from ..governance.approvals import canonical_request, request_from_intent

    request = {**request_from_intent(entry), "actions": entry["payload"]["actions"]}
    canonical_request(request)  # a malformed member is refused now, not when it is signed
    return request


def planned_request(actions: Sequence[Any], **options: Unpack[RunOptions]) -> dict[str, Any]:
    """The approval request of `run(wal, actions, **options)` (the same keywords; `governor` and
    `telemetry` are not part of it), planned now, storing and recording nothing."""
    spec, roots, _ = _split(actions, options)
    # The inline budget only decides where contents are kept (intent or blob), not what is signed.
    ctx = Context(unstored(roots.get("blobs")), roots.get("root"), roots.get("stac_root"), roots.get("graph"))
    return request_of(_plan(spec, ctx).entry)


__all__ = ["planned_request", "request_of", "unstored"]
