"""`kfm-wal undo DIR WAL_ID`: reverse a succeeded operation from its recorded reversal, as a new
operation "rollback" (kfm_wal.ops.undo), decided by the governance policy when it governs it (the
operation's tier >= 1, or a hotfix): `--request` prints the undo's approval request, `kfm-wal
approve` signs it, `--approvals` passes the signatures."""

from __future__ import annotations

from pathlib import Path

import click

from . import provision
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_errors import located
from .cli_governance import (
    actor,
    approvals_option,
    governance_options,
    governor,
    print_request,
    read_approvals,
    refusal_hint,
    request_mode,
    request_options,
)
from .cli_run import print_outcome
from .cli_write import _note_recovery
from .wal import Wal


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("wal_id")
@click.option("--actor", "actor_text", required=True, help="Who undoes it, as TYPE:ID (developer:ana, ci:job-7).")
@click.option("--telemetry-id", help="The undo's telemetry id. Default: undo/<WAL_ID>.")
@click.option("--root", "root_dir", type=LOG_DIR, help="The data root. Default: the one recorded in the operation.")
@request_options("undo")
@approvals_option
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@governance_options
@click.option("--json", "as_json", is_flag=True, help="Print the undo's outcome as JSON.")
def undo(
    log_dir: Path,
    wal_id: str,
    actor_text: str,
    telemetry_id: str | None,
    root_dir: Path | None,
    request_only: bool,
    out_file: Path | None,
    approvals_files: tuple[Path, ...],
    key_file: Path | None,
    policy_file: Path | None,
    keyring_file: Path | None,
    ledger_dir: Path | None,
    as_json: bool,
) -> None:
    """Reverse the succeeded operation WAL_ID from its recorded reversal and before-images: itself
    an operation "rollback" at WAL_ID's tier, recorded before it runs. When the policy governs it
    (tier >= 1, a hotfix), get its request with --request, have it signed (`kfm-wal approve`),
    pass --approvals."""
    from . import ops

    who = actor(actor_text)
    printing = request_mode(request_only, out_file)
    approvals = read_approvals(approvals_files)
    require_log(log_dir)
    key = load_key(key_file or provision.default_key_path(log_dir))
    if printing:
        with located(log=log_dir), Wal.open(log_dir, key) as wal:
            _note_recovery(wal)
            request = ops.undo_request(wal, wal_id, actor=who, root=root_dir)
        print_request(request, out_file)
        return
    gov = governor(log_dir, key, policy_file, keyring_file, ledger_dir)
    how = "its request from `kfm-wal undo ... --request`, kfm-wal approve it, undo again with --approvals"
    with located(log=log_dir), refusal_hint(log_dir, how), Wal.open(log_dir, key) as wal:
        _note_recovery(wal)
        telemetry = {"id": telemetry_id or f"undo/{wal_id}"}
        result = ops.undo(wal, wal_id, actor=who, telemetry=telemetry, approvals=approvals, root=root_dir, governor=gov)
    if as_json:
        print_outcome(result, True, undoes=wal_id)
        return
    click.echo(f"undid {wal_id}: operation {result.wal_id} {result.status} (seq {result.completion.seq})")


__all__ = ["undo"]
