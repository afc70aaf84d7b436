"""What a replay runs: the log verified first (a record that fails verification is never
executed), the range `--from`/`--to` resolved (a seq or a wal_id), the operations in it in intent
order with their completions, and the custom actions they need checked as registered, all before
anything is executed. The log may be a directory or an archive at a URL (read-only: records read
through kfm_wal.storage)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _core
from ..findings import VerifyReport
from ..ops import custom
from ..ops.errors import PlanError
from ..reader import Record
from ..reader import records as local_records
from ..report import verify
from ..storage.store import is_url
from ..wal import salvage
from .executor import Recorded
from .report import ReplayError
from .sources import not_past_compaction

# A replay's source: a log directory, or an archive's URL (kept as text: Path folds `s3://`).
Source = Path | str


def records(log: Source, **filters: Any) -> Iterator[Record]:
    """Sealed records of a directory or of an archive at a URL, filtered as `kfm_wal.records`."""
    if isinstance(log, str):
        from ..storage.records import records as url_records

        return url_records(log, **filters)
    return local_records(log, **filters)


def source(log: str | os.PathLike[str]) -> Source:
    text = os.fspath(log)
    return text.rstrip("/") if is_url(text) else Path(text)


@dataclass
class Selection:
    log_id: str | None
    operations: list[Recorded] = field(default_factory=list)  # in intent seq order
    from_seq: int | None = None
    to_seq: int | None = None  # the last seq the replay may read
    stopped_before: int | None = None  # first damaged seq (quarantine)
    damage: str | None = None
    quarantined: list[str] = field(default_factory=list)


def _first_damage(log: Path, report: VerifyReport) -> tuple[int, str] | None:
    """(seq to stop before, description) of the first finding that is not a recoverable tail."""
    bad = [f for f in report.findings if not f.recoverable]
    if not bad:
        return None
    where = {Path(p).name: (first, Path(p)) for _, first, p, _ in _core.segments(log)}
    stops = []
    for f in bad:
        seq = f.seq
        if seq is None:  # a line too damaged to name its seq: the seq its place in the segment gives it
            first, path = where.get(f.segment, (1, None))
            seq = first
            if path is not None:  # the segment's bytes (a compressed one decompressed), read-only
                seq += _core.segment_bytes(path, True)[: f.offset].count(b"\n")
        stops.append((seq, f"{f.code} at {f.location()}: {f.message}"))
    return min(stops)


def point(log: Source, value: str | int | None, edge: str) -> int | None:
    """A seq, or the seq of a wal_id: for `--from` its intent, for `--to` its completion (its
    intent while it has none): the operation is in the range as a whole."""
    if value is None:
        return None
    if isinstance(value, int) or value.isdigit():
        seq = int(value)
        if seq < 1:
            raise ReplayError(f"--{edge} {value}: a seq starts at 1")
        return seq
    found = {r.kind: r.seq for r in records(log, wal_id=value) if r.kind in ("intent", "completion")}
    if "intent" not in found:
        raise ReplayError(f"--{edge} {value}: no operation with that wal_id (nor a seq) in the log")
    return found["intent"] if edge == "from" else found.get("completion", found["intent"])


def _collect(sel: Selection, log: Source, start: str | int | None, end: str | int | None) -> None:
    """The operations of the range, each intent with its completion when that is in the range too."""
    sel.from_seq, sel.to_seq = point(log, start, "from"), point(log, end, "to")
    if sel.from_seq is not None and sel.to_seq is not None and sel.from_seq > sel.to_seq:
        raise ReplayError(f"--from {start} (seq {sel.from_seq}) comes after --to {end} (seq {sel.to_seq})")
    last = sel.to_seq
    if sel.stopped_before is not None:
        last = sel.stopped_before - 1 if last is None else min(last, sel.stopped_before - 1)
    if last is not None and last < 1:
        return
    by_id: dict[str, Recorded] = {}
    for r in records(log, end_seq=last):
        if r.kind == "intent" and (sel.from_seq is None or r.seq >= sel.from_seq):
            op = Recorded(r)
            by_id.setdefault(op.wal_id, op)
            sel.operations.append(op)
        elif r.kind == "completion":
            op_done = by_id.get(str(r.wal_id))
            if op_done is not None and op_done.completion is None:
                op_done.completion = r


def _not_past_compaction(log: Path, sel: Selection) -> None:
    """A replay cannot start before the latest compaction: the records it would need are gone."""
    from ..compaction.point import compaction_point

    point = compaction_point(log)
    if point is not None and (sel.from_seq is None or sel.from_seq <= point.cut_seq):
        raise ReplayError(
            f"{point.message()}; replay cannot go past it: give --from {point.cut_seq + 1} or later "
            "(with the sandbox a replay of the history before it left)"
        )


def select(
    log: str | os.PathLike[str],
    start: str | int | None = None,
    end: str | int | None = None,
    *,
    quarantine: bool = False,
) -> Selection:
    log = source(log)
    if isinstance(log, str):
        return _checked(_select_url(log, start, end, quarantine))
    report = verify(log)
    sel = Selection(report.log_id)
    damage = _first_damage(log, report)
    if damage is None:
        _collect(sel, log, start, end)
        _not_past_compaction(log, sel)
    elif not quarantine:
        raise ReplayError(
            f"the log fails validation ({damage[1]}): replay never executes a record that fails "
            "verification; --quarantine sets the damage aside and replays what comes before it"
        )
    else:
        from ..quarantine import quarantine as set_aside

        sel.quarantined = [str(p) for p in set_aside(log, report)]
        sel.stopped_before, sel.damage = damage
        # What comes before the damage is read from a salvaged copy: every record of it verified
        # and covered by a seal (the core's salvage), the damaged log left as it is.
        with tempfile.TemporaryDirectory(prefix="kfm-wal-replay-") as tmp:
            salvage(log, Path(tmp) / "log")
            _collect(sel, Path(tmp) / "log", start, end)
    return _checked(sel)


def _select_url(url: str, start: str | int | None, end: str | int | None, quarantine: bool) -> Selection:
    """A read-only source: verified where it is (kfm_wal.storage); damage refuses the replay."""
    from ..storage import verify as verify_url

    if quarantine:
        raise ReplayError(f"--quarantine copies damage beside the log: {url} is a read-only source")
    report = verify_url(url)
    bad = next((f for f in report.findings if not f.recoverable), None)
    if bad is not None:
        raise ReplayError(
            f"the archive fails validation ({bad.code} at {bad.location()}: {bad.message}): replay never "
            "executes a record that fails verification"
        )
    sel = Selection(report.log_id)
    _collect(sel, url, start, end)
    not_past_compaction(url, sel.from_seq)
    return sel


def _checked(sel: Selection) -> Selection:
    """Every replayable operation's actions known to this replayer, before anything runs."""
    for op in sel.operations:
        if not op.replayable:
            continue
        what = op.unsupported()
        if what is not None:
            err = ReplayError(
                f"operation {op.wal_id} ({op.operation}, seq {op.intent.seq}) uses {what}, which this "
                "replayer does not know; nothing was replayed"
            )
            err.seq, err.wal_id = op.intent.seq, op.wal_id
            raise err
        for name in op.custom_names():
            try:
                custom.registered(name)
            except PlanError:
                err = ReplayError(
                    f"operation {op.wal_id} ({op.operation}, seq {op.intent.seq}) uses the custom action "
                    f"{name!r}, which is not registered in this process: register it with "
                    "kfm_wal.ops.register_action (kfm-wal replay --actions MODULE imports the module that does); "
                    "nothing was replayed"
                )
                err.seq, err.wal_id = op.intent.seq, op.wal_id
                raise err from None
    return sel


__all__ = ["Selection", "point", "select"]
