"""Verify a log set: every stream as `kfm-wal validate` verifies one log, then what only the set
can tell (docs/VERIFY.md, "Log sets"): each stream's headers name it, no log is two streams, and
every `wal:<id>` lineage link that leaves its stream lands on an intent of another stream that was
sealed before the linking intent's time."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence

from ..errors import WalError
from ..findings import VerifyReport
from ..keys import Keyring
from ..reader import Record
from .facts import StreamFacts, gather
from .manifest import LogSet, load
from .report import LogSetReport, SetFinding
from .sources import stream_records, verify_stream


def _readable(records: Iterator[Record]) -> Iterator[Record]:
    """The records up to the first a reader refuses: damage is its stream's own finding already."""
    try:
        yield from records
    except WalError:
        return


def facts_of(logset: LogSet, reports: Mapping[str, object]) -> dict[str, StreamFacts]:
    """Each present stream's facts (read from its sealed records)."""
    return {s: gather(_readable(stream_records(loc))) for s, loc in logset.streams.items() if reports[s] is not None}


def verify(manifest: str | os.PathLike[str] | LogSet, keyring: Keyring | Sequence[str] | None = None) -> LogSetReport:
    """Verify the log set a manifest names (a path, or a loaded `LogSet`). A manifest that cannot
    be used raises LogSetError; everything wrong with the logs is a finding."""
    logset = manifest if isinstance(manifest, LogSet) else load(manifest)
    reports = {s: verify_stream(loc, keyring) for s, loc in logset.streams.items()}
    found: list[SetFinding] = []
    for stream, report in reports.items():
        if report is None:
            where = logset.streams[stream]
            found.append(SetFinding("set.stream_missing", stream, "", 0, None, None, f"no kfm-wal log at {where}"))
    found += _repeated_logs(reports)
    facts = facts_of(logset, reports)
    found += _stream_ids(facts)
    found += _links(facts)
    return LogSetReport(logset.path, dict(logset.streams), dict(reports), found)


def _repeated_logs(reports: Mapping[str, VerifyReport | None]) -> list[SetFinding]:
    first: dict[str, str] = {}
    out = []
    for stream, report in reports.items():
        log_id = report.log_id if report is not None else None
        if log_id is None:
            continue
        if log_id in first:
            msg = f"stream {stream} is the log of stream {first[log_id]} (log_id {log_id})"
            out.append(SetFinding("set.log_repeated", stream, "", 0, None, None, msg))
        else:
            first[log_id] = stream
    return out


def _stream_ids(facts: dict[str, StreamFacts]) -> list[SetFinding]:
    out = []
    for stream, f in facts.items():
        for place, named in f.headers:
            if named != stream:
                said = "no stream" if named is None else f"stream {named!r}"
                msg = f"the header names {said}; the manifest lists this log as stream {stream!r}"
                out.append(SetFinding("set.stream_mismatch", stream, place.segment, place.offset, place.seq, None, msg))
    return out


def _links(facts: dict[str, StreamFacts]) -> list[SetFinding]:
    out = []
    for stream, f in facts.items():
        for intent in f.intents:
            for target in intent.links:
                if target in f.by_id:
                    continue  # a link inside its stream: the stream's own history
                hit = next(((s, o.by_id[target]) for s, o in facts.items() if s != stream and target in o.by_id), None)
                p = intent.place
                if hit is None:
                    msg = f"lineage link wal:{target} names no sealed intent of any stream of the set"
                    out.append(SetFinding("set.link_missing", stream, p.segment, p.offset, p.seq, intent.wal_id, msg))
                elif not hit[1].sealed_at < intent.timestamp:
                    other, linked = hit
                    msg = (
                        f"lineage link wal:{target} names an intent of stream {other} (seq {linked.place.seq}) "
                        f"sealed at {linked.sealed_at}, not before this intent's time {intent.timestamp}"
                    )
                    out.append(SetFinding("set.link_order", stream, p.segment, p.offset, p.seq, intent.wal_id, msg))
    return out


__all__ = ["verify"]
