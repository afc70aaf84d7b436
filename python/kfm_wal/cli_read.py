"""`kfm-wal log` and `tail`: reading sealed records, as a table or as the exact lines."""

from __future__ import annotations

import sys
from itertools import chain, islice
from pathlib import Path

import click

from . import cli_render as render
from .cli_app import KINDS, LOG_DIR, cli, require_log
from .cli_archive import LOG_OR_URL, records_at
from .cli_errors import located
from .reader import follow as follow_log
from .reader import records
from .report import verify

# -- log / validate --------------------------------------------------------------------------


@cli.command("log")
@click.argument("log_dir", metavar="DIR|URL", type=LOG_OR_URL)
@click.option("--json", "as_json", is_flag=True, help="Print the exact record lines (JSONL).")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--operation", help="Only intents of this operation.")
@click.option("--wal-id", help="Only the intent and completion of this wal_id.")
@click.option("--from-seq", type=click.IntRange(min=1))
@click.option("--to-seq", type=click.IntRange(min=1))
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N records (the first N from --from-seq).")
def log_cmd(
    log_dir: Path | str,
    as_json: bool,
    kind: str | None,
    operation: str | None,
    wal_id: str | None,
    from_seq: int | None,
    to_seq: int | None,
    limit: int | None,
) -> None:
    """Show the sealed records of the log in DIR, or of the archive at URL."""
    local = log_dir if isinstance(log_dir, Path) else None
    if local is not None:
        require_log(local)
    if from_seq is not None and to_seq is not None and from_seq > to_seq:
        raise click.BadParameter(f"--from-seq {from_seq} is after --to-seq {to_seq}", param_hint="'--from-seq'")
    read = records if local is not None else records_at
    with located(log=local):
        found = read(log_dir, start_seq=from_seq, end_seq=to_seq, kind=kind, operation=operation, wal_id=wal_id)
        chosen = islice(found, limit)
        if as_json:
            out = sys.stdout.buffer
            for rec in chosen:
                out.write(rec.line)
            out.flush()
            return
        table, n = render.log_table(chosen)
    console = render.console()
    console.print(table)
    console.print(f"{n} record(s)", style="dim")


# -- tail ----------------------------------------------------------------------------------------


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option(
    "-n",
    "--lines",
    "count",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the last records to show first.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new sealed records as they land.")
@click.option("--json", "as_json", is_flag=True, help="Print the exact record lines (JSONL).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=0.2,
    show_default=True,
    help="Polling interval in seconds, with --follow.",
)
def tail(log_dir: Path, count: int, follow: bool, as_json: bool, interval: float) -> None:
    """Show the last sealed records of the log in DIR; with -f, follow it across rotations."""
    require_log(log_dir)
    with located(log=log_dir):
        head = verify(log_dir, check_bodies=False).head_seq or 0
        start = max(1, head - count + 1)
        shown_records = records(log_dir, start_seq=start) if count else iter(())
        stream = follow_log(log_dir, start_seq=head + 1, poll_interval=interval) if follow else iter(())
        for rec in chain(shown_records, stream):
            if as_json:
                sys.stdout.buffer.write(rec.line)
            else:
                sys.stdout.write(render.record_line(rec) + "\n")
            sys.stdout.flush()
