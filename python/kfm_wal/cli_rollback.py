"""`kfm-wal rollback DIR --to SNAPSHOT|WAL_ID|SEQ`: the plan by default; with --apply, the
rollback as one tier-4 operation under the policy's approvals, all or nothing (kfm_wal.rollback)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from . import keys, provision
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_errors import INVALID_LOG, CliError, located, shown
from .cli_write import _actor
from .wal import Wal


def _approvals(files: tuple[Path, ...]) -> list[dict[str, Any]]:
    out = []
    for f in files:
        with located(file=f):
            try:
                doc = orjson.loads(f.read_bytes())
            except orjson.JSONDecodeError as e:
                raise CliError(f"not JSON: {e}", f"file {shown(f)}") from None
        if not isinstance(doc, dict):
            raise CliError("an approval is a JSON object {key_id, role, signature}", f"file {shown(f)}")
        out.append(doc)
    return out


def _plan_lines(plan: Any, snapshot: str | None) -> list[str]:
    lines = [
        f"rollback of {shown(plan.log)} to {plan.target.label}: the roots match the log "
        f"(audit: {plan.audited} operation(s) replayed)",
        f"{len(plan.reversals)} operation(s) to reverse, newest first"
        + (f"; {len(plan.crossed)} irreversible one(s) left in place" if plan.crossed else ""),
    ]
    for s in plan.steps:
        head = f"  seq {s.seq:<7} {s.operation:<16} {s.wal_id}"
        if s.action == "reverse":
            lines.append(head)
            lines += [f"      {w}" for w in s.what]
        else:
            lines.append(f"{head}  [{s.action}: {'; '.join(s.what)}]")
    lines.append("roots afterwards:")
    for r in plan.roots:
        now, after = plan.current.get(r.key), plan.expected.get(r.key)
        change = "unchanged" if now == after else f"{now} -> {after}"
        lines.append(f"  {r.role:<5} {shown(r.path)}: {change}")
    lines.append(
        "governed: tier 4 under the policy's approvals; governance.snapshot: "
        + (snapshot or "none (take one first: kfm-wal snapshot create DIR NAME)")
    )
    return lines


@cli.command("rollback")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--to", "to", required=True, help="A snapshot name, a wal_id (right after it) or a seq.")
@click.option("--apply", "apply_", is_flag=True, help="Do it. Without this flag, only show the plan.")
@click.option("--actor", "actor_text", help="Who rolls back, as TYPE:ID (needed with --apply and --request-out).")
@click.option("--approval", "approval_files", type=FILE, multiple=True, help="An approval (JSON), repeatable.")
@click.option("--policy", "policy_file", type=FILE, help="Governance policy (TOML). Default: the shipped one.")
@click.option("--keyring", "keyring_file", type=FILE, help="Approvers' keys and roles. Default: the log's keyring.")
@click.option("--snapshot", "snapshot", help="The snapshot taken first (default: the latest, if nothing came after).")
@click.option("--cross-irreversible", is_flag=True, help="Declare the irreversible operations left in place.")
@click.option("--request-out", "request_file", type=FILE, help="Write the approval request here (for approve).")
@click.option(
    "--ledger", "ledger_dir", type=LOG_DIR, help="Governance ledger. Default: <parent of DIR>/governance/ledger."
)
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan (or the outcome) as JSON.")
def rollback_cmd(
    log_dir: Path,
    to: str,
    apply_: bool,
    actor_text: str | None,
    approval_files: tuple[Path, ...],
    policy_file: Path | None,
    keyring_file: Path | None,
    snapshot: str | None,
    cross_irreversible: bool,
    request_file: Path | None,
    ledger_dir: Path | None,
    key_file: Path | None,
    as_json: bool,
) -> int:
    """Roll the roots back to SNAPSHOT, WAL_ID or SEQ: every later completed operation reversed,
    newest first. Shows the plan; --apply does it (tier 4: needs the policy's approvals)."""
    from . import governance, rollback

    if (apply_ or request_file) and not actor_text:
        raise click.UsageError("--apply and --request-out need --actor (it is part of what the approvers sign)")
    actor = _actor(actor_text) if actor_text else None
    require_log(log_dir)
    with located(log=log_dir):
        plan = rollback.plan_of(log_dir, to)
        named = snapshot or rollback.current_snapshot(plan)
        gov = rollback.governance_for(plan, snapshot=named, cross_irreversible=cross_irreversible)
    if request_file is not None and actor is not None:
        request_file.write_bytes(
            orjson.dumps(rollback.request_for(plan, actor, gov), option=orjson.OPT_INDENT_2) + b"\n"
        )
    if not apply_:
        if as_json:
            sys.stdout.buffer.write(
                orjson.dumps({**plan.as_dict(), "governance": gov}, option=orjson.OPT_INDENT_2) + b"\n"
            )
        else:
            for line in _plan_lines(plan, named):
                click.echo(line)
            if request_file is not None:
                click.echo(f"approval request written to {shown(request_file)} (kfm-wal approve signs it)")
            click.echo("dry run: nothing changed (use --apply)")
        return 0
    assert actor is not None
    with located(file=policy_file):
        policy = governance.load_policy(policy_file) if policy_file else governance.default_policy()
    ring_path = keyring_file or provision.default_keyring_path(log_dir)
    with located(file=ring_path):
        ring = keys.load_keyring(ring_path)
    approvals = _approvals(approval_files)
    key = load_key(key_file or provision.default_key_path(log_dir))
    ledger_path = ledger_dir or log_dir.parent / "governance" / "ledger"
    with located(log=log_dir), Wal.open(log_dir, key) as wal, governance.Ledger.open(ledger_path, key) as ledger:
        try:
            result = rollback.apply(
                wal,
                to,
                actor=actor,
                approvals=approvals,
                policy=policy,
                keyring=ring,
                snapshot=snapshot,
                cross_irreversible=cross_irreversible,
                ledger=ledger,
            )
        except rollback.RollbackError as e:
            if e.result is None:
                raise  # refused before anything was recorded: a usage error
            raise CliError(str(e), f"log {shown(log_dir)}", INVALID_LOG) from None  # failed, re-applied, recorded
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    elif result.status == "unchanged":
        click.echo(f"the roots are already at {result.target}: nothing to do, nothing recorded")
    else:
        click.echo(
            f"rolled back to {result.target}: {len(result.undone)} operation(s) reversed, "
            f"rollback {result.wal_id} succeeded (seq {result.completion_seq})"
        )
        for k, v in sorted(result.digests.items()):
            click.echo(f"  {k}: {v}")
    return 0


__all__ = ["rollback_cmd"]
