"""Turning every failure the CLI can meet into one line for the user:

    kfm-wal: error: <what> (<where>)

`where` names what the user can act on: the input file and line, the log segment, byte offset and
seq, the entry field. Exit code 2 for everything here; `validate` alone uses 1 (an invalid log)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from .cli_input import Entries, InputError
from .errors import ConflictError, CorruptionError, SchemaError, StorageError, WalError
from .extras import MissingExtraError

USAGE = 2
INVALID_LOG = 1
INTERRUPTED = 130


class CliError(Exception):
    """A failure already phrased for the user."""

    def __init__(self, what: str, where: str = "", exit_code: int = USAGE) -> None:
        super().__init__(what)
        self.what, self.where, self.exit_code = what, where, exit_code

    def line(self) -> str:
        text = f"kfm-wal: error: {self.what}" + (f" ({self.where})" if self.where else "")
        # One line, always: messages from the core or the OS may carry newlines.
        return " ".join(text.split())


def shown(path: str | os.PathLike[str]) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    text = os.fspath(path)
    rel = os.path.relpath(text) if os.path.isabs(text) else text
    return text if rel.startswith("..") else rel


def where(**parts: object) -> str:
    """`name value, ...` for the parts that are known, in the order given."""
    return ", ".join(f"{k} {v}" for k, v in parts.items() if v is not None and v != "")


def _without_prefix(message: str, *prefixes: str) -> str:
    for p in prefixes:
        if p and message.startswith(p + ": "):
            return message[len(p) + 2 :]
    return message


def describe(
    exc: BaseException,
    *,
    log: Path | None = None,
    entries: Entries | None = None,
    file: Path | None = None,
) -> CliError:
    """Phrase `exc`. `log`, `entries` and `file` are what the command was working on."""
    log_part = shown(log) if log is not None else None
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, InputError):
        return CliError(exc.what, exc.where)
    if isinstance(exc, MissingExtraError):
        return CliError(str(exc))  # says what to install; about the installation, not the log
    if isinstance(exc, CorruptionError) and exc.finding:
        f = exc.finding
        return CliError(
            f"{f.get('code')}: {f.get('message')}",
            where(
                log=log_part,
                segment=f.get("segment"),
                offset=f.get("offset"),
                seq=f.get("seq"),
                wal_id=f.get("wal_id"),
            ),
        )
    if isinstance(exc, SchemaError | ConflictError) and exc.index is not None:
        field = exc.field if isinstance(exc, SchemaError) else None
        what = re.sub(r"^entry \d+: ", "", str(exc))
        if field:
            what = _without_prefix(what, field)
        # Without entries (complete) the index is always 0 and would tell the user nothing.
        loc = entries.where(exc.index, field) if entries is not None else where(field=field)
        return CliError(what, ", ".join(p for p in (loc, where(log=log_part)) if p))
    if isinstance(exc, StorageError):
        what = re.sub(r" \(os error \d+\)$", "", _without_prefix(str(exc), exc.path or ""))
        return CliError(what, where(file=exc.path) or where(log=log_part))
    if isinstance(exc, WalError):
        paths = [os.fspath(p) for p in (file, log) if p is not None]
        what = _without_prefix(str(exc), *paths, *(shown(p) for p in paths))
        if file is not None and what != str(exc):
            return CliError(what, where(file=shown(file)))
        return CliError(what, where(log=log_part) or where(file=shown(file) if file else None))
    if isinstance(exc, OSError):
        name = exc.filename if exc.filename is not None else file
        return CliError(exc.strerror or str(exc), where(file=shown(name) if name is not None else None))
    if isinstance(exc, click.ClickException):
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            return CliError(exc.format_message(), f"command {ctx.command_path}; see '{ctx.command_path} --help'")
        return CliError(exc.format_message())
    return CliError(f"{type(exc).__name__}: {exc}")


@contextmanager
def located(*, log: Path | None = None, entries: Entries | None = None, file: Path | None = None) -> Iterator[None]:
    """Phrase WalError and OSError raised inside with what the command was working on."""
    try:
        yield
    except BrokenPipeError:
        raise  # stdout's reader left; not a failure of the log or the input
    except (WalError, OSError, InputError) as exc:
        raise describe(exc, log=log, entries=entries, file=file) from None


__all__ = ["INTERRUPTED", "INVALID_LOG", "USAGE", "CliError", "describe", "located", "shown", "where"]
