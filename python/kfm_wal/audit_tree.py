"""The state the log's operations left every root they write in: data roots, STAC catalogs and
graph stores, replayed from the intents and completions alone (nothing is executed).

Operations of both payload formats are read (docs/FORMAT-conventions.md): `files-1` (a data
root, or a STAC catalog when `payload.stac` is there) and `mixed-1` (its parts: `file` and `stac`
roots, `graph` stores; `custom` parts are not judged: their state lives outside any root). Each
target (a file's path in a root, a triple in a store) gets the states it may be in now:

- `succeeded` (undos included: an undo is a `rollback` operation of its own): the state the
  intent's `reversal.expects` names (a content digest or "absent"; "present"/"absent" for a
  triple); an irreversible operation has no `expects`, so its actions are simulated instead;
- `refused` and `reversed`: nothing changed;
- `failed` or still pending: the log cannot tell which actions took effect, so any state the
  operation passes through is accepted (before, after each action, after the last).

`audit` (audit.py) compares these with what is on disk now."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ops.digests import ABSENT
from .ops.files import PAYLOAD_FORMAT
from .ops.kinds import MIXED_FORMAT
from .ops.root_state import PRESENT
from .reader import Record

FILE, STAC, GRAPH = "file", "stac", "graph"  # root kinds


def root_key(path: str | os.PathLike[str]) -> str:
    """How roots are compared: absolute, normalised, symlinks resolved where they exist."""
    return os.path.normpath(Path(path).absolute().resolve(strict=False))


@dataclass(frozen=True)
class Expected:
    states: frozenset[str]  # accepted states: content digests / "present" and/or "absent"
    record: Record  # the completion (or intent, when pending) that set them
    wal_id: str


@dataclass(frozen=True)
class _Part:
    kind: str  # FILE, STAC or GRAPH
    root: str  # root_key of the recorded root or store
    prefix: str  # of its state keys in the intent ("" in files-1)


@dataclass
class LogTrees:
    """Feed the records of a log in order, then `finish`: `expected[(root, target)]` and `roots`."""

    roots: dict[str, str] = field(default_factory=dict)  # root_key -> kind (as first recorded)
    recorded: dict[str, str] = field(default_factory=dict)  # root_key -> the root as the log names it
    expected: dict[tuple[str, str], Expected] = field(default_factory=dict)
    _intents: dict[str, Record] = field(default_factory=dict)

    def feed(self, record: Record) -> None:
        body = record.body
        if record.kind == "intent":
            if _parts(body):
                for part, name in _recorded(body):
                    # a root written as STAC once is a catalog (its other files are its links)
                    if self.roots.get(part.root) != STAC:
                        self.roots[part.root] = part.kind
                    self.recorded.setdefault(part.root, name)
                self._intents.setdefault(str(body["wal_id"]), record)
        elif record.kind == "completion":
            intent = self._intents.pop(str(body.get("wal_id")), None)
            if intent is not None:
                self._apply(intent, record, str(body.get("status")))

    def finish(self) -> None:
        """Intents still without completion (an operation a crash interrupted)."""
        for intent in list(self._intents.values()):
            self._apply(intent, intent, "")
        self._intents.clear()

    def targets(self, root: str) -> Iterator[tuple[str, Expected]]:
        for (r, target), want in self.expected.items():
            if r == root:
                yield target, want

    def _apply(self, intent: Record, at: Record, status: str) -> None:
        wal_id = str(intent.body["wal_id"])
        if status == "succeeded":
            for key, state in _after(intent.body, self.expected).items():
                self.expected[key] = Expected(frozenset([state]), at, wal_id)
        elif status not in ("refused", "reversed"):  # failed, or pending (status "")
            for key, states in _passes_through(intent.body).items():
                known = self.expected.get(key)
                self.expected[key] = Expected(states | (known.states if known else frozenset()), at, wal_id)


def _parts(body: Mapping[str, Any]) -> list[_Part | None]:
    """The intent's parts (None for one the audit does not judge); [] for other intents."""
    payload = body.get("payload")
    if not isinstance(payload, dict):
        return []
    if payload.get("format") == PAYLOAD_FORMAT and isinstance(payload.get("root"), str):
        return [_Part(STAC if "stac" in payload else FILE, root_key(payload["root"]), "")]
    if payload.get("format") != MIXED_FORMAT or not isinstance(payload.get("parts"), list):
        return []
    out: list[_Part | None] = []
    for p in payload["parts"]:
        kind = p.get("kind") if isinstance(p, dict) else None
        if kind in (FILE, STAC) and isinstance(p.get("root"), str):
            out.append(_Part(kind, root_key(p["root"]), f"file:{p['root']}:"))
        elif kind == GRAPH and isinstance(p.get("store"), str):
            out.append(_Part(GRAPH, root_key(p["store"]), f"graph:{p['store']}:"))
        else:
            out.append(None)
    return out


def _recorded(body: Mapping[str, Any]) -> Iterator[tuple[_Part, str]]:
    payload = body["payload"]
    if payload.get("format") == PAYLOAD_FORMAT:
        part = _parts(body)[0]
        assert part is not None
        yield part, str(payload["root"])
        return
    for part, raw in zip(_parts(body), payload["parts"], strict=True):
        if part is not None:
            yield part, str(raw.get("root", raw.get("store")))


def _key(parts: list[_Part | None], state_key: str) -> tuple[str, str] | None:
    """(root, target) of a state key of the intent, None for a custom (unjudged) key."""
    for part in parts:
        if part is not None and state_key.startswith(part.prefix):
            return part.root, state_key[len(part.prefix) :]
    return None


def _actions(body: Mapping[str, Any], parts: list[_Part | None]) -> Iterator[tuple[_Part, Mapping[str, Any]]]:
    for a in body["payload"].get("actions") or []:
        if not isinstance(a, dict):
            continue
        i = a.get("part", 0)
        part = parts[i] if isinstance(i, int) and 0 <= i < len(parts) else None
        if part is not None:
            yield part, a


def _step(state: dict[tuple[str, str], str], part: _Part, a: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """Apply one action to `state`; returns the targets it sets, None when it could not have run
    (the simulation stops there)."""
    kind = a.get("type")
    if kind in ("file.write", "file.delete"):
        key = (part.root, a["path"])
        state[key] = a["blob"] if kind == "file.write" else ABSENT
        return [key]
    if kind == "file.move":
        src, dst = (part.root, a["src"]), (part.root, a["dst"])
        if state.get(src) in (None, ABSENT):
            return None
        state[dst], state[src] = state[src], ABSENT
        return [src, dst]
    if kind in ("graph.insert", "graph.delete"):
        keys = [(part.root, t) for t in a["triples"]]
        for key in keys:
            state[key] = PRESENT if kind == "graph.insert" else ABSENT
        return keys
    return None


def _before(body: Mapping[str, Any], parts: list[_Part | None]) -> dict[tuple[str, str], str]:
    """The state of each target before the operation, as its reversal steps record it."""
    out: dict[tuple[str, str], str] = {}
    for s in (body.get("reversal") or {}).get("steps") or []:
        i = s.get("part", 0)
        part = parts[i] if isinstance(i, int) and 0 <= i < len(parts) else None
        if part is None:
            continue
        kind = s.get("type")
        if kind == "file.restore":
            out[(part.root, s["path"])] = s["blob"]
        elif kind == "file.delete":
            out[(part.root, s["path"])] = ABSENT
        elif kind in ("graph.delete", "graph.insert"):
            for t in s["triples"]:
                out[(part.root, t)] = ABSENT if kind == "graph.delete" else PRESENT
    return out


def _after(body: Mapping[str, Any], known: Mapping[tuple[str, str], Expected]) -> dict[tuple[str, str], str]:
    """The state a succeeded operation left each target in."""
    parts = _parts(body)
    expects = (body.get("reversal") or {}).get("expects")
    if isinstance(expects, dict):
        return {key: str(v) for k, v in expects.items() if (key := _key(parts, k)) is not None}
    # irreversible: no `expects`; simulate from what is known (a move of a file whose state is
    # ambiguous cannot be followed: its destination keeps the first accepted state)
    state = {k: min(e.states) for k, e in known.items()}
    touched: dict[tuple[str, str], None] = {}
    for part, a in _actions(body, parts):
        keys = _step(state, part, a)
        if keys is None:
            break
        touched.update(dict.fromkeys(keys))
    return {k: state[k] for k in touched}


def _passes_through(body: Mapping[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """Every state each target of the intent may be in after a partial run."""
    parts = _parts(body)
    state = _before(body, parts)
    seen = {k: {s} for k, s in state.items()}
    for part, a in _actions(body, parts):
        if _step(state, part, a) is None:
            break
        for k, s in state.items():
            seen.setdefault(k, set()).add(s)
    expects = (body.get("reversal") or {}).get("expects")
    for k, v in (expects if isinstance(expects, dict) else {}).items():
        key = _key(parts, k)
        if key is not None:
            seen.setdefault(key, set()).add(str(v))
    return {k: frozenset(s) for k, s in seen.items()}


__all__ = ["FILE", "GRAPH", "STAC", "Expected", "LogTrees", "root_key"]
