"""Audit a data root against the log: "no unauthorized writes".

The file operations recorded in the log (payload format `kfm-wal-ops/files-1`, docs/FORMAT.md
section 4) are replayed in log order to get the state every path they touched should be in now:

- `succeeded` (undos included: an undo is a `rollback` operation of its own): each path takes
  the state the intent's `reversal.expects` names (its content digest, or "absent");
- `refused` and `reversed`: nothing changed (a reversed operation put its paths back);
- `failed` or still pending (no completion): the log cannot tell which of its actions took
  effect, so each path it touched may be in any state the operation passes through (its state
  before, after each action, or after the last); any of those is accepted.

Then every file under the data root must have exactly the expected content, a path the log left
with content must exist, and no file the log never wrote may be there. Findings:

- `tree.unexpected_state`: a file's content differs from what the log says (or the log deleted
  it and it is back);
- `tree.missing_file`: the log left content at a path and there is no file;
- `tree.unlogged_file`: a file (or symlink, or other non-directory entry) no recorded operation
  ever touched.

Ignored: the temporary files of an interrupted atomic write (`.<name>.<32 hex>.tmp`, see
`kfm_wal.ops.durable.write_atomic`; a crash can leave them, and they never replace a file), and
operations recorded for another data root. Directories are not judged (the operations create
parents and leave empty ones behind). Only the log's records are trusted: an operation whose
intent or completion was forged would need a forged signature, which `verify` catches.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .findings import Finding
from .ops.digests import ABSENT
from .ops.errors import PlanError
from .ops.files import PAYLOAD_FORMAT, simulate
from .ops.root_state import TEMP_FILE, file_tree
from .reader import Record, records

UNEXPECTED_STATE = "tree.unexpected_state"
MISSING_FILE = "tree.missing_file"
UNLOGGED_FILE = "tree.unlogged_file"


@dataclass(frozen=True)
class Expected:
    states: frozenset[str]  # accepted states: content digests and/or "absent"
    record: Record  # the completion (or intent, when pending) that set them
    wal_id: str


def _root_key(path: str | os.PathLike[str]) -> str:
    return os.path.normpath(Path(path).absolute().resolve(strict=False))


class TreeReplay:
    """Replays the file operations of a log for one data root (feed records in log order)."""

    def __init__(self, data_root: str | os.PathLike[str], recorded_root: str | os.PathLike[str] | None = None) -> None:
        self.data_root = Path(data_root)
        self._root = _root_key(recorded_root if recorded_root is not None else data_root)
        self._intents: dict[str, Record] = {}
        self.expected: dict[str, Expected] = {}

    def feed(self, record: Record) -> None:
        body = record.body
        if record.kind == "intent":
            payload = body.get("payload")
            if (
                isinstance(payload, dict)
                and payload.get("format") == PAYLOAD_FORMAT
                and isinstance(payload.get("root"), str)
                and _root_key(payload["root"]) == self._root
            ):
                self._intents[str(body["wal_id"])] = record
        elif record.kind == "completion":
            intent = self._intents.pop(str(body.get("wal_id")), None)
            if intent is not None:
                self._apply(intent, record, str(body.get("status")))

    def _apply(self, intent: Record, at: Record, status: str) -> None:
        wal_id = str(intent.body["wal_id"])
        reversal: Mapping[str, Any] = intent.body.get("reversal") or {}
        expects: Mapping[str, str] = reversal.get("expects") or {}
        if status == "succeeded":
            for path, state in expects.items():
                self.expected[path] = Expected(frozenset([state]), at, wal_id)
        elif status not in ("refused", "reversed"):  # failed, or pending (status "")
            for path, states in _passes_through(intent).items():
                known = self.expected.get(path)
                self.expected[path] = Expected(states | (known.states if known else frozenset()), at, wal_id)

    def finish(self) -> None:
        """Intents still without completion (an operation a crash interrupted)."""
        for intent in list(self._intents.values()):
            self._apply(intent, intent, "")
        self._intents.clear()

    def findings(self) -> list[Finding]:
        """Compare the data root with the replayed state (call `finish` first)."""
        out: list[Finding] = []
        actual = file_tree(self.data_root)
        for path in sorted(set(actual) | set(self.expected)):
            want, got = self.expected.get(path), actual.get(path, ABSENT)
            if want is None:
                why = f"{path}: {_describe(got)} under {self.data_root}, written by no recorded operation"
                out.append(Finding(UNLOGGED_FILE, "", 0, None, None, why))
            elif got not in want.states:
                code = MISSING_FILE if got == ABSENT else UNEXPECTED_STATE
                rec = want.record
                what = "missing" if got == ABSENT else f"found {_describe(got)}"
                out.append(
                    Finding(
                        code,
                        rec.segment,
                        rec.offset,
                        rec.seq,
                        want.wal_id,
                        f"{path}: {what}; the log expects {_states(want.states)} "
                        f"(operation {want.wal_id}, seq {rec.seq})",
                    )
                )
        return out


def _describe(state: str) -> str:
    return state if state.startswith("sha256:") or state == ABSENT else f"a {state}"


def _states(states: frozenset[str]) -> str:
    return " or ".join(sorted(states))


def _passes_through(intent: Record) -> dict[str, frozenset[str]]:
    """Every state each path of the intent may be in after a partial run."""
    reversal = intent.body.get("reversal") or {}
    state: dict[str, str] = {}
    for step in reversal.get("steps") or []:
        state[step["path"]] = step["blob"] if step["type"] == "file.restore" else ABSENT
    seen = {p: {s} for p, s in state.items()}
    for action in intent.body["payload"].get("actions") or []:
        try:
            simulate(state, action)
        except (PlanError, KeyError):
            break
        for p, s in state.items():
            seen.setdefault(p, set()).add(s)
    for p, s in (reversal.get("expects") or {}).items():
        seen.setdefault(p, set()).add(s)
    return {p: frozenset(s) for p, s in seen.items()}


def audit_tree(
    log: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    *,
    recorded_root: str | os.PathLike[str] | None = None,
) -> list[Finding]:
    """Findings for every difference between `data_root` and the state the log's file
    operations left it in. `recorded_root`: the root the operations were recorded with, when
    auditing a copy of the tree somewhere else (default: `data_root` itself)."""
    replay = TreeReplay(data_root, recorded_root)
    for record in records(log):
        replay.feed(record)
    replay.finish()
    return replay.findings()


class TreeMatchesLog:
    """`kfm_wal.verify(path, rules=[TreeMatchesLog("data/processed")])`: the audit as a rule.
    Its findings carry the rule's id; each message starts with the specific finding code."""

    id = "tree.matches_log"
    description = "every file under the data root is exactly as the log's file operations left it"

    def __init__(self, data_root: str | os.PathLike[str], recorded_root: str | os.PathLike[str] | None = None) -> None:
        self._replay = TreeReplay(data_root, recorded_root)

    def check(self, record: Record) -> Iterable[str]:
        self._replay.feed(record)
        return ()

    def finish(self) -> Iterable[tuple[Record | None, str]]:
        replay = self._replay
        replay.finish()
        for f in replay.findings():
            record = None
            if f.seq is not None:
                record = next((e.record for e in replay.expected.values() if e.record.seq == f.seq), None)
            yield record, f"{f.code}: {f.message}"


__all__ = [
    "MISSING_FILE",
    "TEMP_FILE",
    "UNEXPECTED_STATE",
    "UNLOGGED_FILE",
    "TreeMatchesLog",
    "TreeReplay",
    "audit_tree",
]
