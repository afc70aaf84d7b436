"""Validation rules for `kfm_wal.verify(path, rules=[...])` over a log of governed operations.

- `ApprovalsValid` ("gov.approvals"): every intent's governance.approvals, re-checked against the
  policy and keyring given (signatures over the request the intent answers to, roles, counts,
  self-approval, CARE demands). One finding per reason.
- `CareMetadataValid` ("gov.care"): every intent carries a CARE label; sensitive ones declare a
  masking step; restricted ones carry an approval claiming the override role (its signature is
  gov.approvals' business). Needs no keyring.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import UsageError
from ..keys import Keyring
from ..reader import Record
from ..verify_rules import IntentRule
from .approvals import check, request_from_intent
from .policy import CARE_LABELS, Policy, default_policy
from .snapshot import declared as _declared


class ApprovalsValid(IntentRule):
    id = "gov.approvals"
    description = "every intent's approvals satisfy the governance policy and verify against the keyring"

    def __init__(self, policy: Policy, keyring: Keyring) -> None:
        self.policy, self.keyring = policy, keyring

    def check_intent(self, record: Record) -> Iterable[str]:
        body = record.body
        governance = body.get("governance")
        approvals: Any = governance.get("approvals", []) if isinstance(governance, dict) else []
        try:
            decision = check(request_from_intent(body), approvals, self.keyring, self.policy)
        except UsageError as e:
            yield f"intent cannot be judged: {e}"
            return
        recorded = governance.get("policy") if isinstance(governance, dict) else None
        under = f" (recorded under policy {recorded})" if recorded and recorded != self.policy.version_hash else ""
        for reason in decision.reasons:
            yield reason + under


class _UnderPolicy(IntentRule):
    """An intent rule judged under a policy (default: the shipped one); needs no keyring."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or default_policy()


class CareMetadataValid(_UnderPolicy):
    id = "gov.care"
    description = "intents carry a CARE label and the metadata it demands (masking, override approval)"

    def check_intent(self, record: Record) -> Iterable[str]:
        governance = record.body.get("governance")
        if not isinstance(governance, dict):
            yield "intent has no governance object"
            return
        care = governance.get("care")
        if care not in CARE_LABELS:
            yield f"governance.care is {care!r}, not one of {', '.join(CARE_LABELS)}"
        elif care == "sensitive" and self.policy.masking_required and not _declared(governance.get("masking")):
            yield "sensitive data needs a declared masking step (governance.masking)"
        elif care == "restricted":
            approvals = governance.get("approvals")
            roles = [a.get("role") for a in approvals if isinstance(a, dict)] if isinstance(approvals, list) else []
            if self.policy.override_role not in roles:
                yield f"restricted data needs an approval with role {self.policy.override_role}"


class IrreversibleDeclared(_UnderPolicy):
    """An intent whose reversal says irreversible carries the signed declaration
    (governance.irreversible) and at least the tier the policy demands for that."""

    id = "gov.irreversible"
    description = "irreversible operations are declared and use the tier the policy demands"

    def check_intent(self, record: Record) -> Iterable[str]:
        reversal = record.body.get("reversal")
        if not (isinstance(reversal, dict) and reversal.get("irreversible") is True):
            return
        governance = record.body.get("governance")
        if not (isinstance(governance, dict) and _declared(governance.get("irreversible"))):
            yield "irreversible operation without a declaration (governance.irreversible) for its approvers"
        tier = record.body.get("tier")
        if isinstance(tier, int) and tier < self.policy.irreversible_min_tier:
            yield f"irreversible operations need tier {self.policy.irreversible_min_tier} or higher; got tier {tier}"


__all__ = ["ApprovalsValid", "CareMetadataValid", "IrreversibleDeclared"]
