"""`kfm-wal retry DIR WAL_ID`: re-run a failed, refused or reversed operation from its logged
intent as a new operation "retry" linked to it (kfm_wal.ops.retry), decided by the governance
policy when it governs it (tier >= 1, or the retry of a hotfix: the hotfix's approvals)."""

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
@click.option("--actor", "actor_text", required=True, help="Who retries it, as TYPE:ID (developer:ana, ci:job-7).")
@click.option("--telemetry-id", help="The retry's telemetry id. Default: retry/<WAL_ID>.")
@request_options("retry")
@approvals_option
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@governance_options
@click.option("--json", "as_json", is_flag=True, help="Print the retry's outcome as JSON.")
def retry(
    log_dir: Path,
    wal_id: str,
    actor_text: str,
    telemetry_id: str | None,
    request_only: bool,
    out_file: Path | None,
    approvals_files: tuple[Path, ...],
    key_file: Path | None,
    policy_file: Path | None,
    keyring_file: Path | None,
    ledger_dir: Path | None,
    as_json: bool,
) -> None:
    """Re-run the failed, refused or reversed operation WAL_ID from its intent (payload and blob
    store), planned against the current state, as a new operation "retry". When the policy
    governs it, get its request with --request, have it signed (`kfm-wal approve`), pass
    --approvals."""
    from . import ops

    who = actor(actor_text)
    printing = request_mode(request_only, out_file)
    approvals = read_approvals(approvals_files)
    require_log(log_dir)
    key = load_key(key_file or provision.default_key_path(log_dir))
    if printing:
        with located(log=log_dir), Wal.open(log_dir, key) as wal:
            _note_recovery(wal)
            request = ops.retry_request(wal, wal_id, actor=who)
        print_request(request, out_file)
        return
    gov = governor(log_dir, key, policy_file, keyring_file, ledger_dir)
    how = "its request from `kfm-wal retry ... --request`, kfm-wal approve it, retry again with --approvals"
    with located(log=log_dir), refusal_hint(log_dir, how), Wal.open(log_dir, key) as wal:
        _note_recovery(wal)
        telemetry = {"id": telemetry_id or f"retry/{wal_id}"}
        result = ops.retry(wal, wal_id, actor=who, telemetry=telemetry, approvals=approvals, governor=gov)
    print_outcome(result, as_json, retries=wal_id)


__all__ = ["retry"]
