"""The roots a snapshot covers and their whole-state digests (`ops.root_state`, the digests replay
compares a sandbox with).

The roots are every root the log's operations write to (a files-1 payload's `root`, a mixed-1
part's `root` or `store`), plus the seed layout's roots next to the log (`<log>/../processed`,
`<log>/../stac`, `<log>/../graph`) so that a snapshot taken before the first operation already
names them. A root is identified by its kind ("file" or "graph") and absolute path; its role
("data", "stac", "graph") only says what it is for. A missing root has the digest of the empty
state."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ops import files, root_state
from ..ops.kinds import MIXED_FORMAT
from ..reader import records

ROLES = ("data", "stac", "graph")
LAYOUT = {"data": "processed", "stac": "stac", "graph": "graph"}  # the seed layout, next to the log


@dataclass(frozen=True)
class Root:
    role: str  # "data", "stac" or "graph"
    path: str  # absolute

    @property
    def kind(self) -> str:
        return "graph" if self.role == "graph" else "file"

    @property
    def key(self) -> str:
        """The root's key in the state whose hash a snapshot or rollback records."""
        return f"{self.kind}:{self.path}"


@dataclass(frozen=True)
class RootDigest:
    root: Root
    digest: str
    entries: int  # files (file root) or quads (graph store)

    def as_dict(self) -> dict[str, Any]:
        return {"role": self.root.role, "path": self.root.path, "digest": self.digest, "entries": self.entries}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RootDigest:
        return cls(Root(str(d["role"]), str(d["path"])), str(d["digest"]), int(d.get("entries", 0)))


def absolute(path: str | os.PathLike[str]) -> str:
    return str(Path(path).absolute().resolve())


def recorded_roots(body: Mapping[str, Any]) -> list[Root]:
    """The roots one intent's operation writes to (none for intents not recorded by kfm_wal.ops)."""
    payload = body.get("payload")
    if not isinstance(payload, dict):
        return []
    if payload.get("format") == files.PAYLOAD_FORMAT:
        return [Root("stac" if "stac" in payload else "data", str(payload["root"]))]
    if payload.get("format") != MIXED_FORMAT:
        return []
    out = []
    for part in payload.get("parts", []):
        if part.get("kind") == "graph":
            out.append(Root("graph", str(part["store"])))
        elif part.get("kind") in ("file", "stac"):
            out.append(Root("stac" if part["kind"] == "stac" else "data", str(part["root"])))
    return out


def roots_of(log: str | os.PathLike[str], extra: Iterable[Root] = ()) -> list[Root]:
    """The seed layout's roots next to `log`, every root the log writes to, and `extra`; one per
    (kind, path), the first role seen kept; sorted by (kind, path)."""
    base = Path(log).absolute().parent
    found: dict[tuple[str, str], Root] = {}
    layout = [Root(role, absolute(base / name)) for role, name in LAYOUT.items()]
    for record in records(log, kind="intent"):
        for root in recorded_roots(record.body):
            found.setdefault((root.kind, root.path), root)
    for root in [*layout, *extra]:
        found.setdefault((root.kind, root.path), root)
    return sorted(found.values(), key=lambda r: (r.kind, r.path))


def state_of(root: Root, others: Iterable[Root], log: str | os.PathLike[str]) -> dict[str, str]:
    """The whole state of `root` (read only); other roots and the log nested in a file root are
    left out of it."""
    if root.kind == "graph":
        return root_state.read_graph(root.path)
    here = Path(root.path)
    nested = [Path(o.path) for o in others if o != root] + [Path(log).absolute()]
    return root_state.file_tree(here, [p for p in nested if p != here and p.is_relative_to(here)])


def digests(roots: list[Root], log: str | os.PathLike[str]) -> list[RootDigest]:
    out = []
    for root in roots:
        state = state_of(root, roots, log)
        out.append(RootDigest(root, root_state.digest(state), len(state)))
    return out


def keyed(found: Iterable[RootDigest]) -> dict[str, str]:
    """{root key: digest}: what the state hashes of snapshots and rollbacks are taken over."""
    return {d.root.key: d.digest for d in found}


__all__ = ["LAYOUT", "ROLES", "Root", "RootDigest", "absolute", "digests", "keyed", "recorded_roots", "roots_of"]
