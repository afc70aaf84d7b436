"""Snapshots (kfm_wal.snapshots): the record, the digests it takes (the ones replay compares), the
refusals (a name taken or malformed, a write around the log, an invalid log: nothing written), and
the policy's "snapshot required first" meaning a real snapshot record, in the guard and in
`validate --operations`."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kfm_wal import Wal, keys, records, snapshots, verify
from kfm_wal.governance import GovernanceError, Ledger, approve, build_request, default_policy, governed_run
from kfm_wal.governance.gate import Governor
from kfm_wal.governance.policy import default_policy_bytes, judged_as, parse_policy
from kfm_wal.governance.snapshot import snapshot_problem
from kfm_wal.governance.snapshot_required import SnapshotTaken
from kfm_wal.ops import Write, graph, root_state, run, stac
from kfm_wal.ops.digests import state_hash
from kfm_wal.verify_rules import ReversalStepsPresent
from replaytools import META, Roots, close_graph, triple
from stactools import collection, item


@pytest.fixture
def roots(tmp_path: Path) -> Iterator[Roots]:
    r = Roots(tmp_path)
    yield r
    close_graph(r.graph)
    gc.collect()


def _fill(wal: Wal, roots: Roots) -> None:
    run(wal, [Write("a.txt", b"one")], **roots.where(), **META)
    run(wal, [stac.CreateCollection(collection()), stac.CreateItem(item("ks-1"))], **roots.where(), **META)
    run(wal, [graph.Insert([triple(0), triple(1)])], **roots.where(), **META)


def test_a_snapshot_records_the_digests_replay_compares(roots: Roots) -> None:
    with roots.open() as wal:
        _fill(wal, roots)
        head = wal.head
        snap = snapshots.create(wal, "after-fill")
    assert (snap.at_seq, snap.at_hash) == head[:2]
    assert snap.digests == {f"{'graph' if 'graph' in k else 'file'}:{k}": v for k, v in roots.digests().items()}
    assert {r.root.role for r in snap.roots} == {"data", "stac", "graph"}
    found = snapshots.find(roots.log, "after-fill")
    assert found == snap
    intent, completion = (r for r in records(roots.log) if r.wal_id == snap.wal_id)
    assert intent.body["operation"] == "snapshot" and intent.body["payload"]["format"] == snapshots.FORMAT
    assert intent.body["pre_state_hash"] == intent.body["post_state_expected"] == state_hash(snap.digests)
    assert intent.prev == snap.at_hash and intent.seq == snap.at_seq + 1
    assert completion.body["status"] == "succeeded" and completion.body["post_state_hash"] == snap.state_hash
    # The record is a valid operation by the operation-level rules too
    report = verify(roots.log, rules=[ReversalStepsPresent(), SnapshotTaken()])
    assert report.ok, [f.message for f in report.findings]


def test_snapshots_are_listed_in_order_and_empty_roots_have_the_empty_digest(roots: Roots) -> None:
    with roots.open() as wal:
        first = snapshots.create(wal, "empty")
        _fill(wal, roots)
        second = snapshots.create(wal, "full")
    assert [s.name for s in snapshots.snapshots(roots.log)] == ["empty", "full"]
    assert set(first.digests.values()) == {root_state.digest({})}
    assert first.state_hash != second.state_hash


@pytest.mark.parametrize("where", ["data", "stac", "graph"])
def test_a_write_around_the_log_is_refused_naming_the_difference(roots: Roots, where: str) -> None:
    with roots.open() as wal:
        _fill(wal, roots)
        if where == "data":
            (roots.data / "a.txt").write_bytes(b"edited by hand")
            named = "a.txt"
        elif where == "stac":
            (roots.stac / "stray.json").write_text("{}")
            named = "stray.json"
        else:
            graph.GraphStore.open(roots.graph).store.update(f"INSERT DATA {{ {triple(3)} }}")
            named = "<"
        before = sum(1 for _ in records(roots.log))
        with pytest.raises(snapshots.SnapshotError, match="written around the log") as info:
            snapshots.create(wal, "bad")
        assert named in str(info.value) and "nothing written" in str(info.value)
        assert sum(1 for _ in records(roots.log)) == before


def test_a_taken_or_malformed_name_is_refused(roots: Roots) -> None:
    with roots.open() as wal:
        snapshots.create(wal, "s1")
        before = sum(1 for _ in records(roots.log))
        with pytest.raises(snapshots.SnapshotError, match="exists already"):
            snapshots.create(wal, "s1")
        for bad in ("", "12", "-x", "a b", "0b8f5c3e-4a8e-4c8e-9a8e-0b8f5c3e4a8e", "x" * 200):
            with pytest.raises(snapshots.SnapshotError, match="refused"):
                snapshots.create(wal, bad)
        assert sum(1 for _ in records(roots.log)) == before
        with pytest.raises(snapshots.SnapshotError, match="no snapshot named 'nope'"):
            snapshots.find(roots.log, "nope")


def test_an_intent_without_completion_is_no_snapshot(roots: Roots) -> None:
    """A process that stopped between the two records left no snapshot: the name stays free."""
    with roots.open() as wal:
        snap = snapshots.create(wal, "first")
        intent = next(r for r in records(roots.log) if r.wal_id == snap.wal_id).body
        keep = {k: v for k, v in intent.items() if k in snapshots_entry_members()}
        wal.append(
            {**keep, "wal_id": "0b8f5c3e-4a8e-4c8e-9a8e-0b8f5c3e4a8f", "payload": {**keep["payload"], "name": "torn"}}
        )
        assert [s.name for s in snapshots.snapshots(roots.log)] == ["first"]
        snapshots.create(wal, "torn")
    assert [s.name for s in snapshots.snapshots(roots.log)] == ["first", "torn"]


def snapshots_entry_members() -> set[str]:
    return {
        "operation",
        "actor",
        "pre_state_hash",
        "post_state_expected",
        "payload",
        "reversal",
        "tier",
        "governance",
        "lineage_links",
        "telemetry",
    }


# -- "snapshot required first" -----------------------------------------------------------------


def test_snapshot_problem_judges_the_rule_and_the_name() -> None:
    policy = default_policy()
    three = policy.rule(3, "etl_step")
    assert snapshot_problem(policy.rule(2, "etl_step"), "etl_step", {"care": "public"}, []) is None  # tier 2: none
    assert "governance.snapshot is missing" in str(snapshot_problem(three, "etl_step", {"care": "public"}, []))
    named = snapshot_problem(three, "etl_step", {"care": "public", "snapshot": "s1"}, ["s0"])
    assert named is not None and "'s1', which is no snapshot recorded" in named
    assert snapshot_problem(three, "etl_step", {"care": "public", "snapshot": "s1"}, ["s0", "s1"]) is None
    assert snapshot_problem(three, "etl_step", {"care": "public", "snapshot": "s1"}) is None  # the log not at hand


def test_a_hotfix_and_its_retry_are_judged_by_the_hotfix_rule() -> None:
    policy = default_policy()
    assert judged_as("retry", {"retry_of": "hotfix"}) == judged_as("hotfix", {}) == "hotfix"
    assert judged_as("retry", {"retry_of": "etl_step"}) == "retry"
    rule = policy.rule(2, judged_as("retry", {"retry_of": "hotfix"}))
    named = snapshot_problem(rule, "hotfix", {"care": "public", "snapshot": "gone"}, [])
    assert named is not None and named.startswith("a hotfix at tier 2 requires a snapshot first")


@pytest.fixture
def people() -> dict[str, keys.SigningKey]:
    return {"maint": keys.generate(), "steward": keys.generate()}


def _ring(people: dict[str, keys.SigningKey]) -> keys.Keyring:
    return (
        keys.Keyring(())
        .with_key(people["maint"], ("maintainer",), "maint")
        .with_key(people["steward"], ("data-steward",), "steward")
    )


def _governed(wal: Wal, roots: Roots, people: dict[str, keys.SigningKey], ledger: Ledger, name: str) -> Any:
    actions = [Write("b.txt", b"tier three")]
    gov = {"care": "public", "snapshot": name}
    request = build_request(actions, actor=META["actor"], tier=3, governance=gov)
    approvals = [approve(request, people["maint"], "maintainer"), approve(request, people["steward"], "data-steward")]
    return governed_run(
        wal,
        actions,
        actor=META["actor"],
        tier=3,
        governance=gov,
        telemetry={"id": "t3"},
        approvals=approvals,
        policy=default_policy(),
        keyring=_ring(people),
        ledger=ledger,
        root=roots.data,
    )


def test_the_guard_wants_a_real_snapshot_record(roots: Roots, people: dict[str, keys.SigningKey]) -> None:
    with roots.open() as wal, Ledger.open(roots.base / "ledger", roots.key) as ledger:
        before = sum(1 for _ in records(roots.log))
        with pytest.raises(GovernanceError, match="'before-t3', which is no snapshot recorded"):
            _governed(wal, roots, people, ledger, "before-t3")
        assert sum(1 for _ in records(roots.log)) == before  # refused before anything was recorded
        assert not (roots.data / "b.txt").exists()
        snapshots.create(wal, "before-t3")
        assert _governed(wal, roots, people, ledger, "before-t3").status == "succeeded"
    assert (roots.data / "b.txt").read_bytes() == b"tier three"


def test_validate_operations_wants_a_real_snapshot_record(roots: Roots, people: dict[str, keys.SigningKey]) -> None:
    """A log written under a policy that wanted no snapshot at tier 3, validated under the default
    policy, which does: the operation that named a snapshot taken only after it is reported."""
    lax = parse_policy(
        default_policy_bytes().replace(
            b'[tiers.3]\napprovals = 2\nroles = ["maintainer", "data-steward"]\nsnapshot_required = true',
            b'[tiers.3]\napprovals = 2\nroles = ["maintainer", "data-steward"]\nsnapshot_required = false',
        )
    )
    assert not lax.tier(3).snapshot_required

    def sign(request: dict[str, Any]) -> list[dict[str, str]]:
        return [approve(request, people["maint"], "maintainer"), approve(request, people["steward"], "data-steward")]

    governed = {"care": "public", "snapshot": "later"}
    with roots.open() as wal, Ledger.open(roots.base / "ledger", roots.key) as ledger:
        governor = Governor(lax, _ring(people), approver=sign, ledger=ledger)
        run(
            wal,
            [Write("x.txt", b"1")],
            **roots.where(),
            **{**META, "tier": 3, "governance": governed},
            governor=governor,
        )
        snapshots.create(wal, "later")
        run(
            wal,
            [Write("y.txt", b"2")],
            **roots.where(),
            **{**META, "tier": 3, "governance": governed},
            governor=governor,
        )
    report = verify(roots.log, rules=[SnapshotTaken()])
    found = [f for f in report.findings if f.code == "gov.snapshot"]
    assert len(found) == 1 and "'later', which is no snapshot recorded" in found[0].message
    first = next(r for r in records(roots.log, kind="intent"))
    assert found[0].seq == first.seq  # the intent before the snapshot, not the one after


def test_the_snapshot_vector_reads_as_a_snapshot() -> None:
    """data/vectors/valid/snapshot (tests/reference/vector_snapshot.py), written by the reference
    writer: this implementation reads the same snapshot from it, and its tier-3 operation names a
    real one."""
    log = Path(__file__).resolve().parents[1] / "data" / "vectors" / "valid" / "snapshot"
    (snap,) = snapshots.snapshots(log)
    assert snap.name == "before-hotfix" and {r.root.role for r in snap.roots} == {"data", "stac", "graph"}
    intent = next(r for r in records(log) if r.wal_id == snap.wal_id)
    assert (intent.seq, intent.prev) == (snap.at_seq + 1, snap.at_hash)
    assert intent.body["pre_state_hash"] == snap.state_hash
    report = verify(log, rules=[SnapshotTaken(), ReversalStepsPresent()])
    assert report.ok, [f.message for f in report.findings]
