"""Errors of the governance layer. Both derive from kfm_wal.WalError."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError, WalError

if TYPE_CHECKING:
    from .decision import Decision


class PolicyError(UsageError):
    """A policy file is unreadable or invalid. `.file` names the file, `.key` the dotted key at
    fault (e.g. "tiers.2.roles"), or None when the whole file is at fault."""

    file: str | None = None
    key: str | None = None


class GovernanceError(WalError):
    """The policy refuses an operation; nothing was executed. `.decision` holds every reason and
    `.ledger_receipt` the receipt of the refusal recorded in the governance ledger (if any)."""

    decision: Decision | None = None
    ledger_receipt: object | None = None


def policy_error(file: str, key: str | None, problem: str) -> PolicyError:
    err = PolicyError(f"{file}: {key}: {problem}" if key else f"{file}: {problem}")
    err.file, err.key = file, key
    return err


__all__ = ["GovernanceError", "PolicyError"]
