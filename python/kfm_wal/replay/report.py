"""What a replay found: the first mismatch that halted it, the operations it replayed, reported
(pending) or skipped, the comparison of `--check`, and the errors that stop it before it starts
or at an operation whose recorded contents cannot be read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import WalError


class ReplayError(WalError):
    """The replay cannot be done as asked: the log fails validation, a blob an operation needs is
    missing or corrupt, a custom action is not registered, the sandbox is not usable. Nothing of
    the operation it names was executed; the log and the real roots were not touched."""

    seq: int | None = None
    wal_id: str | None = None


@dataclass(frozen=True)
class Mismatch:
    """The first state that differs from what the log records: the replay halts there."""

    seq: int  # of the intent
    wal_id: str
    operation: str
    stage: str  # "pre", "post", "observed" (completion's post_state_hash), "refused", "failed"
    target: str | None  # the first state key that differs, when the log says which
    expected: str  # the recorded hash
    actual: str  # the hash the sandbox gives
    expected_state: str | None = None  # of `target`
    actual_state: str | None = None

    def message(self) -> str:
        what = {
            "pre": "before the operation the targets are not in its pre_state_hash",
            "post": "after the operation the targets are not in its post_state_expected",
            "observed": "after the operation the targets are not in the state its completion observed",
            "refused": "the targets are not in the state its refusal observed",
            "failed": "no prefix of its actions reaches the state its failure left",
        }[self.stage]
        at = f"; first differing target {self.target}: expected {self.expected_state}, found {self.actual_state}"
        return (
            f"operation {self.wal_id} ({self.operation}, seq {self.seq}): {what}: expected {self.expected}, "
            f"found {self.actual}" + (at if self.target is not None else "")
        )


@dataclass(frozen=True)
class Divergence:
    """`--check`: the first real root whose final state differs from the sandbox's."""

    kind: str  # "file" or "graph"
    root: str  # the real root, as recorded
    sandbox: str  # its counterpart in the sandbox
    expected: str  # the sandbox's digest (what the log says)
    actual: str  # the real root's digest
    target: str | None  # first key that differs
    expected_state: str | None
    actual_state: str | None

    def message(self) -> str:
        return (
            f"{self.kind} root {self.root} diverges from the log's replay: digest {self.actual}, replay gives "
            f"{self.expected}; first divergent target {self.target}: the log says {self.expected_state}, "
            f"found {self.actual_state}"
        )


@dataclass
class ReplayReport:
    log: str
    sandbox: str
    from_seq: int | None = None
    to_seq: int | None = None
    last_seq: int | None = None  # the last record the replay got through
    roots: list[dict[str, str]] = field(default_factory=list)  # recorded root -> sandbox dir
    replayed: dict[str, int] = field(default_factory=dict)  # by completion status
    pending: list[dict[str, Any]] = field(default_factory=list)  # reported, not executed
    skipped: list[dict[str, Any]] = field(default_factory=list)  # intents not recorded by kfm_wal.ops
    halted: Mismatch | None = None
    quarantined: list[str] = field(default_factory=list)
    stopped_before: int | None = None  # seq of the first damaged record (with quarantine)
    damage: str | None = None
    digests: dict[str, str] = field(default_factory=dict)  # sandbox dir -> digest of its final state
    checked: bool = False
    divergence: Divergence | None = None
    kept: bool = True  # the sandbox is still there

    @property
    def ok(self) -> bool:
        return self.halted is None and self.stopped_before is None and self.divergence is None

    @property
    def operations(self) -> int:
        return sum(self.replayed.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["operations"] = self.operations
        if self.halted is not None:
            out["halted"]["message"] = self.halted.message()
        if self.divergence is not None:
            out["divergence"]["message"] = self.divergence.message()
        return out


__all__ = ["Divergence", "Mismatch", "ReplayError", "ReplayReport"]
