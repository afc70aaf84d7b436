"""Action kinds: the registry that lets one operation mix files, STAC objects, graph triples and
user-defined actions.

Every kind plans the actions of an operation that belong to it into a `Part`: the payload action
objects it records, the state of what they touch before (`pre`) and after (`post`) as
{state key: digest}, its reversal steps (None when it cannot be reversed), and how to execute one
action, reverse the first n, and observe the current state. The operation combines the parts:
pre_state_hash / post_state_expected are `state_hash` of the union of the parts' states.

Payload formats:
- `kfm-wal-ops/files-1` (files.PAYLOAD_FORMAT): only file actions, or only STAC actions (which
  are file writes/deletes under the STAC root, listed in `payload.stac`). Unchanged, so audit,
  lineage, recovery and undo keep working on them.
- `kfm-wal-ops/mixed-1` (MIXED_FORMAT): anything else. `payload.parts` lists the parts
  ({"kind": "file", "root": R}, {"kind": "graph", "store": S}, {"kind": "custom"}), each payload
  action and reversal step names its part by index (`"part": i`), and state keys are
  `<kind>:<part locator>:<key>` so they do not depend on the order of the parts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .blobs import BlobStore
from .contents import Contents
from .errors import PlanError

MIXED_FORMAT = "kfm-wal-ops/mixed-1"


@dataclass
class Context:
    """Where the kinds act: blob store, and the roots the caller chose (None = the kind's default)."""

    blobs: BlobStore
    root: Any = None  # file root (FileRoot | path | None)
    stac_root: Any = None
    graph: Any = None  # graph store (GraphStore | path | None)
    inline_budget: int = 0  # bytes of contents one operation may carry in its intent (contents.py)
    # Planning: the contents of the operation being planned (one per operation, set by the
    # operation). Undo: the contents of the recorded operation its parts are reopened from.
    contents: Contents | None = None
    # roots resolved once for all the operations planned with this context (filekind.context_root)
    roots: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)


class Part(ABC):
    """The planned actions of one kind in one operation."""

    kind: str
    actions: list[dict[str, Any]]  # payload action objects, in the part's order
    pre: dict[str, str]
    post: dict[str, str]
    steps: list[dict[str, Any]] | None  # reversal steps; None: irreversible
    irreversible_reason: str | None = None
    groups: list[int] | None = None  # payload actions per planned action (None: one each)

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The part's entry in payload.parts (kind and locator)."""

    @abstractmethod
    def execute(self, i: int) -> dict[str, Any]:
        """Run action i atomically; returns the action as executed (for executed_digest)."""

    @abstractmethod
    def reverse(self, first_n: int) -> None:
        """Bring what actions 0..first_n-1 touched back to `pre` (idempotent); raises if it cannot."""

    @abstractmethod
    def observe(self) -> dict[str, str]:
        """The current state of the keys in `pre`."""

    # Recovery (ops/recover*.py) works on parts rebuilt from a recorded intent (`ActionKind.resume`);
    # these two have defaults so that a kind that cannot be resumed need not implement them.

    def simulate(self, state: dict[str, str], i: int) -> None:
        """Apply the effect of action i to `state` (keyed like `pre`), without running it."""
        raise NotImplementedError(f"{self.kind} actions cannot be simulated")

    def prefetch(self, execute: bool) -> None:  # noqa: B027 - optional: most kinds need nothing fetched
        """Read (and check) now every content that reversing the actions, and with `execute`
        running them, needs: a missing content is found before anything changes."""


class Reopened(ABC):
    """A part of a recorded mixed operation, reopened from its payload entry for undo."""

    @abstractmethod
    def undo_actions(self, steps: Sequence[Mapping[str, Any]]) -> list[Any]:
        """User-level actions that carry out the recorded reversal `steps` (as a new operation)."""

    @abstractmethod
    def target(self) -> dict[str, Any]:
        """Context overrides (root / stac_root / graph) that make the undo act on the same store."""


class ActionKind(ABC):
    name: str

    @abstractmethod
    def handles(self, action: object) -> bool: ...

    @abstractmethod
    def plan(self, actions: Sequence[Any], ctx: Context) -> Part: ...

    @abstractmethod
    def reopen(self, part: Mapping[str, Any], ctx: Context) -> Reopened: ...

    def resume(
        self,
        part: Mapping[str, Any],
        actions: list[dict[str, Any]],
        steps: list[dict[str, Any]] | None,
        ctx: Context,
    ) -> Part:
        """The part of a recorded operation, rebuilt from its payload entry (`part`), its payload
        actions and its reversal steps (None: the operation was recorded irreversible) to observe,
        simulate, execute and reverse what it recorded (crash recovery). `pre` is the state the
        steps record before the operation (when there are none: the current state; only its keys
        matter then). The state keys are those of the intent."""
        raise PlanError(f"action kind {self.name!r} cannot resume a recorded operation (no resume())")


_KINDS: dict[str, ActionKind] = {}


def register_kind(kind: ActionKind) -> ActionKind:
    """Add (or replace) an action kind in the registry."""
    _KINDS[kind.name] = kind
    return kind


def kind_of(action: object) -> ActionKind:
    for kind in _KINDS.values():
        if kind.handles(action):
            return kind
    raise PlanError(f"unknown action {action!r}: no registered action kind handles it")


def get_kind(name: str) -> ActionKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise PlanError(f"unknown action kind {name!r}") from None


def prefixed(prefix: str, state: Mapping[str, str]) -> dict[str, str]:
    return {prefix + k: v for k, v in state.items()}


def unprefixed(prefix: str, state: Mapping[str, str]) -> dict[str, str]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


__all__ = [
    "MIXED_FORMAT",
    "ActionKind",
    "Context",
    "Part",
    "Reopened",
    "get_kind",
    "kind_of",
    "prefixed",
    "register_kind",
    "unprefixed",
]
