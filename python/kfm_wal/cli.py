"""`kfm-wal`: create, append to, read and verify kfm-wal logs from the shell.

Every failure ends as one line on stderr and exit code 2 (cli_errors.py); `validate` exits 1 when
the log is invalid. Output for people goes through rich (cli_render.py); --json output is exact.

Start-up is kept short (`--help` and `validate` of a small log in well under 100 ms): this module
imports only click and the light core of kfm_wal. rich is loaded when rich output is rendered,
cryptography when a key is loaded or a receipt signed, jsonschema when a refused entry is
explained, and the operation layers (ops, governance, audit, lineage, demo) by their commands.
tests/test_startup.py holds it to that. A command whose operation layer needs an extra that is not
installed says which (kfm_wal.extras).

The group and its shared parts are in cli_app.py; the commands in cli_write.py (init, keys,
append, complete), cli_read.py (log, tail), cli_validate.py (validate), cli_ops.py (approve,
lineage, repair, demo), cli_replay.py (replay, checkout), cli_recover.py (recover), cli_run.py (run,
request), cli_retry.py (retry), cli_undo.py (undo), cli_trust.py (keys trust), cli_snapshot.py
(snapshot), cli_rollback.py (rollback), cli_archive.py (archive push) and cli_compact.py (compact)."""

from __future__ import annotations

# Each module registers its commands on the group when imported; the order is --help's order.
from . import (  # noqa: F401
    cli_archive,
    cli_compact,
    cli_ops,
    cli_read,
    cli_recover,
    cli_replay,
    cli_retry,
    cli_rollback,
    cli_run,
    cli_snapshot,
    cli_trust,
    cli_undo,
    cli_validate,
    cli_write,
)
from .cli_app import cli


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="kfm-wal")


__all__ = ["cli", "main"]
