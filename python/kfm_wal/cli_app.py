"""The `kfm-wal` command group and what every command shares: the root group whose `main` turns
every failure into one line and an exit code, the option types, loading the writer key, and the
check that DIR holds a log. The commands register themselves on `cli` from the cli_*.py modules
named in cli.py."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from . import keys
from .cli_errors import INTERRUPTED, CliError, describe, located, shown
from .extras import needs
from .reader import is_log

LOG_DIR = click.Path(path_type=Path, file_okay=False)
FILE = click.Path(path_type=Path, dir_okay=False)
BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer
KINDS = ("header", "intent", "completion", "seal", "key")


class _ReaderGone(Exception):
    """stdout's reader closed the pipe (`kfm-wal log --json | head`)."""


class _Interrupted(Exception):
    """Ctrl-C during a command. Raised past click, whose own handling would first print a blank
    line to stderr: the interruption is reported as exactly one line."""


class _Command(click.Command):
    """A command: an operation layer it imports without its extra is named in the error, with
    the extra to install (`kfm-wal lineage export needs the 'lineage' extra: ...`)."""

    def invoke(self, ctx: click.Context) -> Any:
        with needs(ctx.command_path):
            return super().invoke(ctx)


class _Group(click.Group):
    command_class = _Command


_Group.group_class = _Group


class _Cli(_Group):
    """The root group; its `main` is where every error becomes one line (also under CliRunner)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # Raised past click, which would exit 1: the code `validate` uses for an invalid log.
            raise _ReaderGone() from None
        except KeyboardInterrupt:
            raise _Interrupted() from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        line, code = None, 0
        try:
            rv = super().main(args, prog_name or "kfm-wal", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help())
        except _ReaderGone:
            _silence_stdout()  # nothing to tell anyone, and the final flush must not fail again
            code = BROKEN_PIPE
        except (click.exceptions.Abort, KeyboardInterrupt, _Interrupted):
            line, code = CliError("interrupted").line(), INTERRUPTED
        except Exception as e:  # noqa: BLE001 - the promise is: never a traceback
            err = describe(e)
            line, code = err.line(), err.exit_code
        # Printed after the except blocks end, so that no exception (nor the frames of the failed
        # command it references) outlives its handling.
        if line:
            click.echo(line, err=True)
        if standalone_mode:
            sys.exit(code)
        return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter flushes it once more at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


@click.group("kfm-wal", cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """kfm-wal: a signed, hash-chained, append-only write-ahead log for data pipelines."""


def load_key(path: Path) -> keys.SigningKey:
    with located(file=path):
        if not path.exists():
            raise CliError("key file not found; create one with 'kfm-wal init' or pass --key", f"file {shown(path)}")
        return keys.load(path)


def holds_log(log_dir: Path) -> bool:
    """Checked first so that the user hears about the log, not about the key file next to it."""
    return is_log(log_dir)


def require_log(log_dir: Path) -> None:
    """Checked before the key so that a mistyped DIR is reported as such, not as a missing key."""
    if not holds_log(log_dir):
        raise CliError(
            f"{shown(log_dir)} is not a kfm-wal log (no segment files in it or in archive/)",
            f"log {shown(log_dir)}",
        )
