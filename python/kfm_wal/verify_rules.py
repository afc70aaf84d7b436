"""Operation-level validation rules: checks that need the meaning of records, not just their
bytes (reversal steps present, payload matches the executed action, CARE metadata, approvals,
unauthorized writes). A rule sees every sealed record, decoded, in log order, and reports findings
under its own id; `kfm_wal.verify(path, rules=[...])` runs them after the core's rules and puts
their findings in the same report.

    class NoTierThreeOnFriday:
        id = "policy.no_friday_tier3"
        description = "..."
        def check(self, record): ...      # yields (message) strings
        def finish(self): ...             # yields (record or None, message) at the end, or
                                          # (record or None, message, target): see Finding.target
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from .findings import Finding
from .reader import Record, records

# What `Rule.finish` yields: (record or None, message), optionally with a target (Finding.target).
Finished = tuple[Record | None, str] | tuple[Record | None, str, dict[str, Any] | None]


@runtime_checkable
class Rule(Protocol):
    id: str
    description: str

    def check(self, record: Record) -> Iterable[str]: ...

    def finish(self) -> Iterable[Finished]: ...


class RecordRule:
    """Base for rules that look at one record at a time and keep no state."""

    id = "rule"
    description = ""

    def check(self, record: Record) -> Iterable[str]:
        return ()

    def finish(self) -> Iterable[tuple[Record | None, str]]:
        return ()


class IntentRule(RecordRule):
    """Base for rules that judge each intent on its own (`check_intent`); completions pass."""

    def check(self, record: Record) -> Iterable[str]:
        return self.check_intent(record) if record.kind == "intent" else ()

    def check_intent(self, record: Record) -> Iterable[str]:
        return ()


class ReversalStepsPresent(IntentRule):
    """Every reversible intent carries concrete reversal steps (the seed's validation list)."""

    id = "ops.reversal_present"
    description = "reversible operations carry reversal steps"

    def check_intent(self, record: Record) -> Iterable[str]:
        reversal = record.body.get("reversal")
        if not isinstance(reversal, dict):
            yield "intent has no reversal"
        elif not reversal.get("irreversible") and not reversal.get("steps"):
            yield "reversible intent without reversal steps"


def _finding(rule: Rule, record: Record | None, message: str, target: dict[str, Any] | None = None) -> Finding:
    if record is None:
        return Finding(rule.id, "", 0, None, None, message, target)
    return Finding(rule.id, record.segment, record.offset, record.seq, record.wal_id, message, target)


def run_rules(
    path: str | os.PathLike[str], rules: Sequence[Rule], *, start_seq: int | None = None
) -> Iterator[Finding]:
    """Run `rules` over the sealed records of the log at `path` in one pass. From `start_seq` on
    (an incremental run); a rule with `whole_log = True` (one that judges the state the whole log
    leaves, like the tree audit) also reads the records before it, and reports nothing on them."""
    history = [r for r in rules if getattr(r, "whole_log", False)] if start_seq is not None else []
    for record in records(path, start_seq=None if history else start_seq):
        if start_seq is not None and record.seq < start_seq:
            for rule in history:
                for _ in rule.check(record):
                    pass  # vouched for by the receipt: only the rule's state needs the record
            continue
        for rule in rules:
            for message in rule.check(record):
                yield _finding(rule, record, message)
    for rule in rules:
        for found in rule.finish():
            yield _finding(rule, *found)


__all__ = ["IntentRule", "RecordRule", "ReversalStepsPresent", "Rule", "run_rules"]
