"""Planning one operation: its actions grouped by kind (one part per kind), each part planned
against the current state, combined into the payload, reversal and pre/post states its intent
records (step 1 of the lifecycle in operation.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import files
from .contents import Contents
from .errors import OperationFailedError, PlanError
from .filekind import FilePart
from .kinds import MIXED_FORMAT, Context, Part, kind_of


@dataclass
class OpPlan:
    """The planned actions of one operation, over one or more parts (one per action kind)."""

    parts: list[Part]
    order: list[tuple[int, int]]  # global action index -> (part index, index in the part)
    payload: dict[str, Any]
    reversal: dict[str, Any]
    pre: dict[str, str]
    post: dict[str, str]
    mixed: bool

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [self.action(k) for k in range(len(self.order))]

    def action(self, k: int) -> dict[str, Any]:
        p, i = self.order[k]
        action = self.parts[p].actions[i]
        return {**action, "part": p} if self.mixed else action

    def execute(self, k: int) -> dict[str, Any]:
        p, i = self.order[k]
        done = self.parts[p].execute(i)
        return {**done, "part": p} if self.mixed else done

    def reverse(self, first_n: int) -> list[str]:
        """Reverse actions 0..first_n-1, part by part (latest-acting part first); returns the
        state keys of the parts reversed. Raises the first reversal failure (after trying all)."""
        counts: dict[int, int] = {}
        last: dict[int, int] = {}
        for k, (p, i) in enumerate(self.order[:first_n]):
            counts[p] = i + 1
            last[p] = k
        keys: list[str] = []
        error: Exception | None = None
        for p in sorted(counts, key=lambda q: -last[q]):
            part = self.parts[p]
            try:
                if part.steps is None:
                    raise OperationFailedError(f"{part.kind} actions cannot be reversed: {part.irreversible_reason}")
                part.reverse(counts[p])
                keys.extend(part.pre)
            except Exception as e:
                error = error or e
        if error is not None:
            raise error
        return keys

    def observe(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in self.parts:
            out.update(part.observe())
        return out

    @property
    def file_plan(self) -> files.FilePlan | None:
        part = self.parts[0] if len(self.parts) == 1 else None
        return part.plan if isinstance(part, FilePart) and not self.mixed else None


def plan_actions(actions: Sequence[Any], ctx: Context, irreversible: str | None) -> OpPlan:
    """Group the actions by kind (first-appearance order), plan each group, combine."""
    if not actions:
        raise PlanError("an operation needs at least one action")
    # This operation's contents: inline in its payload when small (contents.py), else blobs.
    contents = Contents(ctx.blobs, ctx.inline_budget)
    ctx = dataclasses.replace(ctx, contents=contents)
    kinds = [kind_of(a) for a in actions]
    names = list(dict.fromkeys(k.name for k in kinds))
    by_kind = {k.name: k for k in kinds}
    parts = [by_kind[n].plan([a for a, k in zip(actions, kinds, strict=True) if k.name == n], ctx) for n in names]
    # payload action order: each planned action expands to its part's next `groups[j]` actions
    order: list[tuple[int, int]] = []
    seen = [0] * len(names)  # planned actions of each part so far
    used = [0] * len(names)  # payload actions of each part so far
    for k in kinds:
        p = names.index(k.name)
        groups = parts[p].groups
        n = 1 if groups is None else groups[seen[p]]
        order.extend((p, used[p] + i) for i in range(n))
        seen[p] += 1
        used[p] += n
    pre: dict[str, str] = {}
    post: dict[str, str] = {}
    for part in parts:
        pre.update(part.pre)
        post.update(part.post)
    blocked = [p for p in parts if p.steps is None]
    if blocked and not irreversible:
        raise PlanError(
            f"{blocked[0].kind} actions have no reversal ({blocked[0].irreversible_reason}): declare the operation "
            'irreversible (irreversible="reason"), which records reversal {"irreversible": true, "reason": ...}'
        )
    single_file = len(parts) == 1 and isinstance(parts[0], FilePart) and not irreversible
    if single_file:
        part = parts[0]
        assert isinstance(part, FilePart)
        part.set_prefix("")
        payload: dict[str, Any] = {
            "format": files.PAYLOAD_FORMAT,
            "root": str(part.plan.root.path),
            "actions": part.actions,
        }
        stac = getattr(part, "stac_objects", None)
        if stac is not None:
            payload["stac"] = stac
        # `expects` is the state the steps undo (the post state per path): undo checks it first.
        if contents.inline:
            payload["inline"] = contents.recorded()
        plan = OpPlan(
            parts,
            order,
            payload,
            {"steps": part.steps, "expects": part.plan.post},
            part.plan.pre,
            part.plan.post,
            mixed=False,
        )
        return plan
    plan = OpPlan(parts, order, {}, {}, pre, post, mixed=True)
    plan.payload = {"format": MIXED_FORMAT, "parts": [p.describe() for p in parts], "actions": plan.actions}
    for p, part in enumerate(parts):
        extra = getattr(part, "payload_extra", None)
        if extra:
            plan.payload["parts"][p].update(extra)
    if contents.inline:
        plan.payload["inline"] = contents.recorded()
    if irreversible:
        plan.reversal = {"irreversible": True, "reason": irreversible}
    else:
        steps = [{**s, "part": p} for p, part in reversed(list(enumerate(parts))) for s in part.steps or []]
        plan.reversal = {"steps": steps, "expects": post}
    return plan


__all__ = ["OpPlan", "plan_actions"]
