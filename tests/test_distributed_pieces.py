"""Segments verified in pieces (storage/pieces.py, rust/core/src/piece_scan.rs): with pieces of a
few hundred bytes to a few KB, so that lines, sealed groups and seals straddle piece boundaries,
every valid and invalid vector and randomly damaged logs give the local validator's report,
finding for finding, in this process and on a Dask cluster. Valid segments are merged from their
pieces (byte for byte the whole scan's summary), not rescanned whole; damage in the last piece is
reported from the pieces; a compressed segment is one task, decoded whole."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kfm_wal
import pytest
from clitools import assert_one_error_line, run
from disttools import comparable, damaged_log, local_cluster
from kfm_wal import _core, distributed, keys
from kfm_wal.errors import NotALogError, RemoteError
from kfm_wal.storage import pieces, validate
from kfm_wal.storage.store import ArchiveStore, RemoteSegment
from waltools import build_log, make_entry

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
KEYRING = VECTORS / "keyring.json"
VECTOR_DIRS = sorted(p for kind in ("valid", "invalid") for p in (VECTORS / kind).iterdir() if p.is_dir())
PIECE_SIZES = (160, 700, 3000)


@pytest.fixture(params=["file", "range"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Pieces read by the core from the file (a filesystem the task opens), or by fsspec range
    reads into memory (object storage's way, here on the same files)."""
    if request.param == "range":
        monkeypatch.setattr(pieces, "scan_piece", pieces.read_piece)
    return str(request.param)


def local_or_error(log: Path, keyring: Path | None) -> dict[str, Any] | str:
    try:
        return comparable(kfm_wal.verify(log, keyring))
    except NotALogError:
        return "not a log"


def in_pieces_or_error(log: Path, keyring: Path | None, piece_bytes: int) -> dict[str, Any] | str:
    try:
        url = log.resolve().as_uri()
        return comparable(validate.verify(url, keyring, scan_all=pieces.here_in_pieces(piece_bytes)))
    except NotALogError:
        return "not a log"


def segments_of(log: Path) -> list[RemoteSegment]:
    return ArchiveStore(log.resolve().as_uri()).segments()


def merged(segment: RemoteSegment, piece_bytes: int, parts: int = 1) -> tuple[bytes, list[bytes]] | None:
    n = pieces.piece_count(segment, piece_bytes)
    scanned = [
        pieces.scan_piece(segment.url, segment.name, segment.archived, k, piece_bytes, segment.size) for k in range(n)
    ]
    return _core.merge_pieces(scanned, parts)


def whole(segment: RemoteSegment, parts: int = 1) -> tuple[bytes, list[bytes]]:
    return _core.scan_file_summary_split(segment.url.removeprefix("file://"), segment.archived, parts)


def test_a_valid_segment_merged_from_its_pieces_is_its_whole_summary(tmp_path: Path, reader: str) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    for segment in segments_of(log):
        for piece_bytes in (100, 160, 450, 1000, 2500):
            assert pieces.piece_count(segment, piece_bytes) > 1
            # Merged, not rescanned whole: the pieces stood for the segment.
            assert merged(segment, piece_bytes, 3) == whole(segment, 3), (segment.name, piece_bytes)


def test_pieces_hold_about_their_size(tmp_path: Path, reader: str) -> None:
    """Each piece's lines are its own: the pieces' ranges tile the segment, none far past its
    window (a sealed group here is under 1.5 KB)."""
    log = build_log(tmp_path / "log", keys.generate())
    segment = segments_of(log)[0]
    scanned = [
        pieces.scan_piece(segment.url, segment.name, True, k, 300, segment.size) for k in range(-(-segment.size // 300))
    ]
    non_empty = [p for p in scanned if len(p) > 2]
    assert 1 < len(non_empty) < len(scanned)  # some windows hold no seal: their pieces are empty


def test_every_vector_in_pieces_gives_the_local_report(reader: str) -> None:
    assert len(VECTOR_DIRS) > 50
    invalid_seen = 0
    for d in VECTOR_DIRS:
        for keyring in (KEYRING, None):
            local = local_or_error(d, keyring)
            for piece_bytes in PIECE_SIZES:
                assert in_pieces_or_error(d, keyring, piece_bytes) == local, (d.name, keyring, piece_bytes)
            if isinstance(local, dict) and local["findings"]:
                invalid_seen += 1
    assert invalid_seen > 80


def test_randomly_damaged_logs_in_pieces_give_the_local_report(tmp_path: Path, reader: str) -> None:
    rng = random.Random(23)
    key = keys.generate()
    for i in range(40):
        log = damaged_log(tmp_path / f"log{i}", key, rng)
        local = local_or_error(log, None)
        for piece_bytes in (rng.randint(100, 400), rng.randint(400, 1500), rng.randint(1500, 5000)):
            assert in_pieces_or_error(log, None, piece_bytes) == local, (i, piece_bytes)


def test_damage_in_the_last_piece_is_reported_from_the_pieces(tmp_path: Path, reader: str) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    path = sorted((log / "archive").glob("wal-*.jsonl"))[0]
    data = bytearray(path.read_bytes())
    at = len(data) - 200  # inside the last sealed group
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    segment = segments_of(log)[0]
    assert merged(segment, 1000) == whole(segment)  # merged: the damage is after the last clean seal
    assert merged(segment, 1000) is not None
    local = local_or_error(log, None)
    assert isinstance(local, dict) and local["findings"]
    assert in_pieces_or_error(log, None, 1000) == local


def test_damage_before_the_last_piece_rescans_the_segment_whole(tmp_path: Path, reader: str) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    path = sorted((log / "archive").glob("wal-*.jsonl"))[0]
    data = bytearray(path.read_bytes())
    data[1200] ^= 0x01
    path.write_bytes(bytes(data))
    assert merged(segments_of(log)[0], 1000) is None
    assert in_pieces_or_error(log, None, 1000) == local_or_error(log, None)


def test_a_compressed_segment_is_one_task(tmp_path: Path) -> None:
    key = keys.generate()
    with kfm_wal.Wal.create(
        tmp_path / "log",
        key,
        max_segment_bytes=16 * 1024,
        max_record_bytes=4096,
        archive_compression="zstd",
        durability="none",
    ) as w:
        for i in range(30):
            r = w.append_many([make_entry(i * 3 + j) for j in range(3)])
            w.complete(r[0].wal_id)
        assert w.wait_for_archive() is None
    compressed = [s for s in segments_of(tmp_path / "log") if s.name.endswith(".zst")]
    assert compressed
    assert all(pieces.piece_count(s, 100) == 1 for s in compressed)
    assert in_pieces_or_error(tmp_path / "log", None, 300) == local_or_error(tmp_path / "log", None)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with local_cluster(2) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def on_cluster_or_error(log: Path, client: Any, keyring: Path | None, piece_bytes: int) -> dict[str, Any] | str:
    try:
        report = distributed.verify(log.resolve().as_uri(), client, keyring, timeout=60, piece_bytes=piece_bytes)
        return comparable(report)
    except NotALogError:
        return "not a log"


def test_vectors_in_pieces_on_a_cluster_give_the_local_report(client: Any) -> None:
    for d in VECTOR_DIRS:
        for keyring in (KEYRING, None):
            assert on_cluster_or_error(d, client, keyring, 700) == local_or_error(d, keyring), (d.name, keyring)


def test_damaged_logs_in_pieces_on_a_cluster_give_the_local_report(client: Any, tmp_path: Path) -> None:
    rng = random.Random(31)
    key = keys.generate()
    for i in range(10):
        log = damaged_log(tmp_path / f"log{i}", key, rng)
        piece_bytes = rng.randint(150, 3000)
        assert on_cluster_or_error(log, client, None, piece_bytes) == local_or_error(log, None), (i, piece_bytes)


def test_cli_piece_mb_needs_dask(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    result = run("validate", log.resolve().as_uri(), "--piece-mb", "1")
    assert result.exit_code == 2
    assert_one_error_line(result, "--piece-mb")


def comparable_json(out: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(out)
    for key in ("path", "elapsed", "throughput", "quarantined"):
        doc.pop(key, None)
    return doc


def test_cli_validate_url_in_pieces_on_the_cluster(client: Any, tmp_path: Path) -> None:
    log = tmp_path / "log"
    with kfm_wal.Wal.create(log, keys.generate(), max_segment_bytes=3 << 20, durability="none") as w:
        for i in range(12):
            r = w.append_many([make_entry(i * 400 + j) for j in range(400)])
            w.complete_many([{"wal_id": x.wal_id, "status": "succeeded"} for x in r[:300]])
    first = segments_of(log)[0]
    assert pieces.piece_count(first, 1 << 20) >= 2
    assert merged(first, 1 << 20) == whole(first)  # one MiB pieces stand for it
    address = client.scheduler.address
    local = run("validate", log, "--json")
    for piece_mb in ("1", "0"):
        remote = run("validate", log.resolve().as_uri(), "--json", "--dask", address, "--piece-mb", piece_mb)
        assert remote.exit_code == local.exit_code == 0, remote.stderr
        assert comparable_json(remote.stdout) == comparable_json(local.stdout)


@pytest.mark.parametrize("how", ["deleted", "cut"])
def test_a_segment_gone_or_cut_while_scanning_in_pieces_is_one_error(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    gone = sorted((log / "archive").glob("wal-*.jsonl"))[1]
    listed = ArchiveStore.segments

    def listed_then_changed(self: ArchiveStore) -> Any:
        segments = listed(self)
        if how == "deleted":
            gone.unlink()  # after the listing, before the workers read
        else:
            gone.write_bytes(gone.read_bytes()[:1000])
        return segments

    monkeypatch.setattr(ArchiveStore, "segments", listed_then_changed)
    with pytest.raises(RemoteError, match=gone.name):
        distributed.verify(log.resolve().as_uri(), client, timeout=60, piece_bytes=700)


def test_a_segment_cut_while_read_by_range_is_one_error(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    segment = segments_of(log)[0]
    Path(segment.url.removeprefix("file://")).write_bytes(b"x" * 100)
    with pytest.raises(RemoteError, match=segment.name):
        pieces.read_piece(segment.url, segment.name, True, 2, 700, segment.size)
