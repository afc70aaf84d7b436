"""Rollback (kfm_wal.rollback): the plan, the governed all-or-nothing apply, the targets (snapshot,
wal_id, seq) and every refusal, each leaving the log and the roots as they were."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kfm_wal import Wal, records, replay, rollback, snapshots
from kfm_wal.governance import GovernanceError, default_policy
from kfm_wal.ops import Custom, Write, graph, prepare, register_action, run, stac, unregister_action
from replaytools import META, Roots, close_graph, triple
from rollbacktools import ACTOR, Approvers, roll_back, signed_request
from stactools import collection, item

FLAKY = {"fail": False}


@pytest.fixture(autouse=True, scope="module")
def actions() -> Iterator[None]:
    def reverse(p: Any) -> None:
        if FLAKY["fail"]:
            raise RuntimeError("the reverse of flaky failed")

    register_action("flaky", execute=lambda p: None, state=lambda p: {}, expect=lambda p: {}, reverse=reverse)
    register_action("notify", execute=lambda p: None, state=lambda p: {}, expect=lambda p: {}, irreversible="sent")
    yield
    unregister_action("flaky")
    unregister_action("notify")


@pytest.fixture
def roots(tmp_path: Path) -> Iterator[Roots]:
    r = Roots(tmp_path)
    yield r
    close_graph(r.graph)
    FLAKY["fail"] = False
    gc.collect()


@pytest.fixture(scope="module")
def people() -> Approvers:
    return Approvers()


def _count(log: Path) -> int:
    return sum(1 for _ in records(log))


def _steps(wal: Wal, roots: Roots) -> list[str]:
    """Three operations of three kinds after a first one; returns their wal_ids, oldest first."""
    w = roots.where()
    return [
        run(wal, [Write("a.txt", b"two"), Write("d/b.txt", b"new")], **w, **META).wal_id,
        run(wal, [stac.CreateCollection(collection()), stac.CreateItem(item("ks-1"))], **w, **META).wal_id,
        run(wal, [graph.Insert([triple(0), triple(1)]), Write("a.txt", b"three")], **w, **META).wal_id,
    ]


def test_plan_lists_the_later_operations_newest_first_with_their_reversals(roots: Roots) -> None:
    with roots.open() as wal:
        run(wal, [Write("a.txt", b"one")], **roots.where(), **META)
        snapshots.create(wal, "s")
        ids = _steps(wal, roots)
        before = _count(roots.log)
    plan = rollback.plan_of(roots.log, "s")
    assert [s.wal_id for s in plan.reversals] == ids[::-1]
    assert plan.steps[-1].operation == "snapshot" and plan.steps[-1].action == "skip"
    newest = plan.reversals[0].what
    assert "delete 2 triple(s) in graph" in newest and any(w.startswith("restore processed/a.txt") for w in newest)
    assert plan.reversals[-1].what == [
        "delete processed/d/b.txt",
        "restore processed/a.txt (sha256:" + plan.reversals[-1].what[1].split("(sha256:")[1],
    ]
    assert plan.expected == snapshots.find(roots.log, "s").digests
    assert _count(roots.log) == before  # a plan writes nothing


def test_apply_restores_the_snapshot_and_the_log_says_so(roots: Roots, people: Approvers) -> None:
    with roots.open() as wal:
        run(wal, [Write("a.txt", b"one")], **roots.where(), **META)
        snap = snapshots.create(wal, "s")
        ids = _steps(wal, roots)
        snapshots.create(wal, "now")
        result = roll_back(wal, "s", people, snapshot="now")
    assert result.status == "succeeded" and result.undone == ids[::-1]
    assert result.digests == snap.digests
    assert {f"{'graph' if 'graph' in k else 'file'}:{k}": v for k, v in roots.digests().items()} == snap.digests
    intent = next(r for r in records(roots.log, kind="intent") if r.wal_id == result.wal_id)
    assert intent.body["tier"] == 4 and intent.body["operation"] == "rollback"
    assert intent.body["governance"]["snapshot"] == "now"
    assert len(intent.body["governance"]["approvals"]) == 2
    assert intent.body["payload"]["expects"] == snap.digests
    done = next(r for r in records(roots.log, kind="completion") if r.wal_id == result.wal_id)
    assert done.body["status"] == "succeeded" and done.body["detail"]["digests"] == snap.digests
    # every undo was recorded before it ran, linked to the rollback
    undos = [r for r in records(roots.log, kind="intent", operation="rollback") if r.wal_id != result.wal_id]
    assert [u.wal_id for u in undos] == result.undo_operations
    assert all(f"wal:{result.wal_id}" in u.body["lineage_links"] for u in undos)
    assert all(u.seq > intent.seq for u in undos)
    assert replay.check(roots.log).ok
    # ... and the rollback itself can be rolled back, to the snapshot taken first
    with roots.open() as wal:
        snapshots.create(wal, "after-rollback")
        back = roll_back(wal, "now", people, snapshot="after-rollback")
    assert back.digests == snapshots.find(roots.log, "now").digests
    assert (roots.data / "a.txt").read_bytes() == b"three"
    assert replay.check(roots.log).ok


def test_to_a_wal_id_or_a_seq_restores_the_state_right_then(roots: Roots, people: Approvers) -> None:
    with roots.open() as wal:
        first = run(wal, [Write("a.txt", b"one")], **roots.where(), **META)
        then = roots.digests()
        _steps(wal, roots)
        snapshots.create(wal, "now")
        result = roll_back(wal, first.wal_id, people)
        assert result.status == "succeeded"
        assert roots.digests() == then
        seq = max(r.seq for r in records(roots.log))
        run(wal, [Write("z.txt", b"later")], **roots.where(), **META)
        snapshots.create(wal, "now2")
        roll_back(wal, seq, people)
    assert roots.digests() == then and not (roots.data / "z.txt").exists()
    assert replay.check(roots.log).ok


def test_a_failed_reversal_re_applies_the_ones_done(roots: Roots, people: Approvers) -> None:
    with roots.open() as wal:
        snapshots.create(wal, "s")
        run(wal, [Write("f.txt", b"flaky"), Custom("flaky", {})], **roots.where(), **META)
        _steps(wal, roots)
        snapshots.create(wal, "now")
        before = roots.digests()
        approvals = signed_request(roots.log, "s", people)
        FLAKY["fail"] = True
        with pytest.raises(rollback.RollbackError, match="re-applied: the roots are as they were") as info:
            rollback.apply(wal, "s", actor=ACTOR, approvals=approvals, policy=default_policy(), keyring=people.ring)
    result = info.value.result
    assert result.status == "reversed" and "the reverse of flaky failed" in str(result.error)
    assert roots.digests() == before
    done = next(r for r in records(roots.log, kind="completion") if r.wal_id == result.wal_id)
    assert done.body["status"] == "reversed" and done.body["detail"]["reapplied"] is True
    FLAKY["fail"] = False
    assert replay.check(roots.log).ok


def test_irreversible_operations(roots: Roots, people: Approvers) -> None:
    with roots.open() as wal:
        snapshots.create(wal, "s")
        run(wal, [Write("a.txt", b"one")], **roots.where(), **META)
        sent = run(wal, [Custom("notify", {})], **roots.where(), **META, irreversible="sent to the steward")
        snapshots.create(wal, "now")
        before = _count(roots.log)
        # left in place only when the approvers sign the declaration
        with pytest.raises(GovernanceError, match=f"irreversible operation\\(s\\) {sent.wal_id}"):
            roll_back(wal, "s", people)
        assert _count(roots.log) == before and (roots.data / "a.txt").exists()
        result = roll_back(wal, "s", people, cross_irreversible=True)
        assert result.status == "succeeded" and not (roots.data / "a.txt").exists()
        # an irreversible operation that wrote a root: no rollback can restore the snapshot
        run(wal, [Write("b.txt", b"x")], **roots.where(), **META, irreversible="published")
        snapshots.create(wal, "now2")
        before = _count(roots.log)
        with pytest.raises(rollback.RollbackError, match="is irreversible \\(published\\) and wrote"):
            rollback.plan_of(roots.log, "s")
        assert _count(roots.log) == before


def test_refusals_change_nothing(roots: Roots, people: Approvers) -> None:
    with roots.open() as wal:
        run(wal, [Write("a.txt", b"one")], **roots.where(), **META)
        snapshots.create(wal, "s")
        run(wal, [Write("a.txt", b"two")], **roots.where(), **META)
        snapshots.create(wal, "now")
        before, state = _count(roots.log), roots.digests()
        for to, why in (
            ("nope", "no snapshot of that name"),
            ("999", "seqs run from 1 to"),
            ("0b8f5c3e-4a8e-4c8e-9a8e-0b8f5c3e4a8e", "no operation with that wal_id"),
        ):
            with pytest.raises(rollback.RollbackError, match=why):
                roll_back(wal, to, people)
        # without approvals, or with approvals of another request
        with pytest.raises(GovernanceError, match="tier 4 needs 2 approval"):
            rollback.apply(wal, "s", actor=ACTOR, approvals=[], policy=default_policy(), keyring=people.ring)
        other = signed_request(roots.log, "s", people, snapshot="s")
        with pytest.raises(GovernanceError, match="does not verify"):
            rollback.apply(wal, "s", actor=ACTOR, approvals=other, policy=default_policy(), keyring=people.ring)
        # a target changed around the log
        (roots.data / "a.txt").write_bytes(b"by hand")
        with pytest.raises(rollback.RollbackError, match="changed around the log.*a.txt"):
            roll_back(wal, "s", people)
        (roots.data / "a.txt").write_bytes(b"two")
        assert _count(roots.log) == before and roots.digests() == state


@pytest.mark.parametrize("kind", ["pending", "failed", "foreign"])
def test_an_operation_without_a_runnable_reversal_in_the_range_is_refused(roots: Roots, kind: str) -> None:
    with roots.open() as wal:
        snapshots.create(wal, "s")
        if kind == "foreign":
            entry = {**META, "operation": "etl_step", "pre_state_hash": "sha256:" + "0" * 64}
            entry.update(post_state_expected=entry["pre_state_hash"], payload={"job": "x"}, lineage_links=[])
            entry["reversal"] = {"steps": [{"action": "by hand"}]}
            wal.complete(wal.append(entry).wal_id)
        else:
            p = prepare(wal, [Write("a.txt", b"x")], **roots.where(), **META)
            if kind == "failed":
                wal.complete(p.wal_id, "failed", error="stopped", post_state_hash=p.entry["pre_state_hash"])
        why = {"pending": "is pending", "failed": "failed: what it left", "foreign": "not recorded by kfm_wal.ops"}
        with pytest.raises(rollback.RollbackError, match=why[kind]):
            rollback.plan_of(roots.log, "s")


def test_a_root_the_log_never_writes_changed_since_the_snapshot_is_refused(roots: Roots, people: Approvers) -> None:
    """The replay audit covers the roots the log writes; one it never writes (here the STAC catalog)
    must still hold the snapshot's digest, since no reversal can bring it back."""
    with roots.open() as wal:
        snapshots.create(wal, "s")
        run(wal, [Write("a.txt", b"one")], **roots.where(), **META)
        snapshots.create(wal, "now")
        roots.stac.mkdir(parents=True, exist_ok=True)
        (roots.stac / "stray.json").write_text("{}")
        before = _count(roots.log)
        with pytest.raises(
            rollback.RollbackError, match="changed around the log: stac root .* no operation of the log"
        ):
            roll_back(wal, "s", people)
    assert _count(roots.log) == before and (roots.data / "a.txt").exists()
