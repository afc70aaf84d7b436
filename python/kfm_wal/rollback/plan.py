"""The rollback plan: every operation completed after the target, newest first, and what
reversing each does; built only after an audit of the roots against the log.

What each operation in the range becomes:
- a succeeded operation recorded by kfm_wal.ops (files-1, mixed-1; undos included): "reverse",
  from its reversal steps and before-images (`kfm_wal.ops.undo`);
- a snapshot record, a rollback record (kfm-wal-rollback/1), a reversed or refused operation:
  "skip" (it left no change of its own);
- a succeeded irreversible operation whose parts write no root (custom actions only): "cross",
  left in place, which the rollback's approvers must sign (governance.irreversible);
refused before anything is recorded: an irreversible operation that wrote a root, a failed
operation (its partial effect has no recorded reversal), a pending one (settle it first), and any
succeeded operation not recorded by kfm_wal.ops (it has no reversal a program can run)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ops import files
from ..ops.kinds import MIXED_FORMAT
from ..reader import Record, records
from ..snapshots import Root, digests, is_snapshot_intent, keyed, roots_of
from ..snapshots.audit import audit as audit_roots
from ..snapshots.roots import recorded_roots
from .describe import reversal_texts
from .errors import refused
from .target import Target, expected_digests, resolve, written_roots

FORMAT = "kfm-wal-rollback/1"
OPS_FORMATS = (files.PAYLOAD_FORMAT, MIXED_FORMAT)


@dataclass(frozen=True)
class Step:
    wal_id: str
    operation: str
    seq: int  # of the intent
    completed: int | None  # seq of the completion
    status: str | None
    action: str  # "reverse", "skip" or "cross"
    what: list[str]  # the reversal, step by step; or why it is skipped or crossed
    care: str = "public"  # the operation's CARE label

    def as_dict(self) -> dict[str, Any]:
        return {
            "wal_id": self.wal_id,
            "operation": self.operation,
            "seq": self.seq,
            "completed_seq": self.completed,
            "status": self.status,
            "action": self.action,
            "what": self.what,
        }


@dataclass
class Plan:
    log: Path
    target: Target
    steps: list[Step]  # every operation completed after the target, newest first
    roots: list[Root]
    current: dict[str, str]  # {root key: digest} now
    expected: dict[str, str]  # {root key: digest} after the rollback
    audited: int = 0  # operations the audit replayed
    notes: list[str] = field(default_factory=list)

    @property
    def reversals(self) -> list[Step]:
        return [s for s in self.steps if s.action == "reverse"]

    @property
    def crossed(self) -> list[Step]:
        return [s for s in self.steps if s.action == "cross"]

    def actions(self) -> list[dict[str, Any]]:
        """The rollback intent's payload actions (what its approvers sign, via actions_digest)."""
        out: list[dict[str, Any]] = []
        for s in self.steps:
            if s.action == "reverse":
                out.append({"type": "rollback.undo", "wal_id": s.wal_id})
            elif s.action == "cross":
                out.append({"type": "rollback.leave", "wal_id": s.wal_id})
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "log": str(self.log),
            "to": self.target.given,
            "target": self.target.label,
            "point": self.target.point,
            "snapshot": self.target.snapshot.name if self.target.snapshot else None,
            "audited_operations": self.audited,
            "reverse": len(self.reversals),
            "cross": len(self.crossed),
            "steps": [s.as_dict() for s in self.steps],
            "roots": [
                {"key": r.key, "role": r.role, "now": self.current.get(r.key), "after": self.expected.get(r.key)}
                for r in self.roots
            ],
        }


def audit(log: Path) -> int:
    """Refuse unless the real roots equal the log's replay (a write around the log); returns the
    operations replayed."""
    found = audit_roots(log)
    if found.problem is not None:
        what = "a target was changed around the log" if found.around else "the log cannot be trusted"
        raise refused(f"{what} (audit before rollback): {found.problem}")
    return found.operations


def _rollback_record(body: dict[str, Any]) -> bool:
    payload = body.get("payload")
    return isinstance(payload, dict) and payload.get("format") == FORMAT


def classify(intent: Record, completion: Record | None, target: Target) -> Step:
    body = intent.body
    wal_id, op = str(body["wal_id"]), str(body.get("operation"))
    done = None if completion is None else completion.seq
    status = None if completion is None else str(completion.body.get("status"))
    at = f"operation {wal_id} ({op}, seq {intent.seq})"

    governance = body.get("governance")
    care = str(governance.get("care", "public")) if isinstance(governance, dict) else "public"

    def step(action: str, what: list[str]) -> Step:
        return Step(wal_id, op, intent.seq, done, status, action, what, care)

    if is_snapshot_intent(body):
        return step("skip", ["snapshot record: changes no data"])
    if _rollback_record(body):
        return step("skip", ["rollback record: its undo operations are listed on their own"])
    if status in ("reversed", "refused"):
        return step("skip", [f"{status}: left no change"])
    if status is None:
        raise refused(f"{at} is pending (no completion): settle it first (kfm_wal.ops.recover)", seq=intent.seq)
    if status != "succeeded":
        raise refused(
            f"{at} {status}: what it left has no recorded reversal; put it right by hand first", seq=intent.seq
        )
    payload, reversal = body.get("payload"), body.get("reversal")
    if not isinstance(payload, dict) or payload.get("format") not in OPS_FORMATS:
        raise refused(f"{at} was not recorded by kfm_wal.ops: it has no reversal a rollback can run", seq=intent.seq)
    if isinstance(reversal, dict) and reversal.get("irreversible") is True:
        why = reversal.get("reason")
        wrote = recorded_roots(body)
        if wrote:
            raise refused(
                f"{at} is irreversible ({why}) and wrote {wrote[0].path}: no rollback can restore "
                f"{target.label}; compensate it with a new operation",
                seq=intent.seq,
            )
        return step("cross", [f"irreversible ({why}): left in place; it wrote no root"])
    return step("reverse", reversal_texts(body))


def _not_past_compaction(log: Path, target: Target) -> None:
    """A rollback stops at the latest compaction: what came before it is not in the log."""
    from ..compaction.point import compaction_point

    point = compaction_point(log)
    if point is not None and target.point < point.last_seq:
        raise refused(
            f"{target.label} (seq {target.point}) is past the compaction point: {point.message()}; "
            f"a rollback can go back to seq {point.last_seq} at most"
        )


def build(log: str | os.PathLike[str], to: str | int, *, check_roots: bool = True) -> Plan:
    """The plan of a rollback of the log at `log` to `to` (snapshot name, wal_id or seq).
    `check_roots`: audit the roots against the log first (a rollback always does)."""
    log = Path(log)
    intents: dict[str, Record] = {}
    completions: dict[str, Record] = {}
    head = 0
    for r in records(log):
        head = r.seq
        if r.kind == "intent":
            intents.setdefault(str(r.wal_id), r)
        elif r.kind == "completion":
            completions.setdefault(str(r.wal_id), r)
    target = resolve(log, to, intents, completions, head)
    _not_past_compaction(log, target)
    audited = audit(log) if check_roots else 0
    roots = roots_of(log, [d.root for d in target.snapshot.roots] if target.snapshot else ())
    current = keyed(digests(roots, log))
    expected = expected_digests(log, target, roots, current)
    written = written_roots(log)
    for root in roots:
        if root.key in expected and (root.kind, root.path) not in written and current[root.key] != expected[root.key]:
            raise refused(
                f"a target was changed around the log: {root.role} root {root.path} has digest "
                f"{current[root.key]}, {target.label} recorded {expected[root.key]}, and no operation of the log "
                "writes there"
            )
    in_range = []
    for wal_id, intent in intents.items():
        completion = completions.get(wal_id)
        last = completion.seq if completion is not None else intent.seq
        if last > target.point:
            in_range.append((last, intent.seq, intent, completion))
    in_range.sort(key=lambda t: (t[0], t[1]), reverse=True)
    steps = [classify(intent, completion, target) for _, _, intent, completion in in_range]
    return Plan(log, target, steps, roots, current, expected, audited)


__all__ = ["FORMAT", "Plan", "Step", "audit", "build", "classify"]
