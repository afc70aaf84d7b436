"""`kfm-wal recover`: settle, after a crash, the operations whose intent has no completion
(kfm_wal.ops.recover). By default a plan: what would be recorded for each, read from the log
without opening it for writing; `--apply` acts and records every outcome in one group commit.
Exit 0 when nothing is (or would be) left pending, 1 when some operation needs a person, 2 on a
usage or input error."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from . import cli_render as render
from . import provision
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_errors import INVALID_LOG, located, shown
from .cli_replay import _ACTIONS_HELP, _import
from .wal import Wal


def _emit(found: list[object], summary: dict[str, object], applied: bool, as_json: bool) -> None:
    from .ops.recover import Recovered

    items = [r for r in found if isinstance(r, Recovered)]
    if as_json:
        doc = {"applied": applied, **summary, "operations": [r.to_dict() for r in items]}
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        return
    out = render.console()
    verb = "recorded" if applied else "would record"
    for r in items:
        kinds = "+".join(r.kinds) or "-"
        found_ = f"found {r.found}" if r.found else "not observed"
        head = f"seq {r.seq} {r.wal_id} {r.operation} [{kinds}] {found_}:"
        if r.status in ("pending", "skipped"):
            out.print(f"{head} {r.status}: {r.message}", markup=False, highlight=False)
        else:
            out.print(f"{head} {verb} {r.status}: {r.message}", markup=False, highlight=False)
    counts = summary["counts"]
    assert isinstance(counts, dict)
    text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
    out.print(f"{len(items)} pending intent(s): {text}" + ("" if applied else " (plan: nothing changed; --apply acts)"))


@cli.command("recover")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--apply", "apply_", is_flag=True, help="Act: reverse, re-execute, and record the completions.")
@click.option(
    "--reexecute",
    is_flag=True,
    help="Run an operation found in its pre state (nothing of it ran) instead of recording it as not run.",
)
@click.option("--root", "root_dir", type=LOG_DIR, help="Stands in for the data root recorded in file operations.")
@click.option("--actions", "modules", multiple=True, metavar="MODULE", help=_ACTIONS_HELP)
@click.option(
    "--key", "key_file", type=FILE, help="Writer key (with --apply). Default: <parent of DIR>/keys/writer.pem."
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome of each pending intent as JSON.")
def recover_cmd(
    log_dir: Path,
    apply_: bool,
    reexecute: bool,
    root_dir: Path | None,
    modules: tuple[str, ...],
    key_file: Path | None,
    as_json: bool,
) -> int:
    """Settle the operations of the log in DIR whose intent has no completion (a crash): in their
    post state recorded succeeded, in their pre state refused (or, with --reexecute, run),
    part way reversed from their before-images; any other state is left pending and reported."""
    require_log(log_dir)
    _import(modules)
    from .ops.recover import plan, recover, summary

    if apply_:
        key = load_key(key_file or provision.default_key_path(log_dir))
        with located(log=log_dir), Wal.open(log_dir, key) as wal:
            for step in wal.recovery:
                where = f"{step.get('segment')} offset {step.get('offset')}"
                click.echo(f"kfm-wal: note: {step.get('action')} at {where}", err=True)
            found = recover(wal, reexecute=reexecute, root=root_dir)
    else:
        with located(log=log_dir):
            found = plan(log_dir, reexecute=reexecute, root=root_dir)
    totals = summary(found)
    _emit(list(found), totals, apply_, as_json)
    if not as_json and totals["left_pending"]:
        hint = ""
        if any("is not registered" in r.message for r in found):
            hint = "; import the module that registers the custom actions with --actions MODULE"
        left = totals["left_pending"]
        click.echo(f"kfm-wal: {left} operation(s) left pending for a person in {shown(log_dir)}{hint}", err=True)
    return INVALID_LOG if totals["left_pending"] else 0


__all__ = ["recover_cmd"]
