"""Re-executing one recorded operation in the sandbox, from its intent's payload and the blob
store (`payload.inline` first, then `<log>/blobs/`), with the state checks that make the replay
deterministic or halt it.

What each completion status replays as (what the operation did):
- succeeded: every action; before, the targets must hash to the intent's `pre_state_hash`; after,
  to its `post_state_expected` and to the completion's `post_state_hash`;
- reversed: nothing (its actions were undone); before and after, `pre_state_hash` (and the
  completion's observed state when it recorded one);
- refused: nothing; the targets must be in the state its refusal observed, when it recorded one;
- failed: the prefix of its actions that leaves exactly the state the completion observed (the
  log does not say which actions ran; it does say the state they left); none: a mismatch.
An undo is an operation of its own (operation "rollback") and replays as one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..ops import custom, files
from ..ops.blobs import BlobStore
from ..ops.contents import Contents
from ..ops.digests import ABSENT, state_hash
from ..ops.errors import BlobError, PlanError
from ..ops.graph import PRESENT
from ..ops.kinds import MIXED_FORMAT
from ..reader import Record
from .report import Mismatch, ReplayError
from .sandbox import Sandbox

FORMATS = (files.PAYLOAD_FORMAT, MIXED_FORMAT)
_TYPES = {
    "file": ("file.write", "file.delete", "file.move"),
    "graph": ("graph.insert", "graph.delete"),
    "custom": (),
}


@dataclass(frozen=True)
class Part:
    kind: str  # "file" (data root or STAC catalog), "graph" or "custom"
    locator: str  # the recorded root or store ("" for custom)
    prefix: str  # of its state keys


@dataclass
class Recorded:
    """One operation as the log recorded it: its intent and (when within range) its completion."""

    intent: Record
    completion: Record | None = None
    _parts: list[Part] | None = field(default=None, repr=False, compare=False)
    _actions: list[tuple[Part, dict[str, Any]]] | None = field(default=None, repr=False, compare=False)

    @property
    def body(self) -> dict[str, Any]:
        return self.intent.body

    @property
    def wal_id(self) -> str:
        return str(self.body["wal_id"])

    @property
    def operation(self) -> str:
        return str(self.body.get("operation"))

    @property
    def status(self) -> str | None:
        return None if self.completion is None else str(self.completion.body.get("status"))

    @property
    def replayable(self) -> bool:
        payload = self.body.get("payload")
        return isinstance(payload, dict) and payload.get("format") in FORMATS

    def parts(self) -> list[Part]:
        if self._parts is None:
            self._parts = self._read_parts()
        return self._parts

    def _read_parts(self) -> list[Part]:
        payload = self.body["payload"]
        if payload["format"] == files.PAYLOAD_FORMAT:
            return [Part("file", str(payload["root"]), "")]
        out = []
        for p in payload["parts"]:
            if p["kind"] in ("file", "stac"):
                out.append(Part("file", str(p["root"]), f"file:{p['root']}:"))
            elif p["kind"] == "graph":
                out.append(Part("graph", str(p["store"]), f"graph:{p['store']}:"))
            else:
                out.append(Part("custom", "", "custom:"))
        return out

    def actions(self) -> list[tuple[Part, dict[str, Any]]]:
        if self._actions is None:
            parts = self.parts()
            self._actions = [(parts[a.get("part", 0)], a) for a in self.body["payload"]["actions"]]
        return self._actions

    def unsupported(self) -> str | None:
        """What of the operation this replayer cannot run (a kind or action type it does not know)."""
        for p in self.body["payload"].get("parts", []):
            if p.get("kind") not in ("file", "stac", "graph", "custom"):
                return f"action kind {p.get('kind')!r}"
        for part, a in self.actions():
            if a.get("type") not in _TYPES[part.kind] and not (part.kind == "custom" and "name" in a):
                return f"action type {a.get('type')!r}"
        return None

    def custom_names(self) -> list[str]:
        return [a["name"] for part, a in self.actions() if part.kind == "custom"]

    def recorded_pre(self) -> dict[str, str] | None:
        """The state of each target before the operation, as its reversal steps record it."""
        steps = (self.body.get("reversal") or {}).get("steps")
        if not isinstance(steps, list):
            return None
        parts, out = self.parts(), {}
        for s in steps:
            part = parts[s.get("part", 0)]
            kind = s["type"]
            if kind == "file.restore":
                out[part.prefix + s["path"]] = s["blob"]
            elif kind == "file.delete":
                out[part.prefix + s["path"]] = ABSENT
            elif kind in ("graph.delete", "graph.insert"):
                for t in s["triples"]:
                    out[part.prefix + t] = ABSENT if kind == "graph.delete" else PRESENT
            elif kind.endswith(".reverse"):
                for k, v in s["target"].items():
                    out[f"custom:{s['name']}:{k}"] = v
        return out


def observe(op: Recorded, box: Sandbox) -> dict[str, str]:
    """The sandbox's state of the operation's targets, keyed as the log keys them."""
    out: dict[str, str] = {}
    for part, a in op.actions():
        if part.kind == "file":
            for path in files.targets(a):
                out[part.prefix + path] = box.file_state(part.locator, path)
        elif part.kind == "graph":
            for t in a["triples"]:
                out[part.prefix + t] = box.graph_state(part.locator, t)
        else:
            reg = custom.registered(a["name"])
            for k, v in reg.state(a["params"]).items():
                out[f"custom:{reg.name}:{k}"] = v
    return out


def simulate(state: Mapping[str, str], actions: list[tuple[Part, dict[str, Any]]]) -> dict[str, str]:
    """The state the actions leave, from `state` (no action run)."""
    out = dict(state)
    for part, a in actions:
        kind = a["type"]
        if part.kind == "file":
            if kind == "file.write":
                out[part.prefix + a["path"]] = a["blob"]
            elif kind == "file.delete":
                out[part.prefix + a["path"]] = ABSENT
            else:
                src, dst = part.prefix + a["src"], part.prefix + a["dst"]
                out[dst], out[src] = out.get(src, ABSENT), ABSENT
        elif part.kind == "graph":
            for t in a["triples"]:
                out[part.prefix + t] = PRESENT if kind == "graph.insert" else ABSENT
        else:
            reg = custom.registered(a["name"])
            after = a["target"] if kind.endswith(".reverse") else reg.expect(a["params"])
            for k, v in after.items():
                out[f"custom:{reg.name}:{k}"] = v
    return out


def _mismatch(
    op: Recorded, stage: str, expected: str, actual: Mapping[str, str], per_key: Mapping[str, str] | None
) -> Mismatch:
    target = want = got = None
    if per_key is not None:
        for key in sorted(set(per_key) | set(actual)):
            if key in per_key and per_key[key] != actual.get(key, ABSENT):
                target, want, got = key, per_key[key], actual.get(key, ABSENT)
                break
    return Mismatch(op.intent.seq, op.wal_id, op.operation, stage, target, expected, state_hash(actual), want, got)


class Halt(Exception):
    def __init__(self, mismatch: Mismatch) -> None:
        super().__init__(mismatch.message())
        self.mismatch = mismatch


def _contents(op: Recorded, blobs: BlobStore, actions: list[tuple[Part, dict[str, Any]]]) -> dict[str, bytes]:
    """Every content the actions write, read and checked against its digest before any runs."""
    data: dict[str, bytes] = {}
    try:
        source = Contents.of_payload(blobs, op.body["payload"])
        for _, a in actions:
            if a["type"] == "file.write" and a["blob"] not in data:
                data[a["blob"]] = source.get(a["blob"])
    except BlobError as e:
        err = ReplayError(
            f"operation {op.wal_id} ({op.operation}, seq {op.intent.seq}) cannot be replayed: {e}; "
            "nothing of it was executed"
        )
        err.seq, err.wal_id = op.intent.seq, op.wal_id
        raise err from None
    return data


def _run(box: Sandbox, actions: list[tuple[Part, dict[str, Any]]], data: Mapping[str, bytes]) -> None:
    for part, a in actions:
        kind = a["type"]
        if kind == "file.write":
            box.write(part.locator, a["path"], data[a["blob"]])
        elif kind == "file.delete":
            box.delete(part.locator, a["path"])
        elif kind == "file.move":
            box.move(part.locator, a["src"], a["dst"])
        elif kind == "graph.insert":
            box.graph_update(part.locator, [], a["triples"])
        elif kind == "graph.delete":
            box.graph_update(part.locator, a["triples"], [])
        elif part.kind == "custom":
            reg = custom.registered(a["name"])
            if kind.endswith(".reverse"):
                if reg.reverse is None:
                    raise PlanError(f"custom.{reg.name} has no reverse function in this process")
                reg.reverse(a["params"])
            else:
                reg.execute(a["params"])
        else:
            raise PlanError(f"unknown action type {kind!r}")


def replay_one(op: Recorded, box: Sandbox, blobs: BlobStore) -> None:
    """Replay one completed operation (see the module docstring); raises Halt at a mismatch."""
    status = op.status
    assert op.completion is not None
    observed = op.completion.body.get("post_state_hash")
    body = op.body
    before = observe(op, box)
    if status == "refused":
        if isinstance(observed, str) and state_hash(before) != observed:
            raise Halt(_mismatch(op, "refused", observed, before, None))
        return
    if state_hash(before) != body["pre_state_hash"]:
        raise Halt(_mismatch(op, "pre", body["pre_state_hash"], before, op.recorded_pre()))
    actions = op.actions()
    if status == "reversed":
        if isinstance(observed, str) and state_hash(before) != observed:
            raise Halt(_mismatch(op, "observed", observed, before, None))
        return
    if status == "succeeded":
        todo = actions
    else:  # failed: the prefix of its actions that leaves the state it observed
        prefixes = [n for n in range(len(actions) + 1) if state_hash(simulate(before, actions[:n])) == observed]
        if not isinstance(observed, str) or not prefixes:
            raise Halt(_mismatch(op, "failed", str(observed), before, None))
        todo = actions[: prefixes[-1]]
    _run(box, todo, _contents(op, blobs, todo))
    after = observe(op, box)
    expected_after = simulate(before, todo)
    if status == "succeeded" and state_hash(after) != body["post_state_expected"]:
        raise Halt(_mismatch(op, "post", body["post_state_expected"], after, expected_after))
    if isinstance(observed, str) and state_hash(after) != observed:
        raise Halt(_mismatch(op, "observed", observed, after, expected_after))


__all__ = ["FORMATS", "Halt", "Recorded", "observe", "replay_one", "simulate"]
