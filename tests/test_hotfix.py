"""Hotfixes: operation "hotfix", tier 0-3, decided by the policy's hotfix rules at every tier (the
default policy grades them: more approvals, and a snapshot recorded before them at tiers 2-3), tier 4 refused
pointing at rollback; each one in the governance ledger. From Python (ops.hotfix) and the shell
(`kfm-wal run` with "operation": "hotfix")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kfm_wal
import pytest
from clitools import assert_one_error_line, run
from governtools import files_of, governed_log, meta, statuses
from kfm_wal import ops, snapshots
from kfm_wal.governance import GovernanceError, PolicyError, approve, build_request, default_policy, parse_policy
from kfm_wal.governance.policy import HOTFIX_TIERS, default_policy_bytes


def test_the_default_policy_grades_hotfixes_by_tier() -> None:
    policy = default_policy()
    rules = [policy.rule(t, "hotfix") for t in HOTFIX_TIERS]
    approvals = [r.approvals for r in rules]
    assert approvals == sorted(approvals) and approvals[0] >= 1 and approvals[-1] > approvals[0]
    assert [r.snapshot_required for r in rules] == [False, False, True, True]
    assert all(policy.rule(t, "hotfix").approvals >= policy.rule(t, "etl_step").approvals for t in HOTFIX_TIERS)
    assert policy.rule(4, "hotfix") is policy.tier(4)  # no hotfix rule at tier 4: rollback's


def test_a_policy_cannot_give_hotfixes_tier_4() -> None:
    bad = default_policy_bytes() + b"\n[hotfix.tiers.4]\napprovals = 9\nroles = []\nsnapshot_required = true\n"
    with pytest.raises(PolicyError, match=r"hotfix\.tiers\.4: tier 4 is reserved for rollback"):
        parse_policy(bad, "p.toml")
    with pytest.raises(PolicyError, match=r"hotfix\.tiers\.1\.operations: unknown key"):
        parse_policy(
            default_policy_bytes().replace(b"[hotfix.tiers.1]\n", b'[hotfix.tiers.1]\noperations = ["*"]\n'), "p.toml"
        )


def test_a_tier_0_hotfix_is_decided_and_ledgered(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        with pytest.raises(GovernanceError, match="a hotfix at tier 0 needs 1 approval"):
            ops.hotfix(wal, [ops.Write("a.csv", b"fix")], **meta(0), root=g.root)
        done = ops.hotfix(wal, [ops.Write("a.csv", b"fix")], **meta(0), root=g.root, governor=g.governor("bo"))
    assert done.operation == "hotfix" and (g.root / "a.csv").read_bytes() == b"fix"
    assert statuses(g.decisions()) == [("refused", None), ("allowed", "succeeded")]


def test_a_tier_2_hotfix_needs_two_approvals_and_a_snapshot(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        with pytest.raises(GovernanceError) as refused:
            ops.hotfix(wal, [ops.Write("a.csv", b"fix")], **meta(2), root=g.root, governor=g.governor("bo"))
        assert refused.value.decision is not None
        reasons = refused.value.decision.reasons
        assert any("a hotfix at tier 2 requires a snapshot first" in r for r in reasons)
        assert any("a hotfix at tier 2 needs 2 approval(s)" in r for r in reasons)
        assert files_of(g.root) == {}
        fix = {"root": g.root, "governor": g.governor("bo", "cy")}
        with pytest.raises(GovernanceError, match="names 'snap-1', which is no snapshot recorded in the log"):
            ops.hotfix(wal, [ops.Write("a.csv", b"fix")], **meta(2), snapshot="snap-1", **fix)
        snapshots.create(wal, "snap-1")
        done = ops.hotfix(wal, [ops.Write("a.csv", b"fix")], **meta(2), snapshot="snap-1", **fix)
        intent = wal.intent(done.wal_id)
    assert done.status == "succeeded" and intent is not None
    assert intent.body["governance"]["snapshot"] == "snap-1" and len(intent.body["governance"]["approvals"]) == 2
    assert statuses(g.decisions()) == [("refused", None), ("refused", None), ("allowed", "succeeded")]


def test_a_tier_4_hotfix_is_refused_pointing_at_rollback(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        before = sum(1 for _ in wal.records())
        with pytest.raises(GovernanceError, match="a hotfix cannot be tier 4.*roll the change back"):
            ops.hotfix(
                wal, [ops.Write("a.csv", b"x")], **meta(4), snapshot="s", root=g.root, governor=g.governor("bo", "cy")
            )
        assert sum(1 for _ in wal.records()) == before
    assert files_of(g.root) == {} and statuses(g.decisions()) == [("refused", None)]


def _spec(tmp_path: Path, tier: int, **extra: Any) -> Path:
    doc = {
        "operation": "hotfix",
        "actor": {"type": "developer", "id": "ana"},
        "tier": tier,
        "governance": {"care": "public"},
        "telemetry": {"id": "fix-1"},
        "root": "processed",
        "actions": [{"type": "file.write", "path": "a.csv", "text": "fixed\n"}],
        **extra,
    }
    path = tmp_path / f"hotfix-{tier}.json"
    path.write_text(json.dumps(doc))
    return path


def test_cli_hotfix_from_a_spec(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    before = sum(1 for _ in kfm_wal.records(g.log))
    refused = run("run", g.log, _spec(tmp_path, 4, governance={"care": "public", "snapshot": "s"}))
    assert_one_error_line(refused, "a hotfix cannot be tier 4", "roll the change back")
    missing = run("run", g.log, _spec(tmp_path, 1))
    assert_one_error_line(missing, "a hotfix at tier 1 needs 1 approval(s)")
    assert sum(1 for _ in kfm_wal.records(g.log)) == before and files_of(tmp_path / "processed") == {}
    assert run("validate", g.log).exit_code == 0

    request = build_request(
        [ops.Write("a.csv", b"fixed\n")],
        actor={"type": "developer", "id": "ana"},
        tier=1,
        governance={"care": "public"},
        operation="hotfix",
    )
    approval = approve(request, g.reviewers["bo"], "maintainer")
    done = run("run", g.log, _spec(tmp_path, 1, approvals=[approval]), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["operation"] == "hotfix"
    assert (tmp_path / "processed" / "a.csv").read_text() == "fixed\n"
    assert statuses(g.decisions()) == [("refused", None), ("refused", None), ("allowed", "succeeded")]
