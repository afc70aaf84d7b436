"""The blob store and the recorded digests."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from kfm_wal.ops import ABSENT, BlobError, BlobStore, actions_digest, canonical_json, content_digest, state_hash


def test_put_get_has_round_trip(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"hello")
    hexd = hashlib.sha256(b"hello").hexdigest()
    assert digest == "sha256:" + hexd
    assert (tmp_path / "blobs" / hexd[:2] / hexd[2:]).read_bytes() == b"hello"
    assert store.has(digest) and store.get(digest) == b"hello"
    assert not store.has(content_digest(b"other"))


def test_put_is_idempotent_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    assert store.put(b"x" * 1000) == store.put(b"x" * 1000)
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert not files[0].stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # read-only


def test_empty_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    assert store.get(store.put(b"")) == b""


def test_get_verifies_the_hash(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"original")
    path = store.path(digest)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(BlobError, match="corrupt") as info:
        store.get(digest)
    assert info.value.digest == digest


def test_missing_and_malformed_digests(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    with pytest.raises(BlobError, match="missing"):
        store.get(content_digest(b"never stored"))
    for bad in ["abc", "sha256:XYZ", "sha256:" + "A" * 64, "md5:" + "0" * 64]:
        with pytest.raises(BlobError, match="not a blob digest"):
            store.has(bad)


def test_state_hash_is_canonical() -> None:
    a = {"b.csv": content_digest(b"1"), "a.csv": ABSENT}
    b = {"a.csv": ABSENT, "b.csv": content_digest(b"1")}
    assert state_hash(a) == state_hash(b)
    listing = canonical_json([["a.csv", "absent"], ["b.csv", content_digest(b"1")]])
    assert state_hash(a) == content_digest(listing)
    assert state_hash(a) != state_hash({**a, "a.csv": content_digest(b"")})


def test_actions_digest_ignores_key_order() -> None:
    one = [{"type": "file.delete", "path": "x"}]
    two = [{"path": "x", "type": "file.delete"}]
    assert actions_digest(one) == actions_digest(two) == content_digest(b'[{"path":"x","type":"file.delete"}]')
