"""`ops.recover` on pending operations of every kind, in process: each state an interrupted
operation can leave (nothing ran, some actions, all of them) is settled by its own rule, with
the exact bytes / triples / values back; the replay of the recovered log agrees. Cases left for a
person (foreign change, irreversible half way, overlapping intents, missing before-image,
unregistered custom action) change nothing and record nothing. Real process kills:
test_ops_recover_kill.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kfm_wal import Wal, replay
from kfm_wal.ops import (
    INLINE_MAX,
    Custom,
    Delete,
    Move,
    Prepared,
    Write,
    durable,
    graph,
    pending,
    prepare,
    recover,
    register_action,
    run,
    stac,
    unregister_action,
)
from kfm_wal.ops.digests import ABSENT, content_digest
from stactools import collection, item
from test_ops_support import META, assert_valid, count, snapshot

EX = "http://example.org/"
INDEX: dict[str, str] = {}


def t(s: str, p: str, o: str) -> str:
    return f"<{EX}{s}> <{EX}{p}> <{EX}{o}>"


def _state(p: Mapping[str, Any]) -> dict[str, str]:
    return {p["name"]: content_digest(INDEX[p["name"]].encode()) if p["name"] in INDEX else ABSENT}


def _put(p: Mapping[str, Any]) -> None:
    if p.get("fail"):
        raise RuntimeError("index unavailable")
    INDEX[p["name"]] = p["doc"]


def _remove(p: Mapping[str, Any]) -> None:
    if p.get("previous") is None:
        INDEX.pop(p["name"], None)
    else:
        INDEX[p["name"]] = p["previous"]


def _register() -> None:
    expect = lambda p: {p["name"]: content_digest(p["doc"].encode())}  # noqa: E731
    register_action("index_put", execute=_put, state=_state, expect=expect, reverse=_remove)
    register_action("publish", execute=_put, state=_state, expect=expect, irreversible="published is public")


@pytest.fixture(autouse=True)
def custom_actions() -> Iterator[None]:
    INDEX.clear()
    _register()
    yield
    unregister_action("index_put")
    unregister_action("publish")


@pytest.fixture
def roots(wal: Wal, tmp_path: Path) -> dict[str, Any]:
    """The roots, their first state made by recorded operations (so that the log replays)."""
    where = {"root": tmp_path / "data", "stac_root": tmp_path / "stac", "graph": graph.GraphStore.open(tmp_path / "g")}
    run(
        wal,
        [Write("old.csv", b"id\n1\n"), Write("gone.csv", b"bye\n"), graph.Insert([t("ks", "in", "us")])],
        **META,
        **where,
    )
    run(wal, [stac.CreateCollection(collection())], **META, **where)
    return where


def _interrupted(wal: Wal, actions: list[Any], k: int, **where: Any) -> Prepared:
    """An operation whose process died after its first k actions (the completion never written)."""
    p = prepare(wal, actions, **META, **where)
    with durable.deferred_dir_sync():
        for i in range(k):
            p.plan.execute(i)
    return p


def _world(roots: dict[str, Any]) -> tuple[dict[str, bytes], dict[str, bytes], set[str], dict[str, str]]:
    stac_root = roots["stac_root"]
    return (
        snapshot(roots["root"]),
        snapshot(stac_root) if stac_root.exists() else {},
        roots["graph"].triples(),
        dict(INDEX),
    )


def _mixed(roots: dict[str, Any]) -> list[Any]:
    return [
        Write("a.csv", b"id\n2\n"),
        stac.CreateItem(item("ks")),
        graph.Insert([t("ks", "cap", "topeka")]),
        Custom("index_put", {"name": "ks", "doc": "Kansas"}),
        graph.Delete([t("ks", "in", "us")]),
        Move("old.csv", "moved.csv"),
    ]


SCENARIOS = {
    "file": lambda r: [Write("a.csv", b"id\n2\n"), Write("old.csv", b"x" * (INLINE_MAX + 1)), Delete("gone.csv")],
    "stac": lambda r: [stac.CreateItem(item("ks")), stac.CreateItem(item("ne"))],
    "graph": lambda r: [graph.Insert([t("ks", "cap", "topeka")]), graph.Delete([t("ks", "in", "us")])],
    "custom": lambda r: [
        Custom("index_put", {"name": "a", "doc": "1"}),
        Custom("index_put", {"name": "b", "doc": "2"}),
    ],
    "mixed": _mixed,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_state_an_interrupted_operation_leaves_is_settled_by_its_rule(
    wal: Wal, roots: dict[str, Any], scenario: str, tmp_path: Path
) -> None:
    actions = SCENARIOS[scenario](roots)
    before = _world(roots)
    p = prepare(wal, actions, **META, **roots)
    n = len(p.plan.order)
    for k in range(n + 1):
        if k:  # the previous interrupted run was settled: the world is back in its pre state
            p = prepare(wal, actions, **META, **roots)
        with durable.deferred_dir_sync():
            for i in range(k):
                p.plan.execute(i)
        after_k = _world(roots)
        [settled] = recover(wal)
        expected = "refused" if k == 0 else "succeeded" if k == n else "reversed"
        assert settled.status == expected and settled.wal_id == p.wal_id, (k, settled)
        assert settled.found == {"refused": "pre", "succeeded": "post", "reversed": "partial"}[expected]
        assert _world(roots) == (after_k if k == n else before)
        completion = wal.completion(p.wal_id)
        assert completion is not None and completion.body["detail"]["recovered"] is True
        if k == n:
            break
    assert not pending(wal)
    assert_valid(wal)
    # the log as recovery left it replays: every completion agrees with what the actions do
    # (custom actions act on this process's INDEX, which a sandbox cannot stand in for)
    if scenario in ("file", "stac", "graph"):
        report = replay.replay(wal.path, tmp_path / "sandbox")
        assert report.ok, report.halted


def test_reexecute_runs_an_operation_found_in_its_pre_state(wal: Wal, roots: dict[str, Any]) -> None:
    p = _interrupted(wal, _mixed(roots), 0, **roots)
    [settled] = recover(wal, reexecute=True)
    assert settled.status == "succeeded" and settled.found == "pre"
    assert (roots["root"] / "moved.csv").read_bytes() == b"id\n1\n" and INDEX == {"ks": "Kansas"}
    body = wal.completion(p.wal_id).body  # type: ignore[union-attr]
    assert body["post_state_hash"] == p.entry["post_state_expected"]
    assert body["detail"] == {"recovered": True, "found": "pre", "reexecuted": True}
    assert_valid(wal)  # executed_digest, recorded by the re-execution, matches the intent's actions


def test_a_reexecution_that_fails_is_reversed_and_recorded(wal: Wal, roots: dict[str, Any]) -> None:
    before = _world(roots)
    actions = [Write("a.csv", b"2"), Custom("index_put", {"name": "x", "doc": "1", "fail": True})]
    p = _interrupted(wal, actions, 0, **roots)
    [settled] = recover(wal, reexecute=True)
    assert settled.status == "reversed" and "index unavailable" in settled.message
    assert _world(roots) == before
    assert wal.completion(p.wal_id).body["detail"]["reexecuted"] is True  # type: ignore[union-attr]


def test_a_plan_changes_nothing_and_records_nothing(wal: Wal, roots: dict[str, Any]) -> None:
    _interrupted(wal, _mixed(roots), 3, **roots)
    world, records = _world(roots), count(wal)
    [planned] = recover(wal, dry_run=True)
    assert planned.status == "reversed" and planned.applied is False and "would be rolled back" in planned.message
    assert _world(roots) == world and count(wal) == records and len(pending(wal)) == 1


def test_all_completions_of_one_recovery_are_one_group_commit(
    wal: Wal, roots: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, name in enumerate(["a", "b", "c"]):
        _interrupted(wal, [Write(f"{name}.csv", b"1"), Write(f"{name}2.csv", b"2")], k, **roots)
    calls: list[int] = []
    real = Wal.complete_many
    monkeypatch.setattr(Wal, "complete_many", lambda self, c: calls.append(len(c)) or real(self, c))
    assert [s.status for s in recover(wal)] == ["refused", "reversed", "succeeded"]
    assert calls == [3]


def test_a_target_changed_by_someone_else_is_left_pending(wal: Wal, roots: dict[str, Any]) -> None:
    p = _interrupted(wal, [Write("a.csv", b"2"), Write("old.csv", b"3")], 1, **roots)
    (roots["root"] / "old.csv").write_bytes(b"edited by hand")
    world, records = _world(roots), count(wal)
    [settled] = recover(wal)
    assert settled.status == "pending" and settled.needs_person and "old.csv" in settled.message
    assert settled.found == "other" and _world(roots) == world and count(wal) == records
    assert [r.wal_id for r in pending(wal)] == [p.wal_id]


def test_an_irreversible_operation_caught_half_way_is_left_pending(wal: Wal, roots: dict[str, Any]) -> None:
    actions = [Custom("publish", {"name": "a", "doc": "1"}), Custom("publish", {"name": "b", "doc": "2"})]
    p = prepare(wal, actions, **META, irreversible="published")
    with durable.deferred_dir_sync():
        p.plan.execute(0)
    [settled] = recover(wal)
    assert settled.status == "pending" and "irreversible" in settled.message and INDEX == {"a": "1"}
    p.plan.execute(1)  # it did finish after all (say, a person completed it by hand): now it is in post
    [settled] = recover(wal)
    assert settled.status == "succeeded"


def test_two_pending_operations_on_one_target_are_left_for_a_person(wal: Wal, roots: dict[str, Any]) -> None:
    _interrupted(wal, [Write("a.csv", b"1")], 1, **roots)
    _interrupted(wal, [Write("a.csv", b"2")], 1, **roots)
    settled = recover(wal)
    assert [s.status for s in settled] == ["pending", "pending"]
    assert all("touches the same targets" in s.message for s in settled)
    assert (roots["root"] / "a.csv").read_bytes() == b"2"


def test_a_missing_before_image_leaves_it_pending_and_unchanged(wal: Wal, roots: dict[str, Any]) -> None:
    big = b"B" * (INLINE_MAX + 1)
    (roots["root"] / "big.csv").write_bytes(big)
    p = _interrupted(wal, [Write("a.csv", b"1"), Write("big.csv", b"new")], 2, **roots)
    _interrupted(wal, [Write("c.csv", b"1"), Write("d.csv", b"2")], 1, **roots)
    (roots["root"] / "a.csv").unlink()  # partial (a.csv back, big.csv new): needs big.csv's blob
    blob = content_digest(big)
    for f in wal.path.joinpath("blobs").rglob("*"):
        if f.is_file() and blob.endswith(f.parent.name + f.name):
            f.unlink()
    settled = {s.wal_id: s for s in recover(wal)}
    assert settled[p.wal_id].status == "pending" and blob in settled[p.wal_id].message
    assert (roots["root"] / "big.csv").read_bytes() == b"new"
    assert [s.status for w, s in settled.items() if w != p.wal_id] == ["reversed"]  # the others are settled


def test_an_unregistered_custom_action_is_named_and_left_pending(wal: Wal, roots: dict[str, Any]) -> None:
    p = _interrupted(wal, [Write("a.csv", b"1"), Custom("index_put", {"name": "a", "doc": "1"})], 2, **roots)
    unregister_action("index_put")
    [settled] = recover(wal)
    assert settled.status == "pending" and "'index_put' is not registered" in settled.message
    assert (roots["root"] / "a.csv").exists() and [r.wal_id for r in pending(wal)] == [p.wal_id]
    _register()  # the module that registers it imported: the next recovery settles it
    [settled] = recover(wal)
    assert settled.status == "succeeded"


def test_an_intent_not_recorded_by_ops_is_skipped(wal: Wal) -> None:
    from waltools import make_entry

    wal.append(make_entry())
    [settled] = recover(wal)
    assert settled.status == "skipped" and not settled.needs_person and "kfm-wal complete" in settled.message
