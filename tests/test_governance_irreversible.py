"""Irreversible operations: declared (governance.irreversible, signed by the approvers) and at the
tier the policy demands; the policy key, the decision, and the validation rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from kfm_wal import Wal, keys, verify
from kfm_wal.governance import IrreversibleDeclared, PolicyError, build_request, check, default_policy, parse_policy
from kfm_wal.ops import Write
from waltools import make_entry

ACTOR = {"type": "ci", "id": "etl-runner"}


def test_default_policy_demands_tier_3_for_irreversible_operations() -> None:
    assert default_policy().irreversible_min_tier == 3


def test_policy_key_is_validated() -> None:
    tiers = b"".join(
        b"[tiers.%d]\napprovals = 0\nroles = []\nsnapshot_required = false\noperations = [%s]\n"
        % (n, b'"rollback"' if n == 4 else b'"*"')
        for n in range(5)
    )
    base = b'version = 1\n[care]\noverride_role = "s"\n' + tiers
    assert parse_policy(base, "p.toml").irreversible_min_tier == 0
    assert parse_policy(base + b"[irreversible]\nmin_tier = 2\n", "p.toml").irreversible_min_tier == 2
    with pytest.raises(PolicyError, match="irreversible.min_tier"):
        parse_policy(base + b"[irreversible]\nmin_tier = 9\n", "p.toml")
    with pytest.raises(PolicyError, match="irreversible.when"):
        parse_policy(base + b"[irreversible]\nwhen = 1\n", "p.toml")


def test_decision_refuses_an_irreversible_operation_below_the_tier() -> None:
    request = build_request(
        [Write("a.csv", b"x")], actor=ACTOR, tier=2, governance={"care": "public", "irreversible": "external API call"}
    )
    decision = check(request, [], keys.Keyring(()), default_policy())
    assert not decision.allowed
    assert any("irreversible operations need tier 3" in r for r in decision.reasons)


def test_rule_flags_undeclared_or_low_tier_irreversible_intents(tmp_path: Path, key: keys.SigningKey) -> None:
    log = tmp_path / "wal"
    irreversible = {"irreversible": True, "reason": "sent an e-mail"}
    with Wal.create(log, key, durability="none") as w:
        w.append(
            make_entry(
                1, tier=3, reversal=irreversible, governance={"care": "public", "irreversible": "sent an e-mail"}
            )
        )
        w.append(make_entry(2, tier=3, reversal=irreversible, governance={"care": "public"}))
        w.append(
            make_entry(
                3, tier=1, reversal=irreversible, governance={"care": "public", "irreversible": "sent an e-mail"}
            )
        )
        w.append(make_entry(4))
    report = verify(log, rules=[IrreversibleDeclared()])
    found = [(f.seq, f.message) for f in report.findings]
    assert len(found) == 2
    assert "without a declaration" in found[0][1] and "need tier 3" in found[1][1]
