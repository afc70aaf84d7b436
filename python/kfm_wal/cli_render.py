"""What the CLI shows people: receipts, the log as a table, the verification summary, key lists.
Machine-readable output (--json) is plain bytes from orjson or the log itself, never rich.

rich is imported by the functions that build rich output, not here: `--help`, `--json` output,
receipts and `tail` lines never load it (it is a good part of the CLI's start-up time)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson

from ._core import Receipt
from .reader import Record

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from .keys import Keyring
    from .report import Finding, VerifyReport

# When piped, rich would fold rows at 80 columns; a wal_id alone is 36.
_PIPE_WIDTH = 200


def console() -> Console:
    from rich.console import Console

    c = Console(highlight=False, markup=False, emoji=False)
    if not c.is_terminal:
        c = Console(highlight=False, markup=False, emoji=False, width=_PIPE_WIDTH)
    return c


def receipt_line(r: Receipt) -> str:
    return f"seq={r.seq} kind={r.kind} wal_id={r.wal_id} hash={r.hash}"


def receipt_json(r: Receipt) -> bytes:
    doc = {
        "seq": r.seq,
        "kind": r.kind,
        "wal_id": r.wal_id,
        "hash": r.hash,
        "segment": r.segment,
        "offset": r.offset,
        "seal_seq": r.seal_seq,
        "durability": r.durability,
    }
    return orjson.dumps(doc) + b"\n"


_STATUS_STYLE = {"succeeded": "green", "failed": "red", "refused": "yellow", "reversed": "magenta"}


def _what(rec: Record) -> tuple[str, str]:
    """What the record says, in a word or two, and the style to show it in."""
    body = rec.body
    if rec.kind == "intent":
        return str(body.get("operation", "")), ""
    if rec.kind == "completion":
        status = str(body.get("status", ""))
        return status, _STATUS_STYLE.get(status, "")
    if rec.kind == "seal":
        return ("closes segment" if body.get("closes") else ""), "dim"
    if rec.kind == "header":
        return f"segment {body.get('segment')}", "dim"
    if rec.kind == "key":
        return f"{body.get('action')} {body.get('key_id')}", ""
    return "", ""


def record_line(rec: Record) -> str:
    """One record on one plain line, for streams (`tail -f`)."""
    stamp = rec.timestamp.replace("T", " ")[:23]
    return f"{rec.seq:>8}  {stamp}  {rec.kind:<10}  {_what(rec)[0]:<16}  {rec.wal_id or ''}"


def log_table(records: Iterable[Record]) -> tuple[Table, int]:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("seq", "time (UTC)", "kind", "operation/status", "wal_id", "actor", "tier"):
        table.add_column(name, justify="right" if name in ("seq", "tier") else "left", no_wrap=True)
    n = 0
    for rec in records:
        body = rec.body
        actor = body.get("actor")
        who = f"{actor.get('type')}:{actor.get('id')}" if isinstance(actor, dict) else ""
        tier = body.get("tier")
        stamp = rec.timestamp.replace("T", " ")[:19]
        dim = "dim" if rec.kind in ("seal", "header") else ""
        table.add_row(
            str(rec.seq),
            stamp,
            Text(rec.kind, style=dim),
            Text(*_what(rec)),
            rec.wal_id or "",
            who,
            "" if tier is None else str(tier),
        )
        n += 1
    return table, n


def ledger_table(entries: Iterable[tuple[int, str, dict[str, Any]]]) -> tuple[Table, int]:
    """The governance ledger: one row per decision (kfm_wal.governance.ledger's facts)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("seq", "time (UTC)", "operation", "wal_id", "tier", "care", "decision", "status", "approvals", "why"):
        table.add_column(name, justify="right" if name in ("seq", "tier") else "left", no_wrap=name != "why")
    n = 0
    for seq, stamp, facts in entries:
        approvals = facts.get("approvals") or []
        counted = sum(1 for a in approvals if isinstance(a, dict) and a.get("counted"))
        decision = str(facts.get("decision", ""))
        table.add_row(
            str(seq),
            stamp.replace("T", " ")[:19],
            str(facts.get("operation", "")),
            facts.get("wal_id") or "",
            str(facts.get("tier", "")),
            str(facts.get("care", "")),
            Text(decision, style="red" if decision == "refused" else "green"),
            facts.get("status") or "",
            f"{counted} counted of {len(approvals)}",
            "; ".join(str(r) for r in facts.get("reasons") or []),
        )
        n += 1
    return table, n


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"


def _first_of_each_code(findings: Sequence[Finding]) -> list[tuple[Finding, int]]:
    firsts: dict[str, Finding] = {}
    counts: dict[str, int] = {}
    for f in findings:
        firsts.setdefault(f.code, f)
        counts[f.code] = counts.get(f.code, 0) + 1
    return [(f, counts[code] - 1) for code, f in firsts.items()]


@contextmanager
def progress(enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar (bytes and records, rate, ETA) on a terminal; nothing otherwise."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda done, records: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn("validating"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[records]:,} records"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task("validate", total=None, records=0)
        yield lambda done, records: bar.update(task, completed=done, records=records)


def report_summary(report: VerifyReport, trust: str) -> list[Any]:
    """Renderables for `kfm-wal validate`."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    throughput = "n/a"
    if report.elapsed > 0:
        throughput = (
            f"{_size(report.scanned_bytes / report.elapsed)}/s, {report.records / report.elapsed:,.0f} records/s"
        )
    rows = [
        ("log", f"{report.path}  (log_id {report.log_id})"),
        (
            "segments",
            f"{len(report.segments)}"
            + (
                f"  ({report.segments[0]} .. {report.segments[-1]})"
                if len(report.segments) > 1
                else f"  ({report.segments[0]})"
                if report.segments
                else ""
            ),
        ),
        ("records", f"{report.records:,}  ({_size(report.bytes)})"),
        (
            "operations",
            f"{report.intents:,} intents, {report.completions:,} completions, {report.pending:,} pending",
        ),
        ("head", f"seq {report.head_seq}  {report.head_hash}"),
        *(
            [("incremental", f"from receipt at seq {report.incremental_from}: {_size(report.scanned_bytes)} scanned")]
            if report.incremental_from is not None
            else []
        ),
        ("trust", trust),
        ("key in force", str(report.key_in_force)),
        ("elapsed", f"{report.elapsed * 1000:,.1f} ms  ({throughput})"),
    ]
    for name, value in rows:
        grid.add_row(name, value)
    verdict = (
        Text("VALID", style="bold green")
        if report.ok
        else Text(f"INVALID: {len(report.findings)} finding(s)", style="bold red")
    )
    grid.add_row("result", verdict)
    out: list[Any] = [grid]
    if not report.ok:
        table = Table(box=None, header_style="bold", pad_edge=False, title_justify="left")
        for name in ("code", "segment", "offset", "seq", "wal_id", "message", "more"):
            table.add_column(name, no_wrap=name != "message")
        for f, rest in _first_of_each_code(report.findings):
            table.add_row(
                Text(f.code, style="red"),
                f.segment or "-",
                str(f.offset),
                "-" if f.seq is None else str(f.seq),
                f.wal_id or "-",
                f.message,
                f"+{rest} more" if rest else "",
            )
        out += [Text(""), Text("first finding of each kind:", style="bold"), table]
    return out


def keyring_table(ring: Keyring, source: str) -> Table:
    from rich.table import Table

    table = Table(title=f"keyring {source}", title_justify="left", box=None, header_style="bold", pad_edge=False)
    for name in ("key_id", "roles", "name", "public_key"):
        table.add_column(name, no_wrap=True)
    for k in ring.keys:
        table.add_row(k.key_id, ",".join(k.roles), k.name, k.public_key)
    return table


def log_keys_table(report: VerifyReport, ring: Keyring | None) -> Table:
    from rich.table import Table

    table = Table(
        title=f"keys declared by log {report.path}",
        title_justify="left",
        box=None,
        header_style="bold",
        pad_edge=False,
    )
    table.add_column("key_id", no_wrap=True)
    table.add_column("state", no_wrap=True)
    if ring is not None:
        table.add_column("in keyring", no_wrap=True)
    for key_id in report.keys_seen:
        row = [key_id, "in force" if key_id == report.key_in_force else "earlier"]
        if ring is not None:
            row.append("yes" if ring.get(key_id) else "NO")
        table.add_row(*row)
    return table


__all__ = [
    "console",
    "keyring_table",
    "log_keys_table",
    "log_table",
    "receipt_json",
    "receipt_line",
    "report_summary",
]
