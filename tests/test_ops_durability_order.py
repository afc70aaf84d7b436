"""run_batch batches its fsyncs without weakening the order that makes it crash safe:

- small contents (new contents and before-images of at most INLINE_MAX bytes) travel inline in
  the intents, durable with them: they cost no fsync of their own;
- every blob is written to a temp file that is fsynced before it is renamed into place, and each
  blob directory is fsynced ONCE, after its last rename and before the intents are appended;
- every target is written to a temp file that is fsynced before it is renamed over the target,
  and each directory the batch changed is fsynced once, after its last rename and before the
  completions are appended (a recorded "succeeded" is durable).

Recorded by wrapping os.fsync (the path of the descriptor, from /proc/self/fd), os.replace and
the two group commits."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from kfm_wal import Wal
from kfm_wal.ops import INLINE_MAX, BlobStore, OperationSpec, PlanError, Write, content_digest, run, run_batch
from test_ops_support import META, assert_valid, snapshot

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")

Event = tuple[str, ...]


def spec(*actions: Write, n: int = 0) -> OperationSpec:
    return OperationSpec(list(actions), META["actor"], META["tier"], META["governance"], {"id": f"focus-{n}"})


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    out: list[Event] = []
    lock = threading.Lock()
    real_fsync, real_replace = os.fsync, os.replace
    real_append, real_complete = Wal.append_many, Wal.complete_many

    def record(*event: str) -> None:
        with lock:
            out.append(event)

    def fsync(fd: int) -> None:
        path = os.path.realpath(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)
        record("fsync", path)

    def replace(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        record("replace", os.path.realpath(src), os.path.realpath(dst))

    def append_many(self: Wal, entries: Any) -> Any:
        receipts = real_append(self, entries)
        record("append_many")
        return receipts

    def complete_many(self: Wal, completions: Any) -> Any:
        receipts = real_complete(self, completions)
        record("complete_many")
        return receipts

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(Wal, "append_many", append_many)
    monkeypatch.setattr(Wal, "complete_many", complete_many)
    return out


def _index(events: list[Event], event: Event) -> int:
    found = [i for i, e in enumerate(events) if e == event]
    assert len(found) == 1, (event, found)
    return found[0]


def _renamed_durably(events: list[Event], dst: str, after: int, before: int) -> int:
    """dst was renamed into place between `after` and `before` from a temp file fsynced earlier
    (after `after`); returns the index of the rename."""
    renames = [i for i, e in enumerate(events) if e[0] == "replace" and e[2] == dst]
    assert len(renames) == 1, (dst, renames)
    i = renames[0]
    assert after < i < before, (dst, after, i, before)
    src = events[i][1]
    synced = [j for j, e in enumerate(events) if e == ("fsync", src)]
    assert len(synced) == 1 and after < synced[0] < i, (src, synced, i)
    return i


def _dirs_synced_once(events: list[Event], last_rename: dict[str, int], after: int, before: int) -> None:
    for d, i in last_rename.items():
        syncs = [j for j, e in enumerate(events) if e == ("fsync", d) and after < j < before]
        assert len(syncs) == 1, (d, syncs)  # once per directory, not once per file
        assert i < syncs[0] < before, (d, i, syncs[0], before)


BIG = INLINE_MAX + 1  # a content this size is a blob; smaller ones travel inline in the intent


def big(tag: str) -> bytes:
    return (tag.encode() * BIG)[:BIG]


def _stored_as(wal: Wal) -> tuple[set[str], set[str]]:
    """(blob digests, inline digests) the intents reference (new contents and before-images)."""
    blobs: set[str] = set()
    inline: set[str] = set()
    for r in wal.records(kind="intent"):
        payload = r.body["payload"]
        refs = {x["blob"] for x in payload["actions"]}
        refs |= {s["blob"] for s in r.body["reversal"]["steps"] if s["type"] == "file.restore"}
        here = set(payload.get("inline", {}))
        assert here <= refs, here - refs  # nothing inline that is not referenced
        inline |= refs & here
        blobs |= refs - here
    return blobs, inline


def test_run_batch_durability_order(wal: Wal, tmp_path: Path, events: list[Event]) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "old.csv").write_bytes(big("original"))  # a blob before-image, replaced by inline bytes
    (root / "small.csv").write_bytes(b"small original")  # an inline before-image, replaced by a blob
    writes = [Write(f"part-{i:02d}.csv", b"row %d\n" % i) for i in range(40)]
    writes += [Write("large-1.csv", big("one")), Write("large-2.csv", big("two"))]
    writes += [Write("old.csv", b"replaced"), Write("small.csv", big("grown")), Write("sub/dir/new.csv", b"nested")]
    results = run_batch(wal, [spec(w, n=i) for i, w in enumerate(writes)], root=root)
    assert [r.status for r in results] == ["succeeded"] * len(writes)

    a, c = _index(events, ("append_many",)), _index(events, ("complete_many",))
    assert a < c
    store = BlobStore.for_log(wal.path)
    blobs, inline = _stored_as(wal)
    small = [w.data for w in writes if len(w.data) <= INLINE_MAX] + [b"small original"]
    assert inline == {content_digest(d) for d in small}
    assert blobs == {content_digest(d) for d in (big("one"), big("two"), big("original"), big("grown"))}
    assert not any(store.has(d) for d in inline)  # durable in the intents: no blob, no fsync of their own

    # blobs: temp fsynced, renamed, blob directory fsynced once -- all before the intents
    blob_dirs: dict[str, int] = {}
    for digest in blobs:
        path = os.path.realpath(store.path(digest))
        i = _renamed_durably(events, path, -1, a)
        d = os.path.dirname(path)
        blob_dirs[d] = max(blob_dirs.get(d, -1), i)
    _dirs_synced_once(events, blob_dirs, -1, a)
    blob_root = os.path.realpath(store.root)  # the store was empty: every blob directory is new,
    assert [e for e in events[:a] if e == ("fsync", blob_root)] == [("fsync", blob_root)]  # entries durable

    # targets: temp fsynced, renamed after the intents, each directory fsynced once before the completions
    data = os.path.realpath(root)
    target_dirs: dict[str, int] = {}
    for w in writes:
        path = os.path.realpath(root / w.path)
        i = _renamed_durably(events, path, a, c)
        d = os.path.dirname(path)
        target_dirs[d] = max(target_dirs.get(d, -1), i)
    _dirs_synced_once(events, target_dirs, a, c)
    # the new directories' entries are durable before the completions too
    for d in (os.path.join(data, "sub"), data):
        assert any(e == ("fsync", d) for e in events[a:c]), d

    # one file fsync per write (its target) plus one per blob and one per directory
    fsyncs = sum(1 for e in events if e[0] == "fsync")
    assert fsyncs == len(writes) + len(blobs) + 1 + len(blob_dirs) + len(target_dirs) + 2, fsyncs
    assert snapshot(root)["sub/dir/new.csv"] == b"nested"
    assert_valid(wal)


def test_a_batch_of_small_writes_stores_no_blob(wal: Wal, tmp_path: Path, events: list[Event]) -> None:
    """Small new contents travel in the intents and a file absent before needs no before-image:
    nothing is fsynced before the intents, and one fsync per file plus one per directory after."""
    root = tmp_path / "data"
    root.mkdir()
    writes = [Write(f"f{i:02d}.csv", b"x" * i) for i in range(1, 30)]
    run_batch(wal, [spec(w, n=i) for i, w in enumerate(writes)], root=root)
    a, c = _index(events, ("append_many",)), _index(events, ("complete_many",))
    assert [e for e in events[:a] if e[0] in ("fsync", "replace")] == []
    assert sum(1 for e in events[a:c] if e[0] == "fsync") == len(writes) + 1
    assert not BlobStore.for_log(wal.path).root.exists()
    for r in wal.records(kind="intent"):
        (action,) = r.body["payload"]["actions"]
        assert r.body["reversal"]["steps"] == [{"type": "file.delete", "path": action["path"]}]
        assert list(r.body["payload"]["inline"]) == [action["blob"]]
    assert_valid(wal)


def test_run_orders_the_same_way(wal: Wal, tmp_path: Path, events: list[Event]) -> None:
    """run: blobs durable before its intent, targets' directories fsynced before its completion."""
    root = tmp_path / "data"
    writes = [Write("a.csv", big("a")), Write("b.csv", b"b"), Write("c.csv", big("c"))]
    appended: list[int] = []
    real_append = Wal.append

    def append(self: Wal, entry: Any) -> Any:
        receipt = real_append(self, entry)
        appended.append(len(events))
        events.append(("append",))
        return receipt

    with pytest.MonkeyPatch.context() as m:
        m.setattr(Wal, "append", append)
        result = run(wal, writes, root=root, **META)
    assert result.status == "succeeded"
    a, c = appended[0], _index(events, ("complete_many",))
    store = BlobStore.for_log(wal.path)
    assert _stored_as(wal) == ({content_digest(big("a")), content_digest(big("c"))}, {content_digest(b"b")})
    last: dict[str, int] = {}
    for w in writes:
        if len(w.data) > INLINE_MAX:
            blob = os.path.realpath(store.path(content_digest(w.data)))
            _renamed_durably(events, blob, -1, a)
        last[os.path.realpath(root / w.path)] = _renamed_durably(events, os.path.realpath(root / w.path), a, c)
    _dirs_synced_once(events, {os.path.realpath(root): max(last.values())}, a, c)


def test_a_refused_batch_stores_no_blobs(wal: Wal, tmp_path: Path) -> None:
    """Blobs are stored once the whole batch is planned: a batch refused at planning leaves none."""
    with pytest.raises(PlanError, match="both touch"):
        run_batch(wal, [spec(Write("a.csv", big("1"))), spec(Write("a.csv", big("2")))], root=tmp_path / "data")
    store = BlobStore.for_log(wal.path)
    assert not store.root.exists() or not [p for p in store.root.rglob("*") if p.is_file()]
