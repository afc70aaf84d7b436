"""User-defined action kinds.

    register_action("reindex", execute=fn, state=fn, expect=fn, reverse=fn)   # reversible
    register_action("notify", execute=fn, state=fn, expect=fn,
                    irreversible="an e-mail cannot be unsent")                # irreversible
    run(wal, [Custom("reindex", {"index": "counties"})], ...)
    run(wal, [Custom("notify", {...})], ..., irreversible="notification sent to the data steward")

Each function takes the action's `params` (a JSON object, recorded in the payload):
- `state(params)` -> {key: digest} of what the action touches, now (the state hash covers it);
- `expect(params)` -> the same keys as the action will leave them;
- `execute(params)` does it; `reverse(params)` undoes it (must be idempotent: it may run after a
  partial execution).
An action without `reverse` must be registered with `irreversible=<reason>`, and an operation
containing it must be run with `irreversible=<reason>`: the intent then records
reversal {"irreversible": true, "reason": ...} and `undo` refuses it.

Payload action objects (mixed-1 format): {"type": "custom.<name>", "params": {...}, "part": i};
the undo of a custom action is {"type": "custom.<name>.reverse", "params": {...}, "target": pre}.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .digests import canonical_json
from .errors import PlanError
from .kinds import ActionKind, Context, Part, Reopened, prefixed, register_kind

Params = Mapping[str, Any]
StateFn = Callable[[Params], Mapping[str, str]]


@dataclass(frozen=True)
class Registered:
    name: str
    execute: Callable[[Params], Any]
    state: StateFn
    expect: StateFn
    reverse: Callable[[Params], Any] | None
    irreversible: str | None


_REGISTRY: dict[str, Registered] = {}


def register_action(
    name: str,
    *,
    execute: Callable[[Params], Any],
    state: StateFn,
    expect: StateFn,
    reverse: Callable[[Params], Any] | None = None,
    irreversible: str | None = None,
) -> Registered:
    """Register (or replace) the custom action kind `name`."""
    if not isinstance(name, str) or not name or "." in name or ":" in name:
        raise PlanError(f"custom action name {name!r}: a non-empty string without '.' or ':'")
    if reverse is None and not irreversible:
        raise PlanError(f"custom action {name!r} has no reverse function: register it with irreversible=<reason>")
    if reverse is not None and irreversible:
        raise PlanError(f"custom action {name!r}: give either reverse or irreversible, not both")
    reg = Registered(name, execute, state, expect, reverse, irreversible)
    _REGISTRY[name] = reg
    return reg


def unregister_action(name: str) -> None:
    _REGISTRY.pop(name, None)


def registered(name: str) -> Registered:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise PlanError(f"custom action {name!r} is not registered (kfm_wal.ops.register_action)") from None


@dataclass(frozen=True)
class Custom:
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomReverse:
    """The undo of a Custom action (built by `undo`): runs its `reverse`, expects `target`."""

    name: str
    params: Mapping[str, Any]
    target: Mapping[str, str]


def _params(p: Mapping[str, Any], name: str) -> dict[str, Any]:
    try:
        value = json.loads(canonical_json(dict(p)))
    except (TypeError, ValueError) as e:
        raise PlanError(f"custom action {name!r}: params must be JSON ({e})") from e
    assert isinstance(value, dict)
    return value


def _state(fn: StateFn, params: Params, name: str, what: str) -> dict[str, str]:
    got = fn(params)
    if not isinstance(got, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in got.items()):
        raise PlanError(f"custom action {name!r}: {what}() must return a mapping of str to str")
    return dict(got)


class CustomPart(Part):
    kind = "custom"
    prefix = "custom:"

    def __init__(self, actions: list[dict[str, Any]]) -> None:
        self.actions = actions
        pre: dict[str, str] = {}
        post: dict[str, str] = {}
        steps: list[dict[str, Any]] = []
        self.steps = steps
        for a in actions:
            reg, p = registered(a["name"]), a["params"]
            ns = f"{a['name']}:"
            now = prefixed(ns, _state(reg.state, p, reg.name, "state"))
            for k, v in now.items():
                pre.setdefault(k, v)
            if a["type"].endswith(".reverse"):
                post.update(prefixed(ns, a["target"]))
                steps.append({"type": f"custom.{reg.name}", "name": reg.name, "params": p})
            else:
                post.update(prefixed(ns, _state(reg.expect, p, reg.name, "expect")))
                if reg.reverse is None:
                    self.steps, self.irreversible_reason = None, f"custom.{reg.name}: {reg.irreversible}"
                elif self.steps is not None:
                    steps.append(
                        {
                            "type": f"custom.{reg.name}.reverse",
                            "name": reg.name,
                            "params": p,
                            "target": {k[len(ns) :]: v for k, v in now.items()},
                        }
                    )
        if self.steps is not None:
            self.steps = list(reversed(steps))
        self.raw_pre = pre
        self.pre, self.post = prefixed(self.prefix, pre), prefixed(self.prefix, post)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def execute(self, i: int) -> dict[str, Any]:
        a = self.actions[i]
        reg = registered(a["name"])
        if a["type"].endswith(".reverse"):
            assert reg.reverse is not None
            reg.reverse(a["params"])
        else:
            reg.execute(a["params"])
        return dict(a)

    def reverse(self, first_n: int) -> None:
        for a in reversed(self.actions[:first_n]):
            reg = registered(a["name"])
            if a["type"].endswith(".reverse"):
                reg.execute(a["params"])
            elif reg.reverse is None:
                raise PlanError(f"custom.{reg.name} cannot be reversed: {reg.irreversible}")
            else:
                reg.reverse(a["params"])

    def observe(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for a in self.actions:
            reg = registered(a["name"])
            out.update(prefixed(f"{reg.name}:", _state(reg.state, a["params"], reg.name, "state")))
        return prefixed(self.prefix, {k: out[k] for k in self.raw_pre})

    def simulate(self, state: dict[str, str], i: int) -> None:
        a = self.actions[i]
        reg = registered(a["name"])
        after = a["target"] if a["type"].endswith(".reverse") else _state(reg.expect, a["params"], reg.name, "expect")
        state.update(prefixed(f"{self.prefix}{reg.name}:", after))


class ResumedCustom(CustomPart):
    """A custom part rebuilt from a recorded intent (crash recovery): `pre` is what its reversal
    steps record, and reversing runs each recorded step whose targets are not already as
    recorded (a user's reverse may not be safe to run for an action that never ran)."""

    def __init__(self, actions: list[dict[str, Any]], steps: list[dict[str, Any]] | None) -> None:
        super().__init__(actions)
        if steps is None:  # recorded irreversible: `pre` is the current state, only its keys matter
            self.steps = None
            return
        self.steps = steps
        recorded: dict[str, str] = {}
        for s in steps:
            reg = registered(s["name"])
            recorded.update(prefixed(f"{reg.name}:", self._before(s)))
        # a key no step records has no known state before: "unknown" makes the state hash differ
        self.raw_pre = {k: recorded.get(k, "unknown") for k in self.raw_pre}
        self.pre = prefixed(self.prefix, self.raw_pre)

    @staticmethod
    def _before(step: Mapping[str, Any]) -> dict[str, str]:
        """The state a reversal step brings back: a reverse step's recorded target; for the
        undo of a reverse (the step re-runs the action) what the action leaves, `expect`."""
        reg = registered(step["name"])
        if step["type"].endswith(".reverse"):
            return dict(step["target"])
        return _state(reg.expect, step["params"], reg.name, "expect")

    def reverse(self, first_n: int) -> None:
        for s in self.steps or []:
            reg = registered(s["name"])
            want = self._before(s)
            now = _state(reg.state, s["params"], reg.name, "state")
            if all(now.get(k) == v for k, v in want.items()):
                continue
            if s["type"].endswith(".reverse"):
                if reg.reverse is None:
                    raise PlanError(f"custom.{reg.name} has no reverse function in this process")
                reg.reverse(s["params"])
            else:
                reg.execute(s["params"])


class ReopenedCustom(Reopened):
    def undo_actions(self, steps: Sequence[Mapping[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for s in steps:
            registered(s["name"])
            if s["type"].endswith(".reverse"):
                out.append(CustomReverse(s["name"], s["params"], s["target"]))
            else:
                out.append(Custom(s["name"], s["params"]))
        return out

    def target(self) -> dict[str, Any]:
        return {}


class CustomKind(ActionKind):
    name = "custom"

    def handles(self, action: object) -> bool:
        return isinstance(action, Custom | CustomReverse)

    def plan(self, actions: Sequence[Any], ctx: Context) -> Part:
        payload = []
        for a in actions:
            reg = registered(a.name)
            if isinstance(a, CustomReverse):
                if reg.reverse is None:
                    raise PlanError(f"custom.{reg.name} has no reverse function")
                payload.append(
                    {
                        "type": f"custom.{reg.name}.reverse",
                        "name": reg.name,
                        "params": _params(a.params, reg.name),
                        "target": dict(a.target),
                    }
                )
            else:
                payload.append({"type": f"custom.{reg.name}", "name": reg.name, "params": _params(a.params, reg.name)})
        return CustomPart(payload)

    def reopen(self, part: Mapping[str, Any], ctx: Context) -> Reopened:
        return ReopenedCustom()

    def resume(
        self,
        part: Mapping[str, Any],
        actions: list[dict[str, Any]],
        steps: list[dict[str, Any]] | None,
        ctx: Context,
    ) -> Part:
        return ResumedCustom(actions, steps)


register_kind(CustomKind())

__all__ = [
    "Custom",
    "CustomKind",
    "CustomReverse",
    "Registered",
    "ResumedCustom",
    "register_action",
    "unregister_action",
]
