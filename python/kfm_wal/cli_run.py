"""`kfm-wal run` and `kfm-wal request`: one recorded operation from a JSON spec (kfm_wal.run_spec),
run through kfm_wal.ops (recorded before it runs, completed, undoable), or governed by a policy
when one is given; and the canonical request `kfm-wal approve` signs for it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from . import keys, provision
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_errors import CliError, located
from .wal import Wal


def _spec(spec_file: Path) -> Any:
    from . import run_spec

    with located(file=spec_file):
        return run_spec.load(spec_file)


@cli.command("run")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("spec_file", metavar="SPEC.json", type=FILE)
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@click.option("--policy", "policy_file", type=FILE, help="Govern the run by this policy (TOML); needs --keyring.")
@click.option("--keyring", "keyring_file", type=FILE, help="Keys and roles the approvals are checked against.")
@click.option(
    "--ledger", "ledger_dir", type=LOG_DIR, help="Governance ledger. Default: <parent of DIR>/governance/ledger."
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def run_cmd(
    log_dir: Path,
    spec_file: Path,
    key_file: Path | None,
    policy_file: Path | None,
    keyring_file: Path | None,
    ledger_dir: Path | None,
    as_json: bool,
) -> None:
    """Run the operation SPEC.json describes (files, STAC, graph), recorded in the log in DIR."""
    from . import ops

    spec = _spec(spec_file)
    if (policy_file is None) != (keyring_file is None):
        raise click.UsageError("--policy and --keyring go together")
    if spec.approvals and policy_file is None:
        raise CliError("the spec carries approvals: give --policy and --keyring to check them", f"file {spec_file}")
    require_log(log_dir)
    key = load_key(key_file or provision.default_key_path(log_dir))
    with located(log=log_dir), Wal.open(log_dir, key) as wal:
        if policy_file is None:
            result = ops.run(wal, spec.actions, **spec.options, **spec.roots)
        else:
            result = _governed(
                wal, spec, key, policy_file, keyring_file, ledger_dir or log_dir.parent / "governance" / "ledger"
            )
    fields = ("wal_id", "operation", "status", "pre_state_hash", "post_state_expected", "post_state_hash", "error")
    outcome = {f: getattr(result, f) for f in fields}
    if as_json:
        click.echo(orjson.dumps(outcome).decode())
    else:
        click.echo(f"{outcome['operation']} {outcome['wal_id']} {outcome['status']} (seq {result.completion.seq})")


def _governed(
    wal: Wal, spec: Any, key: keys.SigningKey, policy_file: Path, keyring_file: Path | None, ledger_dir: Path
) -> Any:
    from . import governance

    if not spec.files_only:
        raise CliError("a governed run takes file actions only (write, delete, move)", f"file {spec.source}")
    assert keyring_file is not None  # checked with --policy
    with located(file=policy_file):
        policy = governance.load_policy(policy_file)
    with located(file=keyring_file):
        ring = keys.load_keyring(keyring_file)
    options = dict(spec.options)
    if options.pop("irreversible", None) is not None:
        raise CliError("declare an irreversible governed operation in governance.irreversible", f"file {spec.source}")
    with governance.Ledger.open(ledger_dir, key) as ledger:
        return governance.governed_run(
            wal,
            spec.actions,
            **options,
            approvals=spec.approvals,
            policy=policy,
            keyring=ring,
            ledger=ledger,
            **{k: v for k, v in spec.roots.items() if k == "root"},  # file actions act on the data root only
        )


@cli.command()
@click.argument("spec_file", metavar="SPEC.json", type=FILE)
@click.option("--out", "out_file", type=FILE, help="Write the request here instead of stdout.")
def request(spec_file: Path, out_file: Path | None) -> None:
    """Print the canonical approval request of SPEC.json, the JSON `kfm-wal approve` signs."""
    from . import governance

    spec = _spec(spec_file)
    if not spec.files_only:
        raise CliError("approval requests cover file actions only (write, delete, move)", f"file {spec_file}")
    fields = ("actor", "tier", "governance", "lineage_links", "operation")
    built = governance.build_request(spec.actions, **{k: spec.options[k] for k in fields if k in spec.options})
    data = orjson.dumps(built, option=orjson.OPT_INDENT_2) + b"\n"
    if out_file is not None:
        out_file.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


__all__ = ["request", "run_cmd"]
