"""Small contents travel inline in the intent's payload (payload.inline), bounded per operation by
the log's record size limit; logs written before that (every content a blob) read, undo and
recover exactly as before; a bad inline table is one clear error and changes nothing."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from kfm_wal import Wal, keys
from kfm_wal.ops import (
    INLINE_MAX,
    MIXED_FORMAT,
    BlobError,
    BlobStore,
    Contents,
    Delete,
    Write,
    content_digest,
    operation,
    prepare,
    recover,
    run,
    undo,
)
from kfm_wal.ops import contents as contents_mod
from kfm_wal.ops import durable as durable_mod
from kfm_wal.ops import graph as g
from test_ops_support import META, UNDO_META, assert_valid, count, snapshot


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "data"
    r.mkdir()
    (r / "small.csv").write_bytes(b"id\n1\n")
    (r / "large.csv").write_bytes(b"L" * (INLINE_MAX + 1))
    return r


@pytest.fixture
def big_wal(tmp_path: Path, key: keys.SigningKey) -> Wal:
    """A log with the default 1 MiB record limit (the shared `wal` fixture has 16 KiB)."""
    return Wal.create(tmp_path / "big-wal", key)


def _refs(body: dict) -> set[str]:
    refs = {a["blob"] for a in body["payload"]["actions"] if "blob" in a}
    return refs | {s["blob"] for s in body["reversal"]["steps"] if s["type"] == "file.restore"}


def test_inline_and_blob_contents_in_one_operation_undo(big_wal: Wal, root: Path) -> None:
    before = snapshot(root)
    actions = [
        Write("small.csv", b"L" * (INLINE_MAX + 5)),
        Write("large.csv", b"tiny"),
        Write("new.csv", b"n"),
        Delete("large.csv"),
    ]
    result = run(big_wal, actions, root=root, **META)
    body = big_wal.intent(result.wal_id).body  # type: ignore[union-attr]
    inline = body["payload"]["inline"]
    # the small before-image and the small new contents inline; the large ones are blobs
    assert set(inline) == {content_digest(b"id\n1\n"), content_digest(b"tiny"), content_digest(b"n")}
    store = BlobStore.for_log(big_wal.path)
    assert {d for d in _refs(body) if store.has(d)} == _refs(body) - set(inline)
    undone = undo(big_wal, result.wal_id, root=root, **UNDO_META)
    assert undone.status == "succeeded" and snapshot(root) == before
    assert_valid(big_wal)


def test_the_budget_bounds_the_intent(wal: Wal, root: Path) -> None:
    """`wal` has max_record_bytes 16 KiB: at most 2 KiB inline, the rest goes to blobs."""
    budget = contents_mod.inline_budget(wal)
    assert budget == 16 * 1024 // 8
    actions = [Write(f"f{i}.csv", bytes([65 + i]) * 700) for i in range(6)]
    result = run(wal, actions, root=root, **META)
    body = wal.intent(result.wal_id).body  # type: ignore[union-attr]
    inline = {d: base64.b64decode(t) for d, t in body["payload"]["inline"].items()}
    assert len(inline) == budget // 700 and sum(map(len, inline.values())) <= budget
    source = Contents.for_log(wal.path, body["payload"])
    assert [source.get(a["blob"]) for a in body["payload"]["actions"]] == [a.data for a in actions]
    assert undo(wal, result.wal_id, root=root, **UNDO_META).status == "succeeded"
    assert not any((root / f"f{i}.csv").exists() for i in range(6))


def test_a_log_with_the_smallest_record_limit(tmp_path: Path, key: keys.SigningKey, root: Path) -> None:
    with Wal.create(tmp_path / "tiny", key, max_record_bytes=4096) as wal:
        assert contents_mod.inline_budget(wal) == 512
        small = run(wal, [Write("a.csv", b"a" * 500)], root=root, **META)
        large = run(wal, [Write("b.csv", b"b" * 513)], root=root, **META)
        assert list(wal.intent(small.wal_id).body["payload"]["inline"]) == [content_digest(b"a" * 500)]  # type: ignore[union-attr]
        assert "inline" not in wal.intent(large.wal_id).body["payload"]  # type: ignore[union-attr]
        assert BlobStore.for_log(wal.path).get(content_digest(b"b" * 513)) == b"b" * 513


def _old_style(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan as kfm_wal.ops did before inline contents: every content a blob."""
    monkeypatch.setattr(operation, "inline_budget", lambda wal: 0)


def test_a_log_written_before_inline_contents_undoes_as_before(
    big_wal: Wal, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(root)
    with monkeypatch.context() as m:
        _old_style(m)
        result = run(big_wal, [Write("small.csv", b"changed"), Write("new.csv", b"n")], root=root, **META)
    body = big_wal.intent(result.wal_id).body  # type: ignore[union-attr]
    assert "inline" not in body["payload"]
    assert all(BlobStore.for_log(big_wal.path).has(d) for d in _refs(body))
    assert undo(big_wal, result.wal_id, root=root, **UNDO_META).status == "succeeded"
    assert snapshot(root) == before
    assert_valid(big_wal)


def test_a_log_written_before_inline_contents_recovers_as_before(
    big_wal: Wal, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(root)
    with monkeypatch.context() as m:
        _old_style(m)
        p = prepare(big_wal, [Write("small.csv", b"changed"), Write("new.csv", b"n")], root=root, **META)
    assert "inline" not in p.entry["payload"]
    with durable_mod.deferred_dir_sync():
        p.plan.execute(0)  # its first action ran, then the process died (a crash)
    assert snapshot(root) != before
    [settled] = recover(big_wal, root=root)
    assert settled.status == "reversed" and snapshot(root) == before


def test_a_pending_inline_operation_recovers_from_its_intent(big_wal: Wal, root: Path) -> None:
    """The before-image of small.csv exists only in the intent: recovery restores it from there."""
    before = snapshot(root)
    p = prepare(big_wal, [Write("small.csv", b"changed"), Write("new.csv", b"n")], root=root, **META)
    assert set(p.entry["payload"]["inline"]) == _refs(p.entry)
    with durable_mod.deferred_dir_sync():
        p.plan.execute(0)  # half done: recovery needs the before-image
    assert not BlobStore.for_log(big_wal.path).root.exists()
    [settled] = recover(big_wal, root=root)
    assert settled.status == "reversed" and snapshot(root) == before


def _recorded_with(wal: Wal, root: Path, inline: dict[str, str]) -> str:
    """A succeeded operation whose intent carries `inline` instead of the real table."""
    p = prepare(wal, [Write("small.csv", b"changed")], root=root, **META)
    entry = dict(p.entry, wal_id="5a1c0ffe-0000-4000-8000-000000000001")
    entry["payload"] = dict(entry["payload"], inline=inline)
    wal.append(entry)
    wal.complete(entry["wal_id"], "succeeded")
    return str(entry["wal_id"])


@pytest.mark.parametrize("bad", ["corrupt", "not-base64", "bad-digest"])
def test_a_bad_inline_table_refuses_the_undo(big_wal: Wal, root: Path, bad: str) -> None:
    digest = content_digest(b"id\n1\n")
    table = {
        "corrupt": {digest: base64.b64encode(b"id\n2\n").decode()},
        "not-base64": {digest: "***"},
        "bad-digest": {"sha256:zz": base64.b64encode(b"id\n1\n").decode()},
    }[bad]
    wal_id = _recorded_with(big_wal, root, table)
    (root / "small.csv").write_bytes(b"changed")  # the state the operation left
    n = count(big_wal)
    with pytest.raises(BlobError, match="corrupt|base64|not a blob digest"):
        undo(big_wal, wal_id, root=root, **UNDO_META)
    assert count(big_wal) == n and (root / "small.csv").read_bytes() == b"changed"


def test_a_mixed_operation_is_undone_from_its_inline_before_image(big_wal: Wal, root: Path, tmp_path: Path) -> None:
    store = g.GraphStore.open(tmp_path / "graph")
    triple = "<http://example.org/ks> <http://example.org/file> <http://example.org/csv>"
    before = snapshot(root)
    result = run(big_wal, [Write("small.csv", b"changed"), g.Insert([triple])], root=root, graph=store, **META)
    payload = big_wal.intent(result.wal_id).body["payload"]  # type: ignore[union-attr]
    assert payload["format"] == MIXED_FORMAT
    assert set(payload["inline"]) == {content_digest(b"id\n1\n"), content_digest(b"changed")}
    assert not BlobStore.for_log(big_wal.path).root.exists()
    rollback = undo(big_wal, result.wal_id, **UNDO_META)
    assert snapshot(root) == before and triple not in store.triples()
    undo(big_wal, rollback.wal_id, **UNDO_META)  # and the rollback, from its own inline contents
    assert (root / "small.csv").read_bytes() == b"changed" and triple in store.triples()
    assert_valid(big_wal)
