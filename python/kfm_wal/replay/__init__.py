"""Deterministic replay: re-execute the logged operations in a sandbox, from the intents'
payloads and the blob store, halting at the first state that differs from what the log records.

    from kfm_wal import replay
    report = replay.replay("data/wal", "sandbox")          # into an empty sandbox
    report = replay.replay("data/wal", "sandbox", end=120, until_failure=True)
    report = replay.check("data/wal")                      # CI: the real roots equal the replay?
    report = replay.checkout("data/wal", "WAL_ID", "out")  # the roots as they were right after it

Modules: `selection` (verify the log, resolve the range, collect the operations, check custom
actions), `sandbox` (the sandbox's roots), `executor` (one operation, with its state checks),
`runner` (replay, check, checkout), `report` (the report, the mismatch, the errors). The per-kind
digests of whole roots are `kfm_wal.ops.root_state`'s."""

from __future__ import annotations

from .report import Divergence, Mismatch, ReplayError, ReplayReport
from .runner import check, checkout, replay
from .sandbox import Sandbox

__all__ = ["Divergence", "Mismatch", "ReplayError", "ReplayReport", "Sandbox", "check", "checkout", "replay"]
