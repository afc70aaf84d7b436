"""File actions as an action kind (`file`): a `Part` over a `files.FilePlan`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import files
from .blobs import BlobStore
from .contents import Contents
from .digests import ABSENT
from .errors import PlanError
from .kinds import ActionKind, Context, Part, Reopened, prefixed, register_kind
from .paths import DEFAULT_ROOT, FileRoot


def file_root(where: Any, default: str = DEFAULT_ROOT) -> FileRoot:
    return where if isinstance(where, FileRoot) else FileRoot(where if where is not None else default)


def context_root(ctx: Context, where: Any, default: str = DEFAULT_ROOT) -> FileRoot:
    """`file_root`, resolved (and created) once per context, i.e. once per run or run_batch
    instead of once per planned operation."""
    if isinstance(where, FileRoot):
        return where
    key = (where, default)
    try:
        cached = ctx.roots.get(key)
    except TypeError:  # an unhashable path-like: not cached
        return file_root(where, default)
    if cached is None:
        cached = ctx.roots[key] = file_root(where, default)
    assert isinstance(cached, FileRoot)
    return cached


def planned_contents(ctx: Context) -> Contents:
    """Where the operation being planned keeps its contents (all blobs without an operation's)."""
    return ctx.contents if ctx.contents is not None else Contents(ctx.blobs)


def recorded_contents(ctx: Context) -> Contents | BlobStore:
    """Where the recorded operation being undone keeps its contents."""
    return ctx.contents if ctx.contents is not None else ctx.blobs


class FilePart(Part):
    kind = "file"

    def __init__(self, plan: files.FilePlan, blobs: BlobStore, prefix: str = "") -> None:
        self.plan, self.blobs = plan, blobs
        self.actions = plan.actions
        self.steps = plan.steps
        self.set_prefix(prefix)

    def set_prefix(self, prefix: str) -> None:
        """State keys are `prefix + path` ("" in a files-1 operation, where keys are bare paths)."""
        self.prefix = prefix
        self.pre, self.post = prefixed(prefix, self.plan.pre), prefixed(prefix, self.plan.post)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "root": str(self.plan.root.path)}

    def execute(self, i: int) -> dict[str, Any]:
        return files.execute(self.plan.root, self.plan.actions[i], self.plan.data)

    def reverse(self, first_n: int) -> None:
        source = self.plan.contents if self.plan.contents is not None else self.blobs
        files.apply_steps(self.plan.root, source, self.plan.steps_for(first_n))

    def observe(self) -> dict[str, str]:
        return prefixed(self.prefix, self.plan.root.observe(self.plan.pre))

    def simulate(self, state: dict[str, str], i: int) -> None:
        action = self.plan.actions[i]
        raw = {p: state[self.prefix + p] for p in files.targets(action)}
        files.simulate(raw, action)
        state.update(prefixed(self.prefix, raw))

    def prefetch(self, execute: bool) -> None:
        source = self.plan.contents if self.plan.contents is not None else self.blobs
        for step in self.plan.steps:
            if step["type"] == "file.restore":
                source.get(step["blob"])
        if execute:
            for action in self.plan.actions:
                if action["type"] == "file.write" and action["blob"] not in self.plan.data:
                    self.plan.data[action["blob"]] = source.get(action["blob"])


class ReopenedFiles(Reopened):
    def __init__(self, root: FileRoot, source: Contents | BlobStore, prefix: str, context_key: str) -> None:
        """`source`: the recorded operation's contents (its payload.inline, then the blob store)."""
        self.root, self.source, self.prefix, self.context_key = root, source, prefix, context_key

    def undo_actions(self, steps: Sequence[Mapping[str, Any]]) -> list[Any]:
        return [
            files.Write(s["path"], self.source.get(s["blob"]))
            if s["type"] == "file.restore"
            else files.Delete(s["path"])
            for s in steps
        ]

    def target(self) -> dict[str, Any]:
        return {self.context_key: self.root}


def file_prefix(kind: str, root: FileRoot) -> str:
    return f"{kind}:{root.path}:"


def resume_files(
    part: Mapping[str, Any], actions: list[dict[str, Any]], steps: list[dict[str, Any]] | None, ctx: Context
) -> files.FilePlan:
    """The FilePlan of a recorded file (or STAC) part: `part["root"]` (a path, or a FileRoot
    standing in for it), its payload actions, and `pre` from its reversal steps."""
    root = context_root(ctx, part["root"])  # once per recovery, not once per operation
    touched = [files.targets(a) for a in actions]
    order = list(dict.fromkeys(p for paths in touched for p in paths))
    if steps is None:  # recorded irreversible: no before-images; only the keys of `pre` matter
        pre = root.observe(order)
    else:
        pre = {s["path"]: s["blob"] if s["type"] == "file.restore" else ABSENT for s in steps}
        missing = [p for p in order if p not in pre]
        if missing:
            raise PlanError(f"the reversal steps do not record the state before of {missing[0]!r}")
    post = dict(pre)
    for action in actions:
        files.simulate(post, action)
    source = ctx.contents if ctx.contents is not None else Contents(ctx.blobs)
    return files.FilePlan(root, actions, pre, post, list(steps or []), touched, {}, source)


def recorded_prefix(kind: str, part: Mapping[str, Any]) -> str:
    """The state-key prefix of a recorded part: its recorded root, whatever stands in for it."""
    where = part.get("recorded", part["root"])
    return file_prefix(kind, where) if isinstance(where, FileRoot) else f"{kind}:{where}:"


class FileKind(ActionKind):
    name = "file"

    def handles(self, action: object) -> bool:
        return isinstance(action, files.Write | files.Delete | files.Move)

    def plan(self, actions: Sequence[Any], ctx: Context) -> Part:
        root = context_root(ctx, ctx.root)
        return FilePart(files.plan(root, planned_contents(ctx), actions), ctx.blobs, file_prefix(self.name, root))

    def reopen(self, part: Mapping[str, Any], ctx: Context) -> Reopened:
        root = file_root(part["root"])
        return ReopenedFiles(root, recorded_contents(ctx), file_prefix(self.name, root), "root")

    def resume(
        self,
        part: Mapping[str, Any],
        actions: list[dict[str, Any]],
        steps: list[dict[str, Any]] | None,
        ctx: Context,
    ) -> Part:
        resumed = FilePart(resume_files(part, actions, steps, ctx), ctx.blobs, recorded_prefix(self.name, part))
        resumed.steps = None if steps is None else resumed.plan.steps
        return resumed


register_kind(FileKind())

__all__ = [
    "FileKind",
    "FilePart",
    "ReopenedFiles",
    "context_root",
    "file_prefix",
    "file_root",
    "planned_contents",
    "recorded_contents",
    "recorded_prefix",
    "resume_files",
]
