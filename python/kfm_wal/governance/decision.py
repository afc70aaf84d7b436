"""A governance decision: whether an operation may run, every reason when not, and how each
approval was judged. Made by `approvals.check`, carried by GovernanceError and the ledger; imports
nothing of the package."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: list[str]
    tier: int
    care: str
    request_digest: str
    policy: str  # version hash of the policy judged under
    approvals: list[dict[str, Any]] = field(default_factory=list)  # {key_id, role, valid, counted}

    def __bool__(self) -> bool:
        return self.allowed


__all__ = ["Decision"]
