"""Graph writes to an RDF store (pyoxigraph, embedded, default data/graph/) as recorded actions.

Actions: `Insert(triples)` and `Delete(triples)`, triples as pyoxigraph Triple/Quad objects (the
default graph) or N-Triples text. Blank nodes are refused: they cannot be named again by a later
undo. State: for every triple an operation touches, "present" or "absent"; the state keys are the
triples' N-Triples forms, so the state hash (digests.state_hash) covers the affected triples in
sorted N-Triples order. Reversal: delete what was inserted and was absent before, re-insert what
was deleted and was present before (every touched triple is named: absent ones deleted, present
ones inserted, both idempotent). Each action (and each reversal) is ONE SPARQL update, which
pyoxigraph runs as one transaction, followed by `flush()` to make it durable.

Payload action objects (mixed-1 format):
    {"type": "graph.insert" | "graph.delete", "triples": [N-Triples, ...], "part": i}
Reversal steps: the same shapes."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from .digests import ABSENT
from .errors import PlanError
from .kinds import ActionKind, Context, Part, Reopened, prefixed, register_kind

DEFAULT_GRAPH = "data/graph"
PRESENT = "present"

TripleLike = ox.Triple | ox.Quad | str


class GraphStore:
    """An embedded pyoxigraph store, opened once per directory in this process."""

    _open: dict[Path, GraphStore] = {}

    def __init__(self, path: Path, store: ox.Store) -> None:
        self.path, self.store = path, store

    @classmethod
    def open(cls, path: str | os.PathLike[str] = DEFAULT_GRAPH) -> GraphStore:
        where = Path(path).absolute()
        where.mkdir(parents=True, exist_ok=True)
        where = where.resolve()
        found = cls._open.get(where)
        if found is None:
            found = cls._open[where] = cls(where, ox.Store(str(where)))
        return found

    def contains(self, nt: str) -> bool:
        return parse_triple(nt) in self.store

    def update(self, delete: Sequence[str], insert: Sequence[str]) -> None:
        """Delete then insert, in one transaction, then flush."""
        ops = []
        if delete:
            ops.append("DELETE DATA { " + " . ".join(delete) + " . }")
        if insert:
            ops.append("INSERT DATA { " + " . ".join(insert) + " . }")
        if ops:
            self.store.update(" ; ".join(ops))
            self.store.flush()

    def triples(self) -> set[str]:
        """Every triple of the default graph, as N-Triples (for tests and audits)."""
        return {nt(q) for q in self.store.quads_for_pattern(None, None, None, ox.DefaultGraph())}


def nt(t: ox.Triple | ox.Quad) -> str:
    return str(ox.Triple(t.subject, t.predicate, t.object))


def parse_triple(value: TripleLike) -> ox.Quad:
    if isinstance(value, str):
        found = list(
            ox.parse(input=value if value.rstrip().endswith(".") else value + " .", format=ox.RdfFormat.N_TRIPLES)
        )
        if len(found) != 1:
            raise PlanError(f"{value!r}: expected exactly one N-Triples triple, found {len(found)}")
        value = found[0]
    if isinstance(value, ox.Quad):
        if not isinstance(value.graph_name, ox.DefaultGraph):
            raise PlanError(f"{value}: only the default graph is supported")
        t = value
    elif isinstance(value, ox.Triple):
        t = ox.Quad(value.subject, value.predicate, value.object)
    else:
        raise PlanError(f"{value!r}: a triple must be a pyoxigraph Triple/Quad or N-Triples text")
    if isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode):
        raise PlanError(f"{nt(t)}: blank nodes are refused (an undo could not name them again)")
    return t


def canonical(triples: Iterable[TripleLike]) -> list[str]:
    """N-Triples of `triples`, parsed and checked, sorted, duplicates removed."""
    if isinstance(triples, str | ox.Triple | ox.Quad):
        triples = [triples]
    return sorted({nt(parse_triple(t)) for t in triples})


@dataclass(frozen=True)
class Insert:
    triples: Sequence[TripleLike]


@dataclass(frozen=True)
class Delete:
    triples: Sequence[TripleLike]


def _steps(pre: Mapping[str, str], keys: Iterable[str], now: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(delete, insert) that bring `keys` from `now` back to `pre`."""
    delete = sorted(k for k in keys if pre[k] == ABSENT and now[k] == PRESENT)
    insert = sorted(k for k in keys if pre[k] == PRESENT and now[k] == ABSENT)
    return delete, insert


class GraphPart(Part):
    kind = "graph"

    def __init__(
        self, store: GraphStore, actions: list[dict[str, Any]], pre: dict[str, str], prefix: str | None = None
    ) -> None:
        """`prefix`: of the state keys; default the store's (a resumed part keeps the recorded one)."""
        self.store, self.actions, self.raw_pre = store, actions, pre
        self.prefix = f"graph:{store.path}:" if prefix is None else prefix
        post = dict(pre)
        for a in actions:
            for t in a["triples"]:
                post[t] = PRESENT if a["type"] == "graph.insert" else ABSENT
        self.raw_post = post
        self.pre, self.post = prefixed(self.prefix, pre), prefixed(self.prefix, post)
        # Every touched triple is named (like every touched path of a file operation), so the undo
        # covers the same state keys: re-inserting a present triple is a no-op.
        delete = sorted(k for k in pre if pre[k] == ABSENT)
        insert = sorted(k for k in pre if pre[k] == PRESENT)
        self.steps = [
            s
            for s in ({"type": "graph.delete", "triples": delete}, {"type": "graph.insert", "triples": insert})
            if s["triples"]
        ]

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "store": str(self.store.path)}

    def execute(self, i: int) -> dict[str, Any]:
        a = self.actions[i]
        if a["type"] == "graph.insert":
            self.store.update([], a["triples"])
        else:
            self.store.update(a["triples"], [])
        return dict(a)

    def reverse(self, first_n: int) -> None:
        keys = {t for a in self.actions[:first_n] for t in a["triples"]}
        now = {k: PRESENT if self.store.contains(k) else ABSENT for k in keys}
        delete, insert = _steps(self.raw_pre, keys, now)
        self.store.update(delete, insert)  # one transaction

    def observe(self) -> dict[str, str]:
        return prefixed(self.prefix, {k: PRESENT if self.store.contains(k) else ABSENT for k in self.raw_pre})

    def simulate(self, state: dict[str, str], i: int) -> None:
        a = self.actions[i]
        for t in a["triples"]:
            state[self.prefix + t] = PRESENT if a["type"] == "graph.insert" else ABSENT


class ReopenedGraph(Reopened):
    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.prefix = f"graph:{store.path}:"

    def undo_actions(self, steps: Sequence[Mapping[str, Any]]) -> list[Any]:
        return [
            Insert(list(s["triples"])) if s["type"] == "graph.insert" else Delete(list(s["triples"])) for s in steps
        ]

    def target(self) -> dict[str, Any]:
        return {"graph": self.store}


def _store(where: Any) -> GraphStore:
    return where if isinstance(where, GraphStore) else GraphStore.open(where if where is not None else DEFAULT_GRAPH)


class GraphKind(ActionKind):
    name = "graph"

    def handles(self, action: object) -> bool:
        return isinstance(action, Insert | Delete)

    def plan(self, actions: Sequence[Any], ctx: Context) -> Part:
        store = _store(ctx.graph)
        payload = []
        for a in actions:
            triples = canonical(a.triples)
            if not triples:
                raise PlanError(f"{type(a).__name__}: no triples")
            payload.append({"type": "graph.insert" if isinstance(a, Insert) else "graph.delete", "triples": triples})
        keys = sorted({t for a in payload for t in a["triples"]})
        pre = {k: PRESENT if store.contains(k) else ABSENT for k in keys}
        return GraphPart(store, payload, pre)

    def reopen(self, part: Mapping[str, Any], ctx: Context) -> Reopened:
        return ReopenedGraph(_store(part["store"]))

    def resume(
        self,
        part: Mapping[str, Any],
        actions: list[dict[str, Any]],
        steps: list[dict[str, Any]] | None,
        ctx: Context,
    ) -> Part:
        store = _store(part["store"])
        keys = sorted({t for a in actions for t in a["triples"]})
        if steps is None:  # recorded irreversible: only the keys of `pre` matter
            pre = {k: PRESENT if store.contains(k) else ABSENT for k in keys}
        else:  # the steps name every touched triple: deleted if absent before, inserted if present
            pre = {t: ABSENT if s["type"] == "graph.delete" else PRESENT for s in steps for t in s["triples"]}
            missing = [k for k in keys if k not in pre]
            if missing:
                raise PlanError(f"the reversal steps do not record the state before of {missing[0]}")
        resumed = GraphPart(store, actions, pre, prefix=f"graph:{part['store']}:")
        if steps is None:
            resumed.steps = None
        return resumed


register_kind(GraphKind())

__all__ = ["DEFAULT_GRAPH", "PRESENT", "Delete", "GraphKind", "GraphStore", "Insert", "canonical"]
