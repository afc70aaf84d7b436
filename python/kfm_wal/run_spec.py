"""Run specs: one recorded operation described as JSON, for `kfm-wal run` and `kfm-wal request`.

    {"operation": "etl_step", "actor": {"type": "ci", "id": "job-7"}, "tier": 1,
     "governance": {"care": "public"}, "telemetry": {"id": "focus-1"}, "lineage_links": [],
     "approvals": [...], "irreversible": "why", "root": "data/processed", "stac_root": "data/stac",
     "graph": "data/graph",
     "actions": [
       {"type": "file.write", "path": "a.csv", "source": "local/a.csv"},   (or "text" or "base64")
       {"type": "file.delete", "path": "b.csv"},
       {"type": "file.move", "src": "c.csv", "dst": "d.csv"},
       {"type": "stac.item.create", "item": {...}},        (or "source": "item.json"; also .update)
       {"type": "stac.item.delete", "collection": "c", "id": "i"},
       {"type": "stac.collection.create", "collection": {...}},   (or "source"; also .update)
       {"type": "stac.collection.delete", "id": "c"},
       {"type": "graph.insert", "ntriples": "<s> <p> <o> ."},   (or "source": "x.nt"; also .delete)
     ]}

"operation": "hotfix" (tier 0-3) runs the spec as a hotfix, decided by the policy's hotfix rules;
"approvals" go to the intent's governance.approvals, judged when the policy governs the operation.

Paths in "source", "root", "stac_root" and "graph" are relative to the spec file's directory. Every
fault is a UsageError naming the spec and the member (`actions[2].path`); nothing is read from
the log or written before the whole spec has been parsed."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import UsageError

# The members of a spec that are the operation's record (OperationSpec's keywords), and its roots.
_RECORDED = ("operation", "actor", "tier", "governance", "telemetry", "lineage_links", "irreversible")
_REQUIRED = ("actor", "tier", "governance", "telemetry", "actions")
_ROOTS = ("root", "stac_root", "graph")
_KNOWN = {*_RECORDED, *_ROOTS, "actions", "approvals"}


@dataclass
class RunSpec:
    """A parsed spec: `actions` for kfm_wal.ops, `options` its recorded keywords, `roots` where
    it acts (absolute paths), `approvals` for a governed run."""

    source: Path
    actions: list[Any]
    options: dict[str, Any]
    roots: dict[str, Path] = field(default_factory=dict)
    approvals: list[dict[str, Any]] = field(default_factory=list)


class _Spec:
    """Reads members of one spec, naming the spec file and the member in every error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent

    def fail(self, where: str, what: str) -> UsageError:
        return UsageError(f"{self.path}: {where}: {what}")

    def text(self, obj: Mapping[str, Any], name: str, where: str) -> str:
        value = obj.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}.{name}", "a non-empty string is required")
        return value

    def source(self, obj: Mapping[str, Any], where: str) -> bytes:
        file = self.base / self.text(obj, "source", where)
        try:
            return file.read_bytes()
        except OSError as e:
            raise self.fail(f"{where}.source", f"cannot read {file}: {e.strerror or e}") from None

    def json_or_source(self, obj: Mapping[str, Any], name: str, where: str) -> Any:
        if name in obj:
            if not isinstance(obj[name], dict):
                raise self.fail(f"{where}.{name}", "a JSON object is required")
            return obj[name]
        try:
            return orjson.loads(self.source(obj, where))
        except orjson.JSONDecodeError as e:
            raise self.fail(f"{where}.source", f"not JSON: {e}") from None

    def contents(self, obj: Mapping[str, Any], where: str) -> bytes:
        given = [k for k in ("source", "text", "base64") if k in obj]
        if len(given) != 1:
            raise self.fail(where, "give exactly one of source, text, base64")
        if "text" in obj:
            return self.text(obj, "text", where).encode()
        if "base64" in obj:
            try:
                return base64.b64decode(self.text(obj, "base64", where), validate=True)
            except binascii.Error as e:
                raise self.fail(f"{where}.base64", f"not base64: {e}") from None
        return self.source(obj, where)

    def triples(self, obj: Mapping[str, Any], where: str) -> list[str]:
        text = obj["ntriples"] if "ntriples" in obj else self.source(obj, where).decode("utf-8", "replace")
        if not isinstance(text, str):
            raise self.fail(f"{where}.ntriples", "N-Triples text is required")
        lines = [line.strip() for line in text.splitlines()]
        return [line for line in lines if line and not line.startswith("#")]


def _action(spec: _Spec, obj: Any, where: str) -> Any:
    from .ops import files, graph, stac

    if not isinstance(obj, dict):
        raise spec.fail(where, "an action must be a JSON object")
    kind = spec.text(obj, "type", where)
    makers: dict[str, Callable[[], Any]] = {
        "file.write": lambda: files.Write(spec.text(obj, "path", where), spec.contents(obj, where)),
        "file.delete": lambda: files.Delete(spec.text(obj, "path", where)),
        "file.move": lambda: files.Move(spec.text(obj, "src", where), spec.text(obj, "dst", where)),
        "stac.item.create": lambda: stac.CreateItem(spec.json_or_source(obj, "item", where)),
        "stac.item.update": lambda: stac.UpdateItem(spec.json_or_source(obj, "item", where)),
        "stac.item.delete": lambda: stac.DeleteItem(spec.text(obj, "collection", where), spec.text(obj, "id", where)),
        "stac.collection.create": lambda: stac.CreateCollection(spec.json_or_source(obj, "collection", where)),
        "stac.collection.update": lambda: stac.UpdateCollection(spec.json_or_source(obj, "collection", where)),
        "stac.collection.delete": lambda: stac.DeleteCollection(spec.text(obj, "id", where)),
        "graph.insert": lambda: graph.Insert(spec.triples(obj, where)),
        "graph.delete": lambda: graph.Delete(spec.triples(obj, where)),
    }
    if kind not in makers:
        raise spec.fail(f"{where}.type", f"unknown action type {kind!r}; known: {', '.join(sorted(makers))}")
    return makers[kind]()


def load(path: str | Path) -> RunSpec:
    """Parse the spec at `path` (see the module doc). Reads the files it names; writes nothing."""
    spec = _Spec(Path(path))
    try:
        doc = orjson.loads(spec.path.read_bytes())
    except OSError as e:
        raise UsageError(f"{spec.path}: cannot read: {e.strerror or e}") from None
    except orjson.JSONDecodeError as e:
        raise UsageError(f"{spec.path}: not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise spec.fail("spec", "a JSON object is required")
    unknown = sorted(set(doc) - _KNOWN)
    if unknown:
        raise spec.fail(unknown[0], f"unknown member; known: {', '.join(sorted(_KNOWN))}")
    for name in _REQUIRED:
        if name not in doc:
            raise spec.fail(name, "required")
    if not isinstance(doc["actions"], list) or not doc["actions"]:
        raise spec.fail("actions", "a non-empty array is required")
    actions = [_action(spec, a, f"actions[{i}]") for i, a in enumerate(doc["actions"])]
    approvals = doc.get("approvals", [])
    if not isinstance(approvals, list) or not all(isinstance(a, dict) for a in approvals):
        raise spec.fail("approvals", "an array of approval objects is required")
    roots = {name: spec.base / spec.text(doc, name, "spec") for name in _ROOTS if name in doc}
    options = {name: doc[name] for name in _RECORDED if name in doc}
    return RunSpec(spec.path, actions, options, {k: v.absolute() for k, v in roots.items()}, approvals)


__all__ = ["RunSpec", "load"]
