"""What the operation commands share about governance (`run`, `undo`, `retry`): which policy
decides, which keyring the approvals are checked against, where the governance ledger is, the
approvals given (--approvals, `kfm-wal approve` output) and the request printed for them. Every
operation of tier >= 1 (and every hotfix) is decided by the policy, the shipped one when --policy
is not given, and recorded in the ledger, whichever command runs it (kfm_wal/ops/governed.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from . import keys, provision
from .cli_app import FILE, LOG_DIR
from .cli_errors import CliError, located, shown
from .errors import WalError

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


def approvals_option(f: F) -> F:
    """--approvals FILE (repeatable), passed on as approvals_files."""
    return click.option(
        "--approvals",
        "approvals_files",
        type=FILE,
        multiple=True,
        help="Approvals of the operation's request (`kfm-wal approve` output: one approval or an array); "
        "repeat for several approvers.",
    )(f)


def request_options(what: str) -> Callable[[F], F]:
    """--request and --out, passed on as request_only and out_file: print `what`'s approval request
    (what `kfm-wal approve` signs) instead of recording anything. Check them with `request_mode`."""

    def options(f: F) -> F:
        f = click.option(
            "--out", "out_file", type=FILE, help="With --request: write the request here instead of stdout."
        )(f)
        return click.option(
            "--request",
            "request_only",
            is_flag=True,
            help=f"Print the {what}'s approval request (what `kfm-wal approve` signs) and record nothing.",
        )(f)

    return options


def request_mode(request_only: bool, out_file: Path | None) -> bool:
    """Whether the command prints its request; --out without --request is a usage error."""
    if out_file is not None and not request_only:
        raise click.UsageError("--out goes with --request (the request is what it writes)")
    return request_only


def read_approvals(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The approvals in `paths`, in order; each file holds one approval object or an array."""
    found: list[dict[str, Any]] = []
    for path in paths:
        with located(file=path):
            try:
                data = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError as e:
                raise CliError(f"not JSON: {e}", f"file {shown(path)}") from None
        data = [data] if isinstance(data, dict) else data
        if not isinstance(data, list) or not all(isinstance(a, dict) for a in data):
            raise CliError("approvals: a JSON approval object or an array of them is required", f"file {shown(path)}")
        found.extend(data)
    return found


def actor(text: str) -> dict[str, str]:
    """--actor TYPE:ID as an actor object."""
    kind, _, ident = text.partition(":")
    if kind not in ("developer", "ci", "system") or not ident:
        raise click.BadParameter(
            f"{text!r}: expected TYPE:ID with TYPE developer, ci or system", param_hint="'--actor'"
        )
    return {"type": kind, "id": ident}


def print_request(request: Mapping[str, Any], out_file: Path | None = None) -> None:
    """An approval request as indented JSON, to `out_file` or stdout (what `kfm-wal approve` reads)."""
    data = orjson.dumps(request, option=orjson.OPT_INDENT_2) + b"\n"
    if out_file is None:
        sys.stdout.buffer.write(data)
        return
    with located(file=out_file):
        out_file.write_bytes(data)


@contextmanager
def refusal_hint(log_dir: Path, how: str) -> Iterator[None]:
    """A governance refusal of an operation no approval counted for, as one line that also says
    how to get its approvals."""
    try:
        yield
    except WalError as e:
        from .governance.errors import GovernanceError  # the governance layer loads with the command

        decision = getattr(e, "decision", None)
        if not isinstance(e, GovernanceError) or decision is None or any(a["counted"] for a in decision.approvals):
            raise
        raise CliError(f"{e}; to approve it: {how}", f"log {shown(log_dir)}") from None


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


__all__ = [
    "actor",
    "approvals_option",
    "governance_options",
    "governor",
    "print_request",
    "read_approvals",
    "refusal_hint",
    "request_mode",
    "request_options",
]
