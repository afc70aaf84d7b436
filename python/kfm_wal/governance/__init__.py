"""Governance of the WAL boundary: a versioned policy (tiers, roles, CARE labels, hotfix rules),
approvals signed by keyring keys over a canonical request digest, the Governor that decides every
operation of tier >= 1 (and every hotfix) before kfm_wal.ops records it, a hash-chained
governance ledger, and validation rules.

    from kfm_wal.governance import Ledger, approve, build_request, default_policy, governed_run
    request = build_request(actions, actor=..., tier=2, governance={"care": "public"})
    approval = approve(request, reviewer_key, "maintainer")
    with Ledger.open("data/governance/ledger", key) as ledger:
        governed_run(wal, actions, actor=..., tier=2, governance={"care": "public"}, telemetry=...,
                     approvals=[approval], policy=default_policy(), keyring=ring, ledger=ledger)
"""

from .approvals import (
    APPROVAL_DOMAIN,
    Decision,
    approval_message,
    approve,
    build_request,
    canonical_request,
    check,
    request_actions,
    request_digest,
    request_from_intent,
)
from .errors import GovernanceError, PolicyError
from .gate import Approver, Governor
from .guard import governed_run
from .ledger import DEFAULT_LEDGER, LEDGER_FORMAT, Ledger
from .policy import (
    CARE_LABELS,
    TIERS,
    Policy,
    TierRule,
    default_policy,
    default_policy_bytes,
    load_policy,
    parse_policy,
)
from .policy_checks import ApprovalsValid, CareMetadataValid, IrreversibleDeclared

__all__ = [
    "APPROVAL_DOMAIN",
    "CARE_LABELS",
    "DEFAULT_LEDGER",
    "LEDGER_FORMAT",
    "TIERS",
    "ApprovalsValid",
    "CareMetadataValid",
    "IrreversibleDeclared",
    "Approver",
    "Decision",
    "Governor",
    "GovernanceError",
    "Ledger",
    "Policy",
    "PolicyError",
    "TierRule",
    "approval_message",
    "approve",
    "build_request",
    "canonical_request",
    "check",
    "default_policy",
    "default_policy_bytes",
    "governed_run",
    "load_policy",
    "parse_policy",
    "request_actions",
    "request_digest",
    "request_from_intent",
]
