"""Helpers for the snapshot and rollback tests (no tests here): approvers with the roles the
default policy's tier 4 demands, and one call that signs and applies a rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfm_wal import Wal, keys, rollback
from kfm_wal.governance import approve, default_policy
from kfm_wal.keys import Keyring

ACTOR = {"type": "developer", "id": "alice"}


class Approvers:
    """A maintainer and a data steward, trusted by `ring`."""

    def __init__(self) -> None:
        self.maintainer, self.steward = keys.generate(), keys.generate()
        self.ring = (
            Keyring(())
            .with_key(self.maintainer, ("maintainer",), "maint")
            .with_key(self.steward, ("data-steward",), "steward")
        )

    def sign(self, request: dict[str, Any]) -> list[dict[str, str]]:
        return [approve(request, self.maintainer, "maintainer"), approve(request, self.steward, "data-steward")]


def signed_request(
    log: Path, to: str | int, people: Approvers, *, snapshot: str | None = None, cross: bool = False
) -> list[dict[str, str]]:
    """The approvals of the rollback of `log` to `to` as `apply` will build its request."""
    plan = rollback.plan_of(log, to)
    gov = rollback.governance_for(plan, snapshot=snapshot or rollback.current_snapshot(plan), cross_irreversible=cross)
    return people.sign(rollback.request_for(plan, ACTOR, gov))


def roll_back(wal: Wal, to: str | int, people: Approvers, **options: Any) -> rollback.RollbackResult:
    approvals = signed_request(
        wal.path, to, people, snapshot=options.get("snapshot"), cross=options.get("cross_irreversible", False)
    )
    return rollback.apply(
        wal, to, actor=ACTOR, approvals=approvals, policy=default_policy(), keyring=people.ring, **options
    )
