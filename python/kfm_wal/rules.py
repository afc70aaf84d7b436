"""Kept for the public name `kfm_wal.rules.Rule` (README): the operation-level verify rules are in
`kfm_wal.verify_rules`."""

from .verify_rules import RecordRule, ReversalStepsPresent, Rule, run_rules

__all__ = ["RecordRule", "ReversalStepsPresent", "Rule", "run_rules"]
