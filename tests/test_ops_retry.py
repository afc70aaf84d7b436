"""ops.retry and `kfm-wal retry`: a failed, refused or reversed operation re-run from its logged
intent (payload + blob store, never the files as they are now) as a new operation "retry" linked
to it, planned against the current state. Refused with nothing recorded: a succeeded or pending
operation, one a later rollback of the same targets reversed, one already retried."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kfm_wal
import pytest
from clitools import assert_one_error_line, run
from governtools import ACTOR, files_of, governed_log, meta, statuses
from kfm_wal import Wal, ops
from kfm_wal.governance import GovernanceError
from kfm_wal.ops import durable

BIG = b"row\n" * 2000  # over the inline budget: the retry reads it from the blob store


def refused_op(wal: Wal, root: Path, **over: Any) -> str:
    """An operation refused because its target changed between planning and execution."""
    (root / "a.csv").parent.mkdir(parents=True, exist_ok=True)
    (root / "a.csv").write_bytes(b"old")
    prepared = ops.prepare(wal, [ops.Write("a.csv", BIG), ops.Write("b.csv", b"b")], **{**meta(0), **over}, root=root)
    (root / "a.csv").write_bytes(b"changed behind its back")
    with pytest.raises(ops.StateChangedError):
        ops.execute(wal, prepared)
    return prepared.wal_id


def records(log: Path) -> int:
    """Intents and completions (each append also seals: seal records are not counted)."""
    return sum(1 for r in kfm_wal.records(log) if r.kind in ("intent", "completion"))


def test_a_refused_operation_is_retried_from_its_intent_as_a_new_operation(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        original = refused_op(wal, g.root)
        first = wal.intent(original)
        done = ops.retry(wal, original, actor=ACTOR, telemetry={"id": "r"})
        intent = wal.intent(done.wal_id)
    assert done.status == "succeeded" and done.operation == "retry"
    assert intent is not None and first is not None
    assert intent.body["lineage_links"][0] == f"wal:{original}"
    assert intent.body["governance"]["retry_of"] == "etl_step" and intent.body["tier"] == first.body["tier"]
    assert intent.body["pre_state_hash"] != first.body["pre_state_hash"]  # planned against the state of now
    assert intent.body["post_state_expected"] == first.body["post_state_expected"]
    assert files_of(g.root) == {"a.csv": BIG, "b.csv": b"b"}
    assert kfm_wal.verify(g.log).ok


def test_a_reversed_operation_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = governed_log(tmp_path)
    real = durable.write_atomic

    def fail_b(path: Path, data: bytes, mode: int | None = None) -> None:
        if path.name == "b.csv":
            raise OSError(28, "No space left on device")
        real(path, data, mode)

    with g.open() as wal:
        monkeypatch.setattr(durable, "write_atomic", fail_b)
        with pytest.raises(ops.OperationFailedError) as failed:
            ops.run(wal, [ops.Write("a.csv", b"a"), ops.Write("b.csv", b"b")], **meta(0), root=g.root)
        assert failed.value.result is not None and failed.value.result.status == "reversed"
        monkeypatch.setattr(durable, "write_atomic", real)
        done = ops.retry(wal, failed.value.result.wal_id, actor=ACTOR, telemetry={"id": "r"})
    assert done.status == "succeeded" and files_of(g.root) == {"a.csv": b"a", "b.csv": b"b"}


def test_a_succeeded_or_unknown_operation_is_not_retried(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        done = ops.run(wal, [ops.Write("a.csv", b"a")], **meta(0), root=g.root)
        before = records(g.log)
        with pytest.raises(ops.RetryError, match="it succeeded, there is nothing to retry"):
            ops.retry(wal, done.wal_id, actor=ACTOR, telemetry={"id": "r"})
        with pytest.raises(ops.RetryError, match="no such intent"):
            ops.retry(wal, "0000", actor=ACTOR, telemetry={"id": "r"})
        pending = ops.prepare(wal, [ops.Write("p.csv", b"p")], **meta(0), root=g.root)
        with pytest.raises(ops.RetryError, match="pending"):
            ops.retry(wal, pending.wal_id, actor=ACTOR, telemetry={"id": "r"})
        assert records(g.log) == before + 1  # the pending intent only


def test_a_retry_does_not_cross_a_later_rollback_of_the_same_targets(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        original = refused_op(wal, g.root)
        later = ops.run(wal, [ops.Write("b.csv", b"later")], **meta(0), root=g.root)
        undone = ops.undo(wal, later.wal_id, actor=ACTOR, telemetry={"id": "u"})
        before, files = records(g.log), files_of(g.root)
        with pytest.raises(ops.RetryError, match=f"later rollback {undone.wal_id} .*reversed the same targets"):
            ops.retry(wal, original, actor=ACTOR, telemetry={"id": "r"})
    assert records(g.log) == before and files_of(g.root) == files


def test_an_operation_is_retried_once(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        original = refused_op(wal, g.root)
        first = ops.retry(wal, original, actor=ACTOR, telemetry={"id": "r"})
        with pytest.raises(ops.RetryError, match=f"already retried by {first.wal_id}"):
            ops.retry(wal, original, actor=ACTOR, telemetry={"id": "r"})


def test_a_missing_blob_refuses_the_retry_naming_it(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        original = refused_op(wal, g.root)
        for blob in (g.log / "blobs").rglob("*"):
            if blob.is_file():
                blob.unlink()
        before = records(g.log)
        with pytest.raises(ops.BlobError, match="sha256:"):
            ops.retry(wal, original, actor=ACTOR, telemetry={"id": "r"})
    assert records(g.log) == before


def test_retrying_a_hotfix_needs_the_hotfix_approvals(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        g.root.mkdir()
        (g.root / "a.csv").write_bytes(b"old")
        prepared = ops.prepare(
            wal, [ops.Write("a.csv", b"fix")], **meta(1), operation="hotfix", root=g.root, governor=g.governor("bo")
        )
        (g.root / "a.csv").write_bytes(b"moved on")
        with pytest.raises(ops.StateChangedError):
            ops.execute(wal, prepared)
        before = records(g.log)
        # the tier-1 rule takes any of maintainer, reviewer, data-steward; the hotfix rule does too,
        # but counts only maintainer/data-steward: a reviewer-only approval must not pass
        with pytest.raises(GovernanceError, match="a hotfix at tier 1 needs 1 approval"):
            ops.retry(wal, prepared.wal_id, actor=ACTOR, telemetry={"id": "r"})
        assert records(g.log) == before
        done = ops.retry(wal, prepared.wal_id, actor=ACTOR, telemetry={"id": "r"}, governor=g.governor("cy"))
    assert done.status == "succeeded" and (g.root / "a.csv").read_bytes() == b"fix"
    assert [(d["operation"], d["decision"], d["status"]) for d in g.decisions()] == [
        ("hotfix", "allowed", "refused"),
        ("retry", "refused", None),
        ("retry", "allowed", "succeeded"),
    ]
    assert statuses(g.decisions())[-1] == ("allowed", "succeeded")


def test_cli_retry(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        original = refused_op(wal, g.root)
        ok = ops.run(wal, [ops.Write("c.csv", b"c")], **meta(0), root=g.root)
    before, files = records(g.log), files_of(g.root)
    bad = run("retry", g.log, ok.wal_id, "--actor", "developer:ana")
    assert_one_error_line(bad, f"{ok.wal_id}: it succeeded, there is nothing to retry")
    usage = run("retry", g.log, original, "--actor", "nobody")
    assert usage.exit_code == 2 and "Traceback" not in usage.output
    assert records(g.log) == before and files_of(g.root) == files

    done = run("retry", g.log, original, "--actor", "developer:ana", "--json")
    assert done.exit_code == 0, done.output
    outcome = json.loads(done.stdout)
    assert (outcome["retries"], outcome["operation"], outcome["status"]) == (original, "retry", "succeeded")
    again = run("retry", g.log, original, "--actor", "developer:ana")
    assert_one_error_line(again, f"already retried by {outcome['wal_id']}")
    assert run("validate", g.log).exit_code == 0


def test_cli_retry_across_a_rollback_is_one_error_line(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        original = refused_op(wal, g.root)
        later = ops.run(wal, [ops.Write("a.csv", b"later")], **meta(0), root=g.root)
        ops.undo(wal, later.wal_id, actor=ACTOR, telemetry={"id": "u"})
    before, files = records(g.log), files_of(g.root)
    out = run("retry", g.log, original, "--actor", "developer:ana")
    assert_one_error_line(out, "retrying would cross it")
    assert records(g.log) == before and files_of(g.root) == files


def test_cli_retry_of_a_governed_operation_with_its_request_signed(tmp_path: Path) -> None:
    g = governed_log(tmp_path)
    with g.open() as wal:
        original = refused_op(wal, g.root, tier=1, governor=g.governor("bo"))
    before, files = records(g.log), files_of(g.root)
    missing = run("retry", g.log, original, "--actor", "developer:ana")
    assert_one_error_line(missing, "refused by governance policy", "tier 1 needs 1 approval")
    asked = run("retry", g.log, original, "--actor", "developer:ana", "--request")
    assert asked.exit_code == 0, asked.output
    request = json.loads(asked.stdout)
    assert (request["operation"], request["governance"]["retry_of"]) == ("retry", "etl_step")
    assert records(g.log) == before and files_of(g.root) == files  # asking writes nothing

    (tmp_path / "request.json").write_text(asked.stdout)
    kfm_wal.keys.save(g.reviewers["di"], tmp_path / "di.pem")
    signed = run("approve", tmp_path / "request.json", "--key", tmp_path / "di.pem", "--role", "maintainer")
    assert signed.exit_code == 0, signed.output
    (tmp_path / "approval.json").write_text(signed.stdout)
    done = run("retry", g.log, original, "--actor", "developer:ana", "--approvals", tmp_path / "approval.json")
    assert done.exit_code == 0, done.output
    assert files_of(g.root) == {"a.csv": BIG, "b.csv": b"b"}
    assert statuses(g.decisions()) == [("allowed", "refused"), ("refused", None), ("allowed", "succeeded")]
