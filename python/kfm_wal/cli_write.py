"""`kfm-wal init`, `keys`, `append` and `complete`: the commands that create a log or write to it
(operations: cli_run.py, cli_undo.py, cli_retry.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

import click

from . import cli_render as render
from . import keys, provision, schema
from .cli_app import FILE, LOG_DIR, cli, holds_log, load_key, require_log
from .cli_errors import CliError, located, shown
from .cli_governance import actor
from .cli_input import Entries, parse
from .report import verify
from .wal import DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_SEGMENT_BYTES, Status, Wal

_actor = actor  # --actor TYPE:ID; `snapshot` and `rollback` take it from here

# -- init ------------------------------------------------------------------------------------


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--key", "key_file", type=FILE, help="Existing writer key (PEM). Default: generate one.")
@click.option(
    "--max-segment-bytes",
    type=click.IntRange(min=4096),
    default=DEFAULT_MAX_SEGMENT_BYTES,
    show_default=True,
    help="Rotate segments at this size (records are limited to min(1 MiB, this)).",
)
@click.option("--durability", type=click.Choice(["fsync", "os", "none"]), default="fsync", show_default=True)
@click.option(
    "--archive-compression",
    type=click.Choice(["none", "zstd"]),
    default="none",
    show_default=True,
    help="Compress each rotated segment with zstd (archive/*.jsonl.zst); readers read either form.",
)
@click.option(
    "--stream",
    metavar="ID",
    default=None,
    help="Name this writer's log in a log set (every segment header carries it): 1-64 of a-z 0-9 . _ -.",
)
def init(
    log_dir: Path,
    key_file: Path | None,
    max_segment_bytes: int,
    durability: str,
    archive_compression: str,
    stream: str | None,
) -> None:
    """Create a new log in DIR.

    Without --key a writer key is generated and saved to <parent of DIR>/keys/writer.pem (mode 0600),
    and its public key is added to <parent of DIR>/keys/keyring.json with role "writer"."""
    options: dict[str, Any] = {
        "max_segment_bytes": max_segment_bytes,
        "max_record_bytes": min(DEFAULT_MAX_RECORD_BYTES, max_segment_bytes),
        "durability": durability,
        "archive_compression": archive_compression,
        "stream": stream,
    }
    if stream is not None:
        from .logset.manifest import STREAM_ID_RULE, is_stream_id  # only for a stream: the CLI starts light

        if not is_stream_id(stream):
            raise click.BadParameter(f"{stream!r} is not a stream id ({STREAM_ID_RULE})", param_hint="'--stream'")
    out = render.console()
    if holds_log(log_dir):
        raise CliError(f"{shown(log_dir)} already holds a kfm-wal log", f"log {shown(log_dir)}")
    if key_file is not None:
        key = load_key(key_file)
        with located(log=log_dir):
            wal = Wal.create(log_dir, key, **options)
        key_note, ring_note = f"{shown(key_file)} (given)", "not changed (--key given)"
    else:
        key_path, ring_path = provision.default_key_path(log_dir), provision.default_keyring_path(log_dir)
        if key_path.exists():
            raise CliError(
                "a key file already exists; refusing to overwrite it (pass --key to use it)",
                f"file {shown(key_path)}",
            )
        with located(log=log_dir, file=ring_path):
            wal, key = provision.create_with_new_key(log_dir, key_path, ring_path, key_name="writer", **options)
        key_note, ring_note = (
            f"{shown(key_path)} (new, mode 0600)",
            f"{shown(ring_path)} (writer key trusted)",
        )
    log_id = wal.log_id
    wal.close()
    out.print(f"created log {shown(log_dir)}")
    out.print(f"  log id   {log_id}")
    if stream is not None:
        out.print(f"  stream   {stream}")
    out.print(f"  key id   {key.key_id}")
    out.print(f"  archive  {'zstd-compressed segments' if archive_compression == 'zstd' else 'plain segments'}")
    out.print(f"  key      {key_note}")
    out.print(f"  keyring  {ring_note}")


# -- keys ------------------------------------------------------------------------------------


@cli.group("keys")
def keys_group() -> None:
    """Generate writer keys and list trusted or declared keys."""


@keys_group.command("generate")
@click.option("--out", "out_file", type=FILE, required=True, help="Where to save the private key (mode 0600).")
def keys_generate(out_file: Path) -> None:
    """Generate an Ed25519 writer key."""
    key = keys.generate()
    with located(file=out_file):
        keys.save(key, out_file)
    click.echo(f"key_id      {key.key_id}")
    click.echo(f"public_key  {key.public_key}")
    click.echo(f"saved to    {shown(out_file)} (mode 0600)")


@keys_group.command("list")
@click.option("--keyring", "keyring_file", type=FILE, help="A keyring file to list.")
@click.argument("log_dir", metavar="[DIR]", type=LOG_DIR, required=False)
def keys_list(keyring_file: Path | None, log_dir: Path | None) -> None:
    """List the keys of a keyring file, or the key ids the log in DIR declares (or both)."""
    if keyring_file is None and log_dir is None:
        raise click.UsageError("give a log directory, --keyring FILE, or both")
    out = render.console()
    ring = None
    if keyring_file is not None:
        with located(file=keyring_file):
            ring = keys.load_keyring(keyring_file)
        out.print(render.keyring_table(ring, shown(keyring_file)))
    if log_dir is not None:
        with located(log=log_dir):
            report = verify(log_dir)
        out.print(render.log_keys_table(report, ring))
        if not report.ok:
            n = len(report.findings)
            out.print(f"note: the log has {n} finding(s); run 'kfm-wal validate {shown(log_dir)}'")


# -- append / complete -----------------------------------------------------------------------


def _read_entries(source: str) -> Entries:
    if source == "-":
        data, name = sys.stdin.buffer.read(), "stdin"
    else:
        with located(file=Path(source)):
            data, name = Path(source).read_bytes(), f"file {shown(source)}"
    entries = parse(data, name)
    # Checked in full before the log is opened, so bad input writes nothing.
    for i, item in enumerate(entries.items):
        refused = schema.check(item)
        if refused:
            field, message = refused
            raise CliError(message, entries.where(i, field or None))
    return entries


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("source", metavar="[FILE|-]", default="-")
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@click.option("--json", "as_json", is_flag=True, help="Print receipts as JSON lines.")
def append(log_dir: Path, source: str, key_file: Path | None, as_json: bool) -> None:
    """Record intents from FILE (or stdin): a JSON object, an array of objects, or JSONL.

    All entries are appended as one group commit: all of them or none."""
    entries = _read_entries(source)
    require_log(log_dir)
    key = load_key(key_file or provision.default_key_path(log_dir))
    with located(log=log_dir, entries=entries), Wal.open(log_dir, key) as wal:
        _note_recovery(wal)
        receipts = wal.append_many(entries.items)
    for r in receipts:
        if as_json:
            sys.stdout.buffer.write(render.receipt_json(r))
        else:
            click.echo(render.receipt_line(r))


def _note_recovery(wal: Wal) -> None:
    """Opening repairs a torn or unsealed tail; say so, since it cut bytes off the log."""
    for step in wal.recovery:
        saved = step.get("saved_to")
        click.echo(
            f"kfm-wal: note: {step.get('action')} at {step.get('segment')} offset {step.get('offset')}"
            + (f", {step.get('bytes')} bytes saved to {saved}" if saved else ""),
            err=True,
        )


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("wal_id")
@click.option(
    "--status",
    type=click.Choice(["succeeded", "failed", "refused", "reversed"]),
    default="succeeded",
    show_default=True,
)
@click.option("--error", "error_text", help="What went wrong (for failed/refused).")
@click.option("--post-state-hash", help="sha256:<hex> of the state the operation produced.")
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
def complete(
    log_dir: Path,
    wal_id: str,
    status: str,
    error_text: str | None,
    post_state_hash: str | None,
    key_file: Path | None,
) -> None:
    """Record the outcome of the intent WAL_ID."""
    require_log(log_dir)
    key = load_key(key_file or provision.default_key_path(log_dir))
    with located(log=log_dir), Wal.open(log_dir, key) as wal:
        _note_recovery(wal)
        receipt = wal.complete(wal_id, cast(Status, status), error=error_text, post_state_hash=post_state_hash)
    click.echo(render.receipt_line(receipt))
