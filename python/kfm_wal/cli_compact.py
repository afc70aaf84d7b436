"""`kfm-wal compact DIR --before SNAPSHOT|SEQ`: move the log's oldest closed segments out of it
behind a signed checkpoint, and remove the blobs nothing retained references (kfm_wal.compaction).
The plan is shown by default; `--apply` carries it out."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from . import provision
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_errors import CliError, located, shown
from .wal import Wal


def _show(plan: object, as_json: bool, outcome: object = None) -> None:
    from .compaction import Outcome, Plan

    assert isinstance(plan, Plan)
    doc = plan.as_dict()
    if isinstance(outcome, Outcome):
        doc["applied"] = outcome.as_dict()
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        return
    p = plan.payload
    cut = p["cut"]
    click.echo(f"compact {shown(plan.log)} before {plan.before}")
    click.echo(f"  cut       segment {cut['segment']}, seq {cut['seq']}, head {cut['hash']}")
    seals = p["seals"]
    click.echo(f"  range     seq {p['range']['first_seq']}-{cut['seq']}, {seals['count']} seal(s) listed")
    click.echo(f"  seals     blob {seals['blob']}")
    click.echo(f"  pending   {len(p['pending'])} intent(s) pending at the cut")
    if p["snapshot"]:
        click.echo(
            f"  snapshot  {p['snapshot']['name']} (at seq {p['snapshot']['at']['seq']}), {len(p['roots'])} root(s)"
        )
    where = f"to {shown(plan.cold)}" if plan.cold is not None else "deleted (--drop)"
    click.echo(f"  segments  {len(plan.segments)} {where}; the log keeps segment {plan.retained_from} on")
    for seg in plan.segments:
        click.echo(f"    {seg.path.name}")
    click.echo(f"  blobs     {len(plan.blobs)} no retained record references")
    for digest in plan.blobs:
        click.echo(f"    {digest}")
    if isinstance(outcome, Outcome):
        verb = "resumed and finished" if outcome.resumed else "done"
        click.echo(f"compaction {verb}: checkpoint seq {outcome.seq} (wal_id {outcome.checkpoint})")
    else:
        click.echo("plan only: nothing changed (--apply carries it out)", err=True)


@cli.command("compact")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--before", "before", help="A snapshot name, or a seq: segments wholly before it are compacted.")
@click.option("--apply", "do_apply", is_flag=True, help="Carry the plan out (default: show it only).")
@click.option(
    "--drop", is_flag=True, help="Delete the segments (after the checkpoint is durable) instead of keeping them cold."
)
@click.option(
    "--cold", "cold", default="cold", show_default=True, help="Where segments go (relative to DIR, or absolute)."
)
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan (and what was done) as JSON.")
def compact(
    log_dir: Path, before: str | None, do_apply: bool, drop: bool, cold: str, key_file: Path | None, as_json: bool
) -> None:
    """Compact the log in DIR: write a signed checkpoint (the chain head at the cut, every seal,
    the intents pending there, a snapshot's state digests), move the closed segments before the cut
    to a cold directory, and remove the blobs no retained record references. An interrupted
    compaction is resumed by running it again."""
    from .compaction import CompactionError, apply, plan, resume_plan, unfinished, validated

    require_log(log_dir)
    with located(log=log_dir):
        try:
            validated(log_dir)  # damage is found here, never half-way through a compaction
        except CompactionError as exc:
            raise CliError(str(exc), f"log {shown(log_dir)}") from None
        if before is not None:  # an interrupted compaction is finished first (plan says so)
            try:
                planned = plan(log_dir, before, cold=None if drop else cold)
            except CompactionError as exc:
                raise CliError(str(exc), f"log {shown(log_dir)}") from None
        else:
            interrupted = unfinished(log_dir)
            if interrupted is None:
                raise CliError("--before SNAPSHOT|SEQ is required", f"log {shown(log_dir)}")
            planned = resume_plan(log_dir, interrupted)
        if not do_apply:
            _show(planned, as_json)
            return
        key = load_key(key_file or provision.default_key_path(log_dir))
        with Wal.open(log_dir, key) as wal:
            outcome = apply(planned, wal)
    _show(planned, as_json, outcome)


__all__ = ["compact"]
