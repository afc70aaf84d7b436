"""Every operation of tier >= 1 is decided by the governance policy and written to the governance
ledger, whichever API runs it (ops.run, prepare/execute, run_batch, undo, the CLI); the shipped
policy when none is given. A refusal records nothing in the log and leaves the roots untouched."""

from __future__ import annotations

from pathlib import Path

import kfm_wal
import pytest
from clitools import assert_one_error_line, run
from governtools import ACTOR, files_of, governed_log, meta, statuses
from kfm_wal import ops, snapshots
from kfm_wal.errors import UsageError
from kfm_wal.governance import ApprovalsValid, GovernanceError, default_policy
from kfm_wal.governance.gate import Governor


def records(log: Path) -> int:
    return sum(1 for _ in kfm_wal.records(log))


def test_tier_1_without_approvals_is_refused_before_anything_is_recorded(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        before = records(g.log)
        with pytest.raises(GovernanceError, match="tier 1 needs 1 approval"):
            ops.run(wal, [ops.Write("a.csv", b"id\n" * 3000)], **meta(1), root=g.root)
    assert records(g.log) == before
    assert not g.root.exists() or files_of(g.root) == {}
    assert not (g.log / "blobs").exists() or not any((g.log / "blobs").rglob("sha256*"))
    assert statuses(g.decisions()) == [("refused", None)]
    assert kfm_wal.verify(g.log).ok and kfm_wal.verify(g.ledger).ok


def test_tier_1_with_approvals_runs_and_is_in_the_ledger_with_its_outcome(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        done = ops.run(wal, [ops.Write("a.csv", b"id\n")], **meta(1), root=g.root, governor=g.governor("bo"))
        intent = wal.intent(done.wal_id)
    assert done.status == "succeeded"
    assert intent is not None and intent.body["governance"]["policy"] == default_policy().version_hash
    [d] = g.decisions()
    assert (d["decision"], d["wal_id"], d["status"]) == ("allowed", done.wal_id, "succeeded")
    ring = kfm_wal.keys.load_keyring(tmp_path / "keys" / "keyring.json")
    assert kfm_wal.verify(g.log, rules=[ApprovalsValid(default_policy(), ring)]).ok


def test_tier_0_is_not_decided_and_leaves_no_ledger(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        assert ops.run(wal, [ops.Write("a.csv", b"x")], **meta(0), root=g.root).status == "succeeded"
    assert not g.ledger.exists()


def test_prepare_and_execute_are_decided_and_recorded(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        with pytest.raises(GovernanceError):
            ops.prepare(wal, [ops.Write("a.csv", b"x")], **meta(2), root=g.root)
        prepared = ops.prepare(wal, [ops.Write("a.csv", b"x")], **meta(2), root=g.root, governor=g.governor("bo"))
        ops.execute(wal, prepared)
    assert statuses(g.decisions()) == [("refused", None), ("allowed", "succeeded")]


def test_a_batch_is_decided_per_operation_and_ledgered_in_one_group(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    specs = [
        ops.OperationSpec([ops.Write(f"c{i}.csv", b"%d" % i)], ACTOR, 1, {"care": "public"}, {"id": "b"})
        for i in range(20)
    ]
    with g.open() as wal:
        results = ops.run_batch(wal, specs, root=g.root, governor=g.governor("cy"))
    assert [r.status for r in results] == ["succeeded"] * 20
    facts = g.decisions()
    assert [f["wal_id"] for f in facts] == [r.wal_id for r in results]
    # one group: every record of the batch names the ledger head before it (the empty ledger's)
    heads = {r.body["pre_state_hash"] for r in kfm_wal.records(g.ledger, kind="intent")}
    assert len(heads) == 1


def test_one_refused_operation_refuses_the_whole_batch_before_anything_is_recorded(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    specs = [
        ops.OperationSpec([ops.Write(f"c{i}.csv", b"x")], ACTOR, 1, {"care": "public"}, {"id": "b"}) for i in range(5)
    ]
    specs[3] = ops.OperationSpec([ops.Write("c3.csv", b"x")], ACTOR, 3, {"care": "public"}, {"id": "b"})  # needs 2
    with g.open() as wal:
        before = records(g.log)
        with pytest.raises(GovernanceError, match=r"1 of 5 operations of the batch refused"):
            ops.run_batch(wal, specs, root=g.root, governor=g.governor("bo"))
    assert records(g.log) == before and files_of(g.root) == {}
    assert statuses(g.decisions()) == [("refused", None)]


def test_undo_is_decided_like_any_operation(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        done = ops.run(wal, [ops.Write("a.csv", b"x")], **meta(1), root=g.root, governor=g.governor("bo"))
        with pytest.raises(GovernanceError, match="tier 1 needs 1 approval"):
            ops.undo(wal, done.wal_id, actor=ACTOR, telemetry={"id": "u"})  # the original's approvals do not carry
        assert (g.root / "a.csv").exists()
        undone = ops.undo(wal, done.wal_id, actor=ACTOR, telemetry={"id": "u"}, governor=g.governor("di"))
    assert undone.status == "succeeded" and not (g.root / "a.csv").exists()
    assert [(d["operation"], d["decision"]) for d in g.decisions()] == [
        ("etl_step", "allowed"),
        ("rollback", "refused"),
        ("rollback", "allowed"),
    ]


def test_without_the_ledger_key_a_governed_operation_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    key = kfm_wal.keys.load(tmp_path / "keys" / "writer.pem")
    (tmp_path / "keys" / "writer.pem").unlink()
    with kfm_wal.Wal.open(g.log, key) as wal:
        before = records(g.log)
        with pytest.raises(UsageError, match="signing key .*writer.pem is missing"):
            ops.run(wal, [ops.Write("a.csv", b"x")], **meta(1), root=g.root, governor=Governor.for_log(g.log))
    assert records(g.log) == before and not g.ledger.exists()


def test_cli_run_of_tier_1_without_approvals_is_one_error_line_and_a_ledger_refusal(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    spec = tmp_path / "spec.json"
    spec.write_text(
        '{"actor": {"type": "developer", "id": "ana"}, "tier": 1, "governance": {"care": "public"},'
        ' "telemetry": {"id": "t"}, "actions": [{"type": "file.write", "path": "a.csv", "text": "x"}]}'
    )
    before = records(g.log)
    out = run("run", g.log, spec)
    assert_one_error_line(out, "refused by governance policy", "tier 1 needs 1 approval")
    assert records(g.log) == before and not (tmp_path / "processed").exists()
    assert statuses(g.decisions()) == [("refused", None)]
    assert run("validate", g.log).exit_code == 0


def test_an_irreversible_operation_must_be_declared_where_its_approvers_sign(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    sent: list[dict[str, object]] = []
    ops.register_action(
        "notify",
        execute=lambda p: sent.append(dict(p)),
        state=lambda p: {"sent": "no"},
        expect=lambda p: {"sent": "no"},
        irreversible="a sent message cannot be recalled",
    )
    try:
        with g.open() as wal:
            snapshots.create(wal, "s")  # tier 3 requires one, recorded before
            with pytest.raises(GovernanceError, match=r"without a declaration \(governance.irreversible\)"):
                ops.run(
                    wal,
                    [ops.Custom("notify", {"to": "ops"})],
                    **meta(3, governance={"care": "public", "snapshot": "s"}),
                    irreversible="a sent message cannot be recalled",
                    governor=g.governor("bo", "cy"),
                )
            declared = {"care": "public", "snapshot": "s", "irreversible": "a sent message cannot be recalled"}
            done = ops.run(
                wal,
                [ops.Custom("notify", {"to": "ops"})],
                **meta(3, governance=declared),
                irreversible="a sent message cannot be recalled",
                governor=g.governor("bo", "cy"),
            )
        assert done.status == "succeeded" and sent == [{"to": "ops"}]
    finally:
        ops.unregister_action("notify")


def test_a_batch_needing_no_approval_is_judged_once_and_each_operation_still_ledgered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kfm_wal.governance import gate, parse_policy
    from kfm_wal.governance.policy import default_policy_bytes

    g = governed_log(tmp_path)
    lenient = default_policy_bytes().replace(
        b'[tiers.1]\napprovals = 1\nroles = ["maintainer", "reviewer", "data-steward"]',
        b'[tiers.1]\napprovals = 0\nroles = ["maintainer", "reviewer", "data-steward"]',
    )
    policy = parse_policy(lenient, "lenient.toml")
    assert policy.tier(1).approvals == 0
    judged = []
    real = gate.check
    monkeypatch.setattr(gate, "check", lambda *a: judged.append(a) or real(*a))
    specs = [
        ops.OperationSpec([ops.Write(f"c{i}.csv", b"%d" % i)], ACTOR, 1, {"care": "public"}, {"id": "b"})
        for i in range(30)
    ]
    with g.open() as wal:
        results = ops.run_batch(wal, specs, root=g.root, governor=Governor.for_log(g.log, policy=policy))
    assert len(judged) == 1
    facts = g.decisions()
    assert [f["wal_id"] for f in facts] == [r.wal_id for r in results]
    assert len({f["request_digest"] for f in facts}) == 30 and {f["policy"] for f in facts} == {policy.version_hash}
