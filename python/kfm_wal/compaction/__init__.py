"""Compaction (`kfm-wal compact`): moving a log's oldest closed segments out of it, after a
checkpoint record that keeps what the rest of the log needs of them (the chain head at the cut,
every seal, the intents pending there, the state digests of a snapshot); then removing the blobs
nothing retained references. docs/FORMAT.md 6.10 says how a verifier accepts the compacted log."""

from __future__ import annotations

from . import seal_list
from .apply import Outcome, apply, unfinished
from .continuity import receipt_continuity
from .errors import CompactionError
from .plan import DEFAULT_COLD, Plan, plan, resume_plan, validated
from .point import CompactionPoint, compaction_point
from .record import Checkpoint, checkpoints

__all__ = [
    "DEFAULT_COLD",
    "Checkpoint",
    "CompactionPoint",
    "CompactionError",
    "Outcome",
    "Plan",
    "apply",
    "checkpoints",
    "compaction_point",
    "plan",
    "receipt_continuity",
    "resume_plan",
    "seal_list",
    "unfinished",
    "validated",
]
