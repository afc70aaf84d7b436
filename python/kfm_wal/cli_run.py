"""`kfm-wal run` and `kfm-wal request`: one recorded operation from a JSON spec (kfm_wal.run_spec),
run through kfm_wal.ops (recorded before it runs, completed, undoable; decided by the governance
policy when its tier is >= 1 or it is a hotfix); and the canonical request `kfm-wal approve`
signs for it, planned as `run` plans it (kfm_wal.ops.planned_request), for every action kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from . import provision
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_errors import located, shown
from .cli_governance import (
    approvals_option,
    governance_options,
    governor,
    print_request,
    read_approvals,
    refusal_hint,
)
from .wal import Wal


def _spec(spec_file: Path) -> Any:
    from . import run_spec

    with located(file=spec_file):
        return run_spec.load(spec_file)


@cli.command("run")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("spec_file", metavar="SPEC.json", type=FILE)
@approvals_option
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@governance_options
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def run_cmd(
    log_dir: Path,
    spec_file: Path,
    approvals_files: tuple[Path, ...],
    key_file: Path | None,
    policy_file: Path | None,
    keyring_file: Path | None,
    ledger_dir: Path | None,
    as_json: bool,
) -> None:
    """Run the operation SPEC.json describes (files, STAC, graph), recorded in the log in DIR.
    Tier >= 1 and hotfixes ("operation": "hotfix", tier 0-3) are decided by the governance policy
    with the approvals of the spec and of --approvals (signed over `kfm-wal request SPEC.json`),
    and recorded in the governance ledger."""
    from . import ops

    spec = _spec(spec_file)
    approvals = [*spec.approvals, *read_approvals(approvals_files)]
    require_log(log_dir)
    key = load_key(key_file or provision.default_key_path(log_dir))
    gov = governor(log_dir, key, policy_file, keyring_file, ledger_dir)
    options = dict(spec.options)
    if approvals:
        options["governance"] = {**options["governance"], "approvals": approvals}
    how = f"kfm-wal request {shown(spec_file)} > request.json, kfm-wal approve it, run again with --approvals"
    with located(log=log_dir), refusal_hint(log_dir, how), Wal.open(log_dir, key) as wal:
        result = ops.run(wal, spec.actions, **options, **spec.roots, governor=gov)
    print_outcome(result, as_json)


def print_outcome(result: Any, as_json: bool, **extra: Any) -> None:
    fields = ("wal_id", "operation", "status", "pre_state_hash", "post_state_expected", "post_state_hash", "error")
    outcome = {**extra, **{f: getattr(result, f) for f in fields}}
    if as_json:
        click.echo(orjson.dumps(outcome).decode())
    else:
        click.echo(f"{outcome['operation']} {outcome['wal_id']} {outcome['status']} (seq {result.completion.seq})")


@cli.command()
@click.argument("spec_file", metavar="SPEC.json", type=FILE)
@click.option("--out", "out_file", type=FILE, help="Write the request here instead of stdout.")
def request(spec_file: Path, out_file: Path | None) -> None:
    """Print the canonical approval request of SPEC.json, the JSON `kfm-wal approve` signs: the
    operation planned as `kfm-wal run` plans it (every action kind: files, STAC, graph, mixed),
    against the data as it is now; nothing is recorded. Its actions_digest holds while the targets
    stay as they are: a change in between makes `run` refuse the approvals."""
    from . import ops

    spec = _spec(spec_file)
    with located(file=spec_file):
        built = ops.planned_request(spec.actions, **spec.options, **spec.roots)
    print_request(built, out_file)


__all__ = ["print_outcome", "request", "run_cmd"]
