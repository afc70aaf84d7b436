"""STAC Items and Collections as recorded actions, stored as a static catalog of JSON files.

Layout under the STAC root (default data/stac/):
    catalog.json                                   root catalog, one `child` link per collection
    collections/<collection id>/collection.json    one `item` link per item
    collections/<collection id>/items/<item id>.json

A STAC action is planned into file writes/deletes on that root (the item or collection file and
the parent's links), so it reuses the file machinery: before-images in the blob store, atomic
durable writes, state hash of the files, reversal, undo, recovery and audit. The operation is
recorded in the files-1 format with `payload.stac` listing the STAC objects touched:
    {"type": "stac.item.create" | "stac.item.update" | "stac.item.delete" |
             "stac.collection.create" | ..., "id": ..., "collection": ..., "paths": [...]}

Validation is OFFLINE: every object written is round-tripped through pystac (`from_dict`) and
validated with pystac's JSON-schema validator restricted to the STAC core schemas pystac ships
(`pystac.validation.local_validator.get_local_schema_cache`, STAC 1.1.0 item/catalog/collection
and GeoJSON); a schema that is not shipped (an extension, another STAC version) is refused with a
PlanError naming it instead of being fetched. Extra schemas can be given with
`OfflineValidator(extra_schemas={uri: schema})`. An invalid object is refused before anything is
stored or logged."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pystac
from pystac.validation.stac_validator import JsonSchemaSTACValidator

from . import files
from .errors import PlanError
from .filekind import (
    FilePart,
    ReopenedFiles,
    context_root,
    file_prefix,
    file_root,
    planned_contents,
    recorded_contents,
    recorded_prefix,
    resume_files,
)
from .kinds import ActionKind, Context, Part, Reopened, register_kind

DEFAULT_STAC_ROOT = "data/stac"
CATALOG_ID = "kfm"


class OfflineValidator(JsonSchemaSTACValidator):
    """pystac's JSON-schema validator that never goes to the network."""

    def __init__(self, extra_schemas: Mapping[str, dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.schema_cache.update(extra_schemas or {})

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        if schema_uri not in self.schema_cache:
            raise PlanError(
                f"STAC schema {schema_uri} is not available offline (only the STAC core schemas "
                "shipped with pystac are); add it with OfflineValidator(extra_schemas=...)"
            )
        return dict(self.schema_cache[schema_uri])

    @property
    def registry(self) -> Any:
        from referencing import Registry, Resource

        def retrieve(uri: str) -> Any:
            return Resource.from_contents(self._get_schema(uri))

        return Registry(retrieve=retrieve).with_resources(  # type: ignore[call-arg]
            [(k, Resource.from_contents(v)) for k, v in self.schema_cache.items()]
        )


_VALIDATOR: OfflineValidator | None = None


def validate(obj: Mapping[str, Any], validator: OfflineValidator | None = None) -> None:
    """Round-trip `obj` through pystac and validate it against the shipped schemas (PlanError)."""
    global _VALIDATOR
    if validator is None:
        _VALIDATOR = _VALIDATOR or OfflineValidator()
        validator = _VALIDATOR
    kind = obj.get("type")
    what = f"STAC {kind} {obj.get('id')!r}"
    try:
        loaded: pystac.STACObject
        if kind == "Feature":
            loaded = pystac.Item.from_dict(dict(obj), preserve_dict=True)
        elif kind == "Collection":
            loaded = pystac.Collection.from_dict(dict(obj), preserve_dict=True)
        else:
            raise PlanError(f"{what}: type must be Feature (item) or Collection")
        pystac.validation.validate_dict(dict(obj), validator=validator)
    except PlanError:
        raise
    except Exception as e:  # pystac.STACValidationError, KeyError/ValueError from from_dict...
        raise PlanError(f"{what} is invalid: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
    if loaded.id != obj.get("id"):
        raise PlanError(f"{what}: id does not round-trip through pystac")


# -- actions --------------------------------------------------------------------------------------


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, pystac.Item | pystac.Collection):
        return obj.to_dict(include_self_link=False, transform_hrefs=False)
    if isinstance(obj, Mapping):
        copy: dict[str, Any] = json.loads(json.dumps(obj))  # a deep copy, JSON-only
        return copy
    raise PlanError(f"a STAC object must be a pystac Item/Collection or a dict, got {type(obj).__name__}")


@dataclass(frozen=True)
class CreateItem:
    item: Any  # pystac.Item or dict; its `collection` names an existing (or created) collection


@dataclass(frozen=True)
class UpdateItem:
    item: Any


@dataclass(frozen=True)
class DeleteItem:
    collection: str
    id: str


@dataclass(frozen=True)
class CreateCollection:
    collection: Any  # pystac.Collection or dict


@dataclass(frozen=True)
class UpdateCollection:
    collection: Any


@dataclass(frozen=True)
class DeleteCollection:
    id: str  # refused while the collection has items


@dataclass(frozen=True)
class RestoreFiles:
    """File writes and deletes on the STAC root as a reversal records them: the undo of the STAC
    part of a mixed operation (built by `undo`), planned on the STAC root (so that an operation
    that also wrote the data root is undone in one rollback, each part on its own root)."""

    actions: Sequence[files.Write | files.Delete]


StacAction = (
    CreateItem | UpdateItem | DeleteItem | CreateCollection | UpdateCollection | DeleteCollection | RestoreFiles
)

_STRUCTURAL = {"self", "root", "parent", "collection", "item", "child"}


def _safe_id(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not value or "/" in value or value in (".", "..") or "\x00" in value:
        raise PlanError(f"STAC {kind} id {value!r}: must be a non-empty string without '/'")
    return value


def catalog_path() -> str:
    return "catalog.json"


def collection_path(cid: str) -> str:
    return f"collections/{_safe_id('collection', cid)}/collection.json"


def item_path(cid: str, iid: str) -> str:
    return f"collections/{_safe_id('collection', cid)}/items/{_safe_id('item', iid)}.json"


def dumps(obj: Mapping[str, Any]) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


@dataclass
class _Catalog:
    """The catalog files as the actions leave them (planning only; reads through to the root)."""

    root: Any
    validator: OfflineValidator | None
    overlay: dict[str, bytes | None] = field(default_factory=dict)
    writes: list[files.Action] = field(default_factory=list)

    def read(self, rel: str) -> dict[str, Any] | None:
        data = self.overlay[rel] if rel in self.overlay else self.root.read(rel)
        if data is None:
            return None
        try:
            value = json.loads(data)
        except ValueError as e:
            raise PlanError(f"{rel}: not JSON ({e}); the STAC catalog is damaged") from e
        if not isinstance(value, dict):
            raise PlanError(f"{rel}: not a JSON object; the STAC catalog is damaged")
        return value

    def write(self, rel: str, obj: dict[str, Any], check: bool = True) -> None:
        if check:
            validate(obj, self.validator)
        data = dumps(obj)
        self.overlay[rel] = data
        self.writes.append(files.Write(rel, data))

    def delete(self, rel: str) -> None:
        self.overlay[rel] = None
        self.writes.append(files.Delete(rel))

    def relink(self, rel: str, obj: dict[str, Any], rel_type: str, targets: Sequence[str]) -> dict[str, Any]:
        keep = [link for link in obj.get("links", []) if link.get("rel") != rel_type]
        obj["links"] = keep + [{"rel": rel_type, "href": t, "type": "application/json"} for t in sorted(targets)]
        return obj

    def catalog(self) -> dict[str, Any]:
        found = self.read(catalog_path())
        if found is not None:
            return found
        return pystac.Catalog(CATALOG_ID, "STAC catalog recorded through kfm-wal").to_dict(
            include_self_link=False, transform_hrefs=False
        )

    def children(self, obj: Mapping[str, Any], rel_type: str) -> list[str]:
        return [link["href"] for link in obj.get("links", []) if link.get("rel") == rel_type]

    def set_child(self, cid: str, present: bool) -> None:
        cat = self.catalog()
        href = f"./collections/{cid}/collection.json"
        kids = [h for h in self.children(cat, "child") if h != href] + ([href] if present else [])
        self.write(catalog_path(), self.relink(catalog_path(), cat, "child", kids), check=False)

    def set_item(self, cid: str, iid: str, present: bool) -> None:
        col = self.read(collection_path(cid))
        if col is None:
            raise PlanError(f"STAC collection {cid!r} does not exist")
        href = f"./items/{iid}.json"
        kids = [h for h in self.children(col, "item") if h != href] + ([href] if present else [])
        self.write(collection_path(cid), self.relink(collection_path(cid), col, "item", kids))


def _links(obj: dict[str, Any], links: list[dict[str, Any]]) -> dict[str, Any]:
    obj["links"] = [link for link in obj.get("links", []) if link.get("rel") not in _STRUCTURAL] + links
    return obj


def _item_links(cid: str) -> list[dict[str, Any]]:
    return [
        {"rel": "root", "href": "../../../catalog.json", "type": "application/json"},
        {"rel": "parent", "href": "../collection.json", "type": "application/json"},
        {"rel": "collection", "href": "../collection.json", "type": "application/json"},
    ]


def _collection_links() -> list[dict[str, Any]]:
    return [
        {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
        {"rel": "parent", "href": "../../catalog.json", "type": "application/json"},
    ]


def _compile(cat: _Catalog, action: StacAction) -> dict[str, Any]:
    """Add the file writes of `action` to `cat`; returns its payload.stac entry."""
    start = len(cat.writes)
    if isinstance(action, CreateItem | UpdateItem):
        item = _as_dict(action.item)
        cid = item.get("collection")
        if not isinstance(cid, str):
            raise PlanError(f"STAC item {item.get('id')!r}: its `collection` must name the collection it goes in")
        iid = _safe_id("item", item.get("id"))
        exists = cat.read(item_path(cid, iid)) is not None
        verb = "create" if isinstance(action, CreateItem) else "update"
        if verb == "create" and exists:
            raise PlanError(f"STAC item {cid}/{iid} already exists; use UpdateItem")
        if verb == "update" and not exists:
            raise PlanError(f"STAC item {cid}/{iid} does not exist; use CreateItem")
        item = _links(item, _item_links(cid))
        validate(item, cat.validator)
        if cat.read(collection_path(cid)) is None:
            raise PlanError(f"STAC item {cid}/{iid}: collection {cid!r} does not exist")
        cat.write(item_path(cid, iid), item, check=False)
        if verb == "create":
            cat.set_item(cid, iid, True)
        entry: dict[str, Any] = {"type": f"stac.item.{verb}", "collection": cid, "id": iid}
    elif isinstance(action, DeleteItem):
        rel = item_path(action.collection, action.id)
        if cat.read(rel) is None:
            raise PlanError(f"STAC item {action.collection}/{action.id} does not exist")
        cat.delete(rel)
        cat.set_item(action.collection, action.id, False)
        entry = {"type": "stac.item.delete", "collection": action.collection, "id": action.id}
    elif isinstance(action, CreateCollection | UpdateCollection):
        col = _as_dict(action.collection)
        cid = _safe_id("collection", col.get("id"))
        current = cat.read(collection_path(cid))
        verb = "create" if isinstance(action, CreateCollection) else "update"
        if verb == "create" and current is not None:
            raise PlanError(f"STAC collection {cid!r} already exists; use UpdateCollection")
        if verb == "update" and current is None:
            raise PlanError(f"STAC collection {cid!r} does not exist; use CreateCollection")
        items = [] if current is None else [link for link in current.get("links", []) if link.get("rel") == "item"]
        col = _links(col, _collection_links() + items)
        cat.write(collection_path(cid), col)
        if verb == "create":
            cat.set_child(cid, True)
        entry = {"type": f"stac.collection.{verb}", "id": cid}
    elif isinstance(action, DeleteCollection):
        cid = action.id
        current = cat.read(collection_path(cid))
        if current is None:
            raise PlanError(f"STAC collection {cid!r} does not exist")
        if cat.children(current, "item"):
            raise PlanError(f"STAC collection {cid!r} still has items; delete them first")
        cat.delete(collection_path(cid))
        cat.set_child(cid, False)
        entry = {"type": "stac.collection.delete", "id": cid}
    elif isinstance(action, RestoreFiles):
        for a in action.actions:
            if isinstance(a, files.Write):
                cat.overlay[a.path] = a.data
            else:
                cat.overlay[a.path] = None
            cat.writes.append(a)
        entry = {"type": "stac.restore"}
    else:
        raise PlanError(f"unknown STAC action {action!r}")
    entry["paths"] = list(
        dict.fromkeys(w.path for w in cat.writes[start:] if isinstance(w, files.Write | files.Delete))
    )
    return entry


class StacPart(FilePart):
    kind = "stac"
    stac_objects: list[dict[str, Any]]

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "root": str(self.plan.root.path), "stac": self.stac_objects}


class ReopenedStac(ReopenedFiles):
    """The STAC part of a recorded mixed operation: undone by RestoreFiles on the STAC root."""

    def undo_actions(self, steps: Sequence[Mapping[str, Any]]) -> list[Any]:
        return [RestoreFiles(super().undo_actions(steps))]


class StacKind(ActionKind):
    name = "stac"

    def __init__(self, validator: OfflineValidator | None = None) -> None:
        self.validator = validator

    def handles(self, action: object) -> bool:
        return isinstance(action, StacAction)

    def plan(self, actions: Sequence[Any], ctx: Context) -> Part:
        root = context_root(ctx, ctx.stac_root, DEFAULT_STAC_ROOT)
        cat = _Catalog(root, self.validator)
        objects, counts = [], []
        for a in actions:
            before = len(cat.writes)
            objects.append(_compile(cat, a))
            counts.append(len(cat.writes) - before)
        part = StacPart(files.plan(root, planned_contents(ctx), cat.writes), ctx.blobs, file_prefix("file", root))
        part.stac_objects = objects
        # one STAC action is several file actions: map each STAC action to its file actions
        part.groups = [n for n in counts]
        return part

    def reopen(self, part: Mapping[str, Any], ctx: Context) -> Reopened:
        root = file_root(part["root"])
        return ReopenedStac(root, recorded_contents(ctx), file_prefix("file", root), "stac_root")

    def resume(
        self,
        part: Mapping[str, Any],
        actions: list[dict[str, Any]],
        steps: list[dict[str, Any]] | None,
        ctx: Context,
    ) -> Part:
        """The recorded file writes of the STAC actions (state keys as a file part's)."""
        resumed = StacPart(resume_files(part, actions, steps, ctx), ctx.blobs, recorded_prefix("file", part))
        resumed.stac_objects = list(part.get("stac", []))
        resumed.steps = None if steps is None else resumed.plan.steps
        return resumed


register_kind(StacKind())

__all__ = [
    "DEFAULT_STAC_ROOT",
    "CreateCollection",
    "CreateItem",
    "DeleteCollection",
    "DeleteItem",
    "OfflineValidator",
    "ReopenedStac",
    "RestoreFiles",
    "StacKind",
    "UpdateCollection",
    "UpdateItem",
    "collection_path",
    "item_path",
    "validate",
]
