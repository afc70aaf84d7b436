"""Replay from an archive whose operations need the blob store: `archive push` uploads `blobs/`
(content-addressed, nothing twice), and `replay URL`, `replay URL --check` and the Python API
read the blobs from the archive (memory://, S3 through moto on loopback) or from `--blobs`,
reproducing the roots' digests a replay of the directory gives, for a log of files, STAC and
graph operations and for the demo's own log. A blob missing or corrupt in the bucket is one
error line naming it and the operation, exit 2, and nothing is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import fsspec
import pytest
from clitools import run
from kfm_wal import demo, replay
from kfm_wal.ops import Delete, Move, Write, graph, stac
from kfm_wal.ops import run as run_op
from kfm_wal.storage import push
from kfm_wal.storage.blobs import relative
from replaytools import META, Roots, sandbox_digests, triple
from stactools import collection, item

BIG = bytes(range(256)) * 40  # 10 KiB: stored as a blob, not inline


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    """Files (large enough to need blobs), STAC and graph operations, a move and a delete."""
    r = Roots(tmp_path / "real")
    where = r.where()
    with r.open() as wal:
        run_op(wal, [Write("a.bin", BIG), Write("b.csv", b"b,1\n")], **where, **META)
        run_op(wal, [stac.CreateCollection(collection()), stac.CreateItem(item("ks-1"))], **where, **META)
        run_op(wal, [graph.Insert([triple(1), triple(2)]), Write("c.bin", BIG[::-1])], **where, **META)
        run_op(wal, [Move("a.bin", "moved/a.bin"), stac.UpdateItem(item("ks-1", name="renamed"))], **where, **META)
        run_op(wal, [graph.Delete([triple(1)]), Delete("b.csv"), Write("a.bin", BIG + b"2")], **where, **META)
    assert len(_blobs(r.log)) >= 3
    return r


def _blobs(log: Path) -> list[Path]:
    return [p for p in (log / "blobs").rglob("*") if p.is_file()]


def _digest(blob: Path) -> str:
    return "sha256:" + blob.parent.name + blob.name


def _digests(report: replay.ReplayReport) -> list[str]:
    return sorted(sandbox_digests(report).values())


def test_replay_from_memory_reads_the_pushed_blobs(roots: Roots, tmp_path: Path) -> None:
    url = "memory://replay-blobs/a"
    result = push(roots.log, url, include_live=True)
    assert sorted(result.blobs_uploaded) == sorted(_digest(b) for b in _blobs(roots.log))
    again = push(roots.log, url, include_live=True)
    assert again.blobs_uploaded == [] and len(again.blobs_unchanged) == len(result.blobs_uploaded)
    local = replay.replay(roots.log, tmp_path / "box-dir")
    remote = replay.replay(url, tmp_path / "box-url")
    assert remote.ok and local.ok, remote.to_dict()
    assert remote.replayed == local.replayed == {"succeeded": 5}
    assert _digests(remote) == _digests(local) == sorted(roots.digests().values())
    checked = replay.check(url)  # the real roots of this machine against the archive's replay
    assert checked.ok and checked.divergence is None, checked.to_dict()


def test_cli_replay_and_check_from_s3(roots: Roots, tmp_path: Path, s3_config: dict[str, Any]) -> None:
    url = "s3://archives/replay-blobs"
    push(roots.log, url, include_live=True)
    result = run("replay", url, "--into", tmp_path / "box", "--json")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "box" / "processed" / "moved" / "a.bin").read_bytes() == BIG
    assert (tmp_path / "box" / "processed" / "a.bin").read_bytes() == BIG + b"2"
    checked = run("replay", url, "--check")
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert "the real roots equal the replay of the log" in checked.stdout
    (roots.data / "c.bin").write_bytes(b"changed outside the log")
    diverged = run("replay", url, "--check", "--json")
    assert diverged.exit_code == 1
    assert json.loads(diverged.stdout)["divergence"]["target"].endswith("c.bin")


def test_blobs_kept_elsewhere_are_named_with_blobs(roots: Roots, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    push(roots.log, bucket.as_uri(), include_live=True)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(bucket / "blobs", elsewhere)
    assert run("replay", bucket.as_uri(), "--into", tmp_path / "no").exit_code == 2
    for blobs in (str(elsewhere), elsewhere.as_uri(), "memory://replay-blobs-elsewhere/store"):
        if blobs.startswith("memory://"):
            fs = fsspec.filesystem("memory")
            for b in _blobs(roots.log):
                fs.pipe_file(f"/replay-blobs-elsewhere/store/{relative(_digest(b))[6:]}", b.read_bytes())
        box = tmp_path / f"box-{len(blobs)}"
        result = run("replay", bucket.as_uri(), "--into", box, "--blobs", blobs)
        assert result.exit_code == 0, result.stderr
        assert (box / "processed" / "c.bin").read_bytes() == BIG[::-1]
    gone = run("replay", bucket.as_uri(), "--into", tmp_path / "x", "--blobs", str(tmp_path / "nowhere"))
    assert gone.exit_code == 2 and "--blobs" in gone.stderr and len(gone.stderr.splitlines()) == 1


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_blob_missing_or_corrupt_in_the_bucket_is_one_error_line(
    roots: Roots, tmp_path: Path, damage: str, s3: dict[str, Any], s3_config: dict[str, Any]
) -> None:
    url = f"s3://archives/replay-damaged-{damage}"
    push(roots.log, url, include_live=True)
    blob = next(b for b in _blobs(roots.log) if b.read_bytes() == BIG[::-1])
    digest = _digest(blob)
    fs = fsspec.filesystem("s3", **s3)
    where = f"archives/replay-damaged-{damage}/{relative(digest)}"
    if damage == "missing":
        fs.rm_file(where)
    else:
        fs.pipe_file(where, b"not the bytes the log names")
    box = tmp_path / "box"
    result = run("replay", url, "--into", box)
    assert result.exit_code == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert digest in line and damage in line and "seq" in line and "nothing of it was executed" in line
    assert not box.exists()
    with pytest.raises(replay.ReplayError) as e:
        replay.replay(url, box)
    assert e.value.wal_id is not None and e.value.wal_id in str(e.value) and not box.exists()


def test_the_demo_log_replays_from_a_url_as_from_its_directory(tmp_path: Path, s3: dict[str, Any]) -> None:
    data = tmp_path / "data"
    summary = demo.run(data, echo=None)
    assert summary["valid"] and summary["replay"]["ok"], summary
    local = replay.replay(data / "wal", tmp_path / "box-dir")
    push(data / "wal", "memory://replay-demo/wal", include_live=True)
    from_memory = replay.replay("memory://replay-demo/wal", tmp_path / "box-memory")
    push(data / "wal", "s3://archives/replay-demo", include_live=True, storage_options=s3)
    with pytest.MonkeyPatch.context() as m:
        m.setitem(fsspec.config.conf, "s3", dict(s3))
        from_s3 = replay.replay("s3://archives/replay-demo", tmp_path / "box-s3")
    assert local.ok and from_memory.ok and from_s3.ok, from_s3.to_dict()
    assert local.replayed == from_memory.replayed == from_s3.replayed
    kinds = {r["kind"] for r in local.roots}
    assert {"graph"} <= kinds and len(local.roots) >= 3, local.roots
    assert sandbox_digests(from_memory) == sandbox_digests(from_s3) == sandbox_digests(local)
