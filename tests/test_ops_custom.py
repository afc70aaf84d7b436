"""User-registered action kinds: reversible (undo works) and irreversible (recorded, undo refused)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from kfm_wal import Wal
from kfm_wal.ops import (
    MIXED_FORMAT,
    Custom,
    NotUndoableError,
    OperationFailedError,
    PlanError,
    register_action,
    run,
    undo,
    unregister_action,
)
from kfm_wal.ops.digests import ABSENT, content_digest
from test_ops_support import META, UNDO_META, assert_valid, count

INDEX: dict[str, str] = {}  # a toy search index: name -> document
SENT: list[str] = []


def _digest(name: str) -> str:
    return content_digest(INDEX[name].encode()) if name in INDEX else ABSENT


def state(p: Mapping[str, Any]) -> dict[str, str]:
    return {p["name"]: _digest(p["name"])}


def expect(p: Mapping[str, Any]) -> dict[str, str]:
    return {p["name"]: content_digest(p["doc"].encode())}


def put(p: Mapping[str, Any]) -> None:
    INDEX[p["name"]] = p["doc"]


def remove(p: Mapping[str, Any]) -> None:
    # idempotent, and restores the previous document recorded in params
    if p.get("previous") is None:
        INDEX.pop(p["name"], None)
    else:
        INDEX[p["name"]] = p["previous"]


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    INDEX.clear()
    SENT.clear()
    register_action("index_put", execute=put, state=state, expect=expect, reverse=remove)
    register_action(
        "notify",
        execute=lambda p: SENT.append(p["to"]),
        state=lambda p: {"sent:" + p["to"]: "sent" if p["to"] in SENT else ABSENT},
        expect=lambda p: {"sent:" + p["to"]: "sent"},
        irreversible="an e-mail cannot be unsent",
    )
    yield
    unregister_action("index_put")
    unregister_action("notify")


def test_custom_action_with_reversal_round_trips(wal: Wal) -> None:
    INDEX["ks"] = "old"
    result = run(wal, [Custom("index_put", {"name": "ks", "doc": "new", "previous": "old"})], **META)
    assert result.status == "succeeded" and INDEX == {"ks": "new"}
    intent = wal.intent(result.wal_id)
    assert intent is not None and intent.body["payload"]["format"] == MIXED_FORMAT
    assert intent.body["reversal"]["steps"][0]["type"] == "custom.index_put.reverse"
    rollback = undo(wal, result.wal_id, **UNDO_META)
    assert INDEX == {"ks": "old"} and rollback.post_state_hash == result.pre_state_hash
    undo(wal, rollback.wal_id, **UNDO_META)
    assert INDEX == {"ks": "new"}
    assert_valid(wal)


def test_irreversible_action_needs_the_declaration_and_cannot_be_undone(wal: Wal) -> None:
    n = count(wal)
    with pytest.raises(PlanError, match="declare the operation irreversible"):
        run(wal, [Custom("notify", {"to": "steward@example.org"})], **META)
    assert count(wal) == n and SENT == []
    result = run(wal, [Custom("notify", {"to": "steward@example.org"})], irreversible="steward notified", **META)
    assert SENT == ["steward@example.org"]
    intent = wal.intent(result.wal_id)
    assert intent is not None and intent.body["reversal"] == {"irreversible": True, "reason": "steward notified"}
    with pytest.raises(NotUndoableError, match="recorded as irreversible .steward notified.; it cannot be undone"):
        undo(wal, result.wal_id, **UNDO_META)
    assert_valid(wal)


def test_failure_after_a_reversible_custom_action_reverses_it(wal: Wal) -> None:
    def boom(p: Mapping[str, Any]) -> None:
        raise RuntimeError("index offline")

    register_action(
        "broken", execute=boom, state=lambda p: {"b": ABSENT}, expect=lambda p: {"b": "x"}, reverse=lambda p: None
    )
    try:
        with pytest.raises(OperationFailedError, match="action 1 .custom.broken. failed") as info:
            run(wal, [Custom("index_put", {"name": "a", "doc": "A"}), Custom("broken", {})], **META)
    finally:
        unregister_action("broken")
    assert info.value.result is not None and info.value.result.status == "reversed"
    assert INDEX == {}
    assert_valid(wal)


def test_registration_rules(wal: Wal) -> None:
    with pytest.raises(PlanError, match="irreversible=<reason>"):
        register_action("x", execute=put, state=state, expect=expect)
    with pytest.raises(PlanError, match="not registered"):
        run(wal, [Custom("nope", {})], **META)
