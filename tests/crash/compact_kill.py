"""A compaction to be killed at one of its steps. Run by tests/test_compaction_kill.py:

    python tests/crash/compact_kill.py DIR BEFORE K [drop]

plans the compaction of the log in DIR/wal before seq BEFORE and carries it out, SIGKILLing its
own process (a real death: no handler, no flush, no atexit) at the K-th step point (0: before the
checkpoint is written; then after it is durable, before each segment move, after each segment's
cold copy is durable, before each blob removal, before the completion). The steps passed are
written, one per line, to DIR/steps.txt (fsynced) so the test knows where the process died; a K
past the last step runs the compaction to its end (exit 0)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from kfm_wal import Wal, compaction, keys

# the module, not the function the package exports under the same name
compaction_apply = sys.modules["kfm_wal.compaction.apply"]


def main(d: Path, before: str, kill_at: int, drop: bool = False) -> None:
    seen = 0
    steps = open(d / "steps.txt", "a", encoding="utf-8")  # noqa: SIM115 (kept open until death)

    def step(name: str) -> None:
        nonlocal seen
        steps.write(name + "\n")
        steps.flush()
        os.fsync(steps.fileno())
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        seen += 1

    compaction_apply._step = step
    log = d / "wal"
    key = keys.load(d / "keys" / "writer.pem")
    planned = compaction.plan(log, before, cold=None if drop else "cold")  # finishes an interrupted one first
    with Wal.open(log, key) as wal:
        compaction.apply(planned, wal)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:] == ["drop"])
