"""`kfm-wal replay` and `kfm-wal checkout`: re-execute the log's operations in a sandbox (or check
the real roots against such a replay), and materialise the roots as they were at a point of the
log. Exit 0 when the replay matched the log (and, with --check, the real roots equal it), 1 when
it halted at a mismatch, stopped before damage, or diverged, 2 on a usage or input error."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from . import cli_render as render
from .cli_app import LOG_DIR, cli, require_log
from .cli_archive import LOG_OR_URL
from .cli_errors import INVALID_LOG, CliError, located, shown

if TYPE_CHECKING:
    from .replay import ReplayReport

_ACTIONS_HELP = "Import this module first (it registers the custom actions the log uses); repeatable."


def _import(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise CliError(f"cannot import {name!r}: {e}", "option --actions") from None


def _emit(report: ReplayReport, as_json: bool, verb: str) -> int:
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        out = render.console()
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.replayed.items())) or "none"
        where = "a temporary sandbox" if report.checked else shown(report.sandbox)
        out.print(f"{verb} {report.operations} operation(s) into {where} ({counts}), through seq {report.last_seq}")
        if not report.checked:
            for r in report.roots:
                out.print(f"  {r['kind']} root {r['recorded']} -> {shown(Path(report.sandbox) / r['dir'])}")
        if report.pending:
            first = report.pending[0]
            out.print(
                f"pending (reported, not executed): {len(report.pending)}, "
                f"first {first['wal_id']} at seq {first['seq']}"
            )
        if report.skipped:
            out.print(f"skipped (not recorded by kfm_wal.ops): {len(report.skipped)}")
        if report.stopped_before is not None:
            out.print(f"stopped before seq {report.stopped_before}: {report.damage}")
            if report.quarantined:
                out.print(
                    f"quarantined: {len(report.quarantined)} file(s) in {shown(Path(report.quarantined[0]).parent)}"
                )
        if report.halted is not None:
            out.print(f"halted: {report.halted.message()}")
            if report.kept and not report.checked:
                out.print(f"sandbox kept as it was before that operation: {shown(report.sandbox)}")
        if report.divergence is not None:
            out.print(f"divergent: {report.divergence.message()}")
        elif report.checked and report.ok:
            out.print("the real roots equal the replay of the log")
    return 0 if report.ok else INVALID_LOG


@cli.command("replay")
@click.argument("log_dir", metavar="DIR|URL|SET.json", type=LOG_OR_URL)
@click.option(
    "--into",
    "sandbox",
    type=LOG_DIR,
    help="The sandbox: a new or empty directory (or, with --from, one an earlier replay left).",
)
@click.option("--from", "start", metavar="SEQ|WAL_ID", help="Start at this seq or operation (default: the first).")
@click.option("--to", "end", metavar="SEQ|WAL_ID", help="Stop right after this seq or operation (default: the last).")
@click.option("--until-failure", is_flag=True, help="At a mismatch, keep the sandbox as it was before that operation.")
@click.option(
    "--quarantine",
    "quarantine_",
    is_flag=True,
    help="When the log fails validation, copy the damage to DIR/quarantine/ and replay what comes before it.",
)
@click.option(
    "--check",
    "check_",
    is_flag=True,
    help="Replay into a temporary sandbox and compare with the real roots: exit 0 equal, 1 divergent.",
)
@click.option(
    "--blobs",
    metavar="URL|DIR",
    help="The blob store, when it is not the log's own (DIR/blobs, URL/blobs): the folder holding ab/cdef...",
)
@click.option("--actions", "modules", multiple=True, metavar="MODULE", help=_ACTIONS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def replay_cmd(
    log_dir: Path | str,
    sandbox: Path | None,
    start: str | None,
    end: str | None,
    until_failure: bool,
    quarantine_: bool,
    check_: bool,
    blobs: str | None,
    modules: tuple[str, ...],
    as_json: bool,
) -> int:
    """Re-execute the operations logged in DIR, in seq order, from their intents and the blob store,
    into a sandbox; halt at the first state that differs from the log. Never writes the real roots.
    URL: an archive in object storage (s3://, file://, ...), read-only, its blobs read from URL/blobs
    (what `kfm-wal archive push` uploads) unless --blobs says where they are."""
    if check_ and (sandbox is not None or start is not None or end is not None or until_failure):
        raise CliError(
            "--check replays the whole log into a temporary sandbox: give no --into, --from, --to or --until-failure"
        )
    if not check_ and sandbox is None:
        raise CliError("give --into SANDBOX (a new or empty directory), or --check")
    if isinstance(log_dir, Path) and log_dir.is_file():  # a log-set manifest: its streams in link order
        if (
            check_
            or quarantine_
            or start is not None
            or end is not None
            or until_failure
            or sandbox is None
            or blobs is not None
        ):
            raise CliError("a log set replays whole into a new sandbox: give --into SANDBOX and no other option")
        _import(modules)
        from .logset import replay_set

        with located(file=log_dir):
            report = replay_set(log_dir, sandbox)
        return _emit(report, as_json, "replayed")
    if isinstance(log_dir, str):
        if quarantine_:
            raise CliError(
                "--quarantine needs a log directory: an archive at a URL is a read-only source", "option --quarantine"
            )
    else:
        require_log(log_dir)
    _import(modules)
    from . import replay

    with located(log=log_dir if isinstance(log_dir, Path) else None):
        if check_:
            report = replay.check(log_dir, quarantine=quarantine_, blobs=blobs)
        else:
            assert sandbox is not None
            report = replay.replay(
                log_dir,
                sandbox,
                start=start,
                end=end,
                until_failure=until_failure,
                quarantine=quarantine_,
                blobs=blobs,
            )
    return _emit(report, as_json, "checked by replaying" if check_ else "replayed")


@cli.command("checkout")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("out_dir", metavar="OUT", type=LOG_DIR)
@click.option(
    "--at",
    "at",
    required=True,
    metavar="SEQ|WAL_ID",
    help="The point: a seq, or an operation (right after its completion).",
)
@click.option("--actions", "modules", multiple=True, metavar="MODULE", help=_ACTIONS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def checkout_cmd(log_dir: Path, out_dir: Path, at: str, modules: tuple[str, ...], as_json: bool) -> int:
    """Materialise in OUT (new or empty) the data roots, STAC catalogs and graph stores as they were
    right after a point of the log in DIR, by replaying it up to there."""
    require_log(log_dir)
    _import(modules)
    from . import replay

    with located(log=log_dir):
        report = replay.checkout(log_dir, at, out_dir)
    return _emit(report, as_json, "checked out")
