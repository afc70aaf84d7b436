"""`kfm-wal retry DIR WAL_ID`: re-run a failed, refused or reversed operation from its logged
intent as a new operation "retry" linked to it (kfm_wal.ops.retry), decided by the governance
policy when it governs it (tier >= 1, or the retry of a hotfix: the hotfix's approvals)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from . import provision
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_errors import CliError, located
from .cli_governance import governance_options, governor
from .cli_run import print_outcome
from .cli_write import _actor
from .wal import Wal


def _approvals(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    with located(file=path):
        try:
            found = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as e:
            raise CliError(f"not JSON: {e}", f"file {path}") from None
    found = [found] if isinstance(found, dict) else found
    if not isinstance(found, list) or not all(isinstance(a, dict) for a in found):
        raise CliError("approvals: a JSON approval object or an array of them is required", f"file {path}")
    return found


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("wal_id")
@click.option("--actor", "actor_text", required=True, help="Who retries it, as TYPE:ID (developer:ana, ci:job-7).")
@click.option("--telemetry-id", help="The retry's telemetry id. Default: retry/<WAL_ID>.")
@click.option(
    "--approvals", "approvals_file", type=FILE, help="Approvals of the retry's request (`kfm-wal approve` output)."
)
@click.option(
    "--request",
    "request_only",
    is_flag=True,
    help="Print the retry's approval request (what `kfm-wal approve` signs) and record nothing.",
)
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@governance_options
@click.option("--json", "as_json", is_flag=True, help="Print the retry's outcome as JSON.")
def retry(
    log_dir: Path,
    wal_id: str,
    actor_text: str,
    telemetry_id: str | None,
    approvals_file: Path | None,
    request_only: bool,
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

    actor = _actor(actor_text)
    approvals = _approvals(approvals_file)
    require_log(log_dir)
    key = load_key(key_file or provision.default_key_path(log_dir))
    if request_only:
        with located(log=log_dir), Wal.open(log_dir, key) as wal:
            request = ops.retry_request(wal, wal_id, actor=actor)
        sys.stdout.buffer.write(orjson.dumps(request, option=orjson.OPT_INDENT_2) + b"\n")
        return
    gov = governor(log_dir, key, policy_file, keyring_file, ledger_dir)
    with located(log=log_dir), Wal.open(log_dir, key) as wal:
        telemetry = {"id": telemetry_id or f"retry/{wal_id}"}
        result = ops.retry(wal, wal_id, actor=actor, telemetry=telemetry, approvals=approvals, governor=gov)
    print_outcome(result, as_json, retries=wal_id)


__all__ = ["retry"]
