"""The governance options the operation commands share (`run`, `retry`): which policy decides,
which keyring the approvals are checked against, where the governance ledger is. Every operation
of tier >= 1 (and every hotfix) is decided by the policy, the shipped one when --policy is not
given, and recorded in the ledger, whichever command runs it (kfm_wal/ops/governed.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import keys, provision
from .cli_app import FILE, LOG_DIR
from .cli_errors import located

F = TypeVar("F", bound=Callable[..., Any])


def governance_options(f: F) -> F:
    """--policy, --keyring and --ledger, passed on as policy_file, keyring_file and ledger_dir."""
    f = click.option(
        "--ledger", "ledger_dir", type=LOG_DIR, help="Governance ledger. Default: <parent of DIR>/governance/ledger."
    )(f)
    f = click.option(
        "--keyring",
        "keyring_file",
        type=FILE,
        help="Keys and roles the approvals are checked against. Default: <parent of DIR>/keys/keyring.json.",
    )(f)
    return click.option(
        "--policy", "policy_file", type=FILE, help="Governance policy (TOML). Default: the shipped policy."
    )(f)


def governor(
    log_dir: Path, key: keys.SigningKey, policy_file: Path | None, keyring_file: Path | None, ledger_dir: Path | None
) -> Any:
    """The Governor of a command: the files given, else the defaults next to the log; the ledger is
    signed with the writer key. Every file is read (and checked) before anything is written."""
    from . import governance
    from .governance.gate import Governor

    policy = ring = None
    if policy_file is not None:
        with located(file=policy_file):
            policy = governance.load_policy(policy_file)
    ring_file = keyring_file or provision.default_keyring_path(log_dir)
    if keyring_file is not None or ring_file.exists():
        with located(file=ring_file):
            ring = keys.load_keyring(ring_file)
    gov = Governor.for_log(log_dir, policy=policy, keyring=ring, key=key)
    if ledger_dir is not None:
        gov.ledger_path = ledger_dir.absolute()
    return gov


__all__ = ["governance_options", "governor"]
