"""Log sets: many writers, one history. Each writer keeps its own log (a *stream*, named by the
`stream` member of its segment headers, `Wal.create(..., stream=...)`); a manifest
(`kfm-wal-logset/1`, a small JSON file) lists the streams, each a log directory or an archive URL.
`verify` checks each stream and the lineage links between them; `operations` gives the set's
operations in the order `replay_set` runs them into one sandbox."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import LogSetError
from .facts import Intent, Place
from .manifest import FORMAT, LogSet, is_stream_id, load
from .order import Step, order
from .report import SET_RULES, LogSetReport, SetFinding
from .sources import has_log
from .verify import facts_of, verify

if TYPE_CHECKING:
    from ..replay.report import ReplayReport


def replay_set(manifest: str | os.PathLike[str] | LogSet, sandbox: str | os.PathLike[str]) -> ReplayReport:
    """Replay every stream's operations into one sandbox in the set's order (`replay.replay_set`;
    imported on use: replay needs the operation libraries, verification does not)."""
    from .replay import replay_set as run

    return run(manifest, sandbox)


def operations(manifest: str | os.PathLike[str] | LogSet) -> list[Step]:
    """The set's sealed intents in replay order (`order`): a linked operation after the one it
    links to, otherwise by timestamp, then stream id, then seq."""
    logset = manifest if isinstance(manifest, LogSet) else load(manifest)
    for stream, location in logset.streams.items():
        if not has_log(location):
            raise LogSetError(f"{logset.path}: stream {stream}: no kfm-wal log at {location}")
    return order(facts_of(logset, dict.fromkeys(logset.streams, True)))


__all__ = [
    "FORMAT",
    "SET_RULES",
    "Intent",
    "LogSet",
    "LogSetReport",
    "Place",
    "SetFinding",
    "Step",
    "is_stream_id",
    "load",
    "operations",
    "order",
    "replay_set",
    "verify",
]
