"""A pending operation rebuilt from its intent, for crash recovery: its parts (one per action kind,
through `ActionKind.resume`), the order its actions ran in, the per-key state its reversal steps
record before it, and the states its own actions can reach from there.

Nothing here decides or changes anything (recover_settle.py does); this is the recorded operation
seen through the same `Part` interface the lifecycle runs (ops/planning.py `OpPlan`), so that
recovery observes, simulates, executes and reverses every kind the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..reader import Record
from . import files
from .blobs import BlobStore
from .contents import Contents
from .digests import state_hash
from .errors import PlanError
from .filekind import FilePart
from .kinds import MIXED_FORMAT, Context, get_kind
from .paths import FileRoot
from .planning import OpPlan

FORMATS = (files.PAYLOAD_FORMAT, MIXED_FORMAT)


def recorded_by_ops(intent: Record) -> bool:
    """An intent recorded by kfm_wal.ops (files-1 or mixed-1 payload), which recovery can judge."""
    payload = intent.body.get("payload")
    return isinstance(payload, dict) and payload.get("format") in FORMATS


def _without_part(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "part"}


@dataclass
class Resumed:
    """One recorded operation, its parts resumed. `plan.pre` is the state its reversal steps
    record before it (None when it was recorded irreversible), `plan.post` that state with every
    action simulated."""

    intent: Record
    plan: OpPlan
    recorded_pre: dict[str, str] | None
    irreversible: str | None  # the recorded reason, when the operation cannot be reversed

    @property
    def wal_id(self) -> str:
        return str(self.intent.wal_id)

    def kinds(self) -> list[str]:
        return list(dict.fromkeys(p.kind for p in self.plan.parts))

    def observe(self) -> dict[str, str]:
        return self.plan.observe()

    def global_keys(self) -> set[str]:
        """The state keys, made comparable across operations (a files-1 key is a bare path)."""
        if self.plan.mixed:
            return set(self.plan.pre)
        root = self.intent.body["payload"]["root"]
        return {f"file:{root}:{k}" for k in self.plan.pre}

    def simulated(self, state: Mapping[str, str], first_n: int | None = None) -> dict[str, str]:
        """`state` after actions 0..first_n-1 (all by default), none of them run."""
        out = dict(state)
        for p, i in self.plan.order[:first_n]:
            self.plan.parts[p].simulate(out, i)
        return out

    def reachable(self) -> dict[str, set[str]]:
        """Every state each key passes through while the actions run from the recorded pre
        state, partial runs (and partial in-process reversals, which restore per key) included."""
        assert self.recorded_pre is not None
        state = dict(self.recorded_pre)
        seen = {k: {v} for k, v in state.items()}
        for p, i in self.plan.order:
            self.plan.parts[p].simulate(state, i)
            for k, v in state.items():
                seen.setdefault(k, set()).add(v)
        return seen

    def consistent(self) -> str | None:
        """Why the recorded pre/post states cannot be trusted to judge a partial state, or None."""
        body = self.intent.body
        if self.recorded_pre is None:
            return None
        if state_hash(self.recorded_pre) != body["pre_state_hash"]:
            return "its reversal steps do not describe the state pre_state_hash records"
        if state_hash(self.simulated(self.recorded_pre)) != body["post_state_expected"]:
            return "its actions, simulated from the recorded state before, do not lead to post_state_expected"
        return None


def resume(
    intent: Record, blobs: BlobStore, root: FileRoot | None = None, roots: dict[Any, Any] | None = None
) -> Resumed:
    """Rebuild the operation `intent` records. `root` stands in for the recorded data root of a
    files-1 operation; `roots` caches the roots opened (shared by the intents of one recovery).
    Raises PlanError (an unknown kind, a custom action not registered in this process, steps that
    do not cover a target) or BlobError (a malformed payload.inline)."""
    body = intent.body
    payload, reversal = body["payload"], body["reversal"]
    irreversible = str(reversal.get("reason")) if reversal.get("irreversible") is True else None
    steps = None if irreversible is not None else reversal.get("steps")
    if irreversible is None and not isinstance(steps, list):
        raise PlanError("its reversal records no steps")
    ctx = Context(blobs, contents=Contents.of_payload(blobs, payload), roots={} if roots is None else roots)
    mixed = payload["format"] == MIXED_FORMAT
    if mixed:
        entries: list[dict[str, Any]] = [dict(p) for p in payload["parts"]]
    else:  # files-1: one file (or STAC) part, its keys bare paths
        entry = {"kind": "stac" if "stac" in payload else "file", "root": payload["root"], "stac": payload.get("stac")}
        if root is not None:
            entry.update(root=root, recorded=payload["root"])
        entries = [entry]
    actions: list[list[dict[str, Any]]] = [[] for _ in entries]
    part_steps: list[list[dict[str, Any]]] = [[] for _ in entries]
    order: list[tuple[int, int]] = []
    for a in payload["actions"]:
        p = a.get("part", 0) if mixed else 0
        order.append((p, len(actions[p])))
        actions[p].append(_without_part(a))
    for s in steps or []:
        part_steps[s.get("part", 0) if mixed else 0].append(_without_part(s))
    parts = []
    for i, entry in enumerate(entries):
        part = get_kind(entry["kind"]).resume(entry, actions[i], None if steps is None else part_steps[i], ctx)
        if irreversible is not None:
            part.irreversible_reason = f"the operation was recorded irreversible: {irreversible}"
        parts.append(part)
    if not mixed:
        assert isinstance(parts[0], FilePart)  # the file and STAC kinds resume a FilePart
        parts[0].set_prefix("")  # files-1 keys are bare paths (as planned)
    pre: dict[str, str] = {}
    for part in parts:
        pre.update(part.pre)
    plan = OpPlan(parts, order, payload, reversal, pre, {}, mixed=mixed)
    resumed = Resumed(intent, plan, None if steps is None else dict(pre), irreversible)
    plan.post = resumed.simulated(pre)
    return resumed


__all__ = ["FORMATS", "Resumed", "recorded_by_ops", "resume"]
