"""A compacted log (FORMAT.md 6.10) pushed to object storage validates from its URL exactly as
from its directory (memory://, and S3 through moto on loopback): the checkpoint that anchors the
first retained segment is found in the archive's segments, the manifest lists each segment's
checkpoint cuts and the seal list travels with the blob store. A damaged checkpoint, a missing
one, a replaced segment and a manifest that disagrees are the directory's findings or one error
line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import fsspec
import kfm_wal
import orjson
import pytest
from clitools import assert_one_error_line, run
from compacttools import build, segment_names
from disttools import comparable
from kfm_wal import Wal, _core
from kfm_wal.errors import RemoteError
from kfm_wal.storage import push
from kfm_wal.storage import verify as verify_url
from kfm_wal.storage.blobs import relative
from waltools import make_entry


@pytest.fixture(scope="module")
def compacted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A log whose first three segments were compacted away (to its cold directory)."""
    tmp = tmp_path_factory.mktemp("compacted")
    log, _, info = build(tmp)
    before = next(first for n, first, _, _ in _core.segments(log) if n == 4)
    done = run("compact", log, "--before", before, "--apply")
    assert done.exit_code == 0, done.stderr
    assert segment_names(log)[0].startswith("wal-00000004-")
    assert kfm_wal.verify(log).ok
    return log, info


def _pushed(log: Path, tmp: Path) -> Path:
    """The whole log (the live segment with its checkpoint too) pushed to a `file://` bucket."""
    bucket = tmp / "bucket"
    push(log, bucket.as_uri(), include_live=True)
    return bucket


def _copy(log: Path, tmp: Path) -> Path:
    copy = tmp / "copy"
    shutil.copytree(log, copy, ignore=shutil.ignore_patterns("cold", "LOCK"))
    return copy


def _checkpoint_segment(log: Path) -> Path:
    """The segment file that holds the checkpoint intent."""
    for _, _, path, archived in _core.segments(log):
        if b"kfm-wal-checkpoint/1" in _core.segment_bytes(path, archived):
            return Path(path)
    raise AssertionError("no checkpoint in the log")


def _object(url_root: Path, log: Path, segment: Path) -> Path:
    return url_root / (f"archive/{segment.name}" if segment.parent.name == "archive" else segment.name)


def test_a_compacted_log_validates_from_memory_as_from_its_directory(compacted: tuple[Path, dict[str, Any]]) -> None:
    log, info = compacted
    url = "memory://compacted-a/log"
    result = push(log, url, include_live=True)
    assert result.uploaded == segment_names(log)
    remote, local = verify_url(url), kfm_wal.verify(log)
    assert remote.ok, remote.findings
    assert comparable(remote) == comparable(local)
    assert remote.pending == len(info["pending"])
    # the manifest lists the checkpoint's cut under the segment that holds it
    doc = orjson.loads(fsspec.filesystem("memory").cat_file("/compacted-a/log/MANIFEST.json"))
    held = {s["name"]: s["checkpoints"] for s in doc["segments"]}
    holder = _checkpoint_segment(log).name
    assert held[holder] and held[holder][0][0] == 3  # the cut: the end of segment 3
    assert all(cuts == [] for name, cuts in held.items() if name != holder)
    # the seal list the checkpoint names travels with the blob store; the live blob too
    assert info["late_blob"] in result.blobs_uploaded
    fs = fsspec.filesystem("memory")
    assert fs.exists(f"/compacted-a/log/{relative(info['late_blob'])}")


def test_a_compacted_log_validates_from_s3_as_from_its_directory(
    compacted: tuple[Path, dict[str, Any]], s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, _ = compacted
    url = "s3://archives/compacted"
    push(log, url, include_live=True, storage_options=s3)
    assert comparable(verify_url(url, storage_options=s3)) == comparable(kfm_wal.verify(log))
    again = push(log, url, include_live=True, storage_options=s3)
    assert again.uploaded == [] and again.blobs_uploaded == []  # nothing twice, blobs included
    monkeypatch.setitem(fsspec.config.conf, "s3", dict(s3))
    result = run("validate", url, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["ok"] is True


def test_without_its_checkpoint_the_archive_reports_what_the_directory_does(
    compacted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Pushed without the live segment (the checkpoint's), the archive is the compacted log
    without its anchor: the findings of the directory with the same segments."""
    log, _ = compacted
    holder = _checkpoint_segment(log)
    bucket = tmp_path / "bucket"
    push(log, bucket.as_uri())  # rotated segments only
    copy = _copy(log, tmp_path)
    (copy / holder.relative_to(log)).unlink()
    remote, local = verify_url(bucket.as_uri()), kfm_wal.verify(copy)
    assert not local.ok and {f.code for f in local.findings} >= {"chain.segment"}
    assert comparable(remote) == comparable(local)


def test_a_damaged_checkpoint_on_the_store_gives_the_directorys_findings(
    compacted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    log, _ = compacted
    bucket = _pushed(log, tmp_path)
    (bucket / "MANIFEST.json").unlink()  # the manifest would refuse the other bytes first
    holder = _checkpoint_segment(log)
    obj = _object(bucket, log, holder)
    data = obj.read_bytes()
    at = data.index(b'"cut":{"segment":3')
    damaged = data[:at] + b'"cut":{"segment":2' + data[at + len(b'"cut":{"segment":3') :]
    obj.write_bytes(damaged)
    copy = _copy(log, tmp_path)
    (copy / holder.relative_to(log)).write_bytes(damaged)
    remote, local = verify_url(bucket.as_uri()), kfm_wal.verify(copy)
    assert not local.ok
    codes = {f.code for f in local.findings}
    assert "record.hash" in codes or "chain.segment" in codes, codes
    assert comparable(remote) == comparable(local)


def test_a_manifest_that_disagrees_on_checkpoints_is_one_error_line(
    compacted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    log, _ = compacted
    bucket = _pushed(log, tmp_path)
    doc = orjson.loads((bucket / "MANIFEST.json").read_bytes())
    holder = _checkpoint_segment(log).name
    for s in doc["segments"]:
        if s["name"] == holder:
            s["checkpoints"] = []
    (bucket / "MANIFEST.json").write_bytes(orjson.dumps(doc))
    with pytest.raises(RemoteError, match=f"disagrees with segment {holder}: it lists checkpoint cuts"):
        verify_url(bucket.as_uri())
    assert_one_error_line(run("validate", bucket.as_uri()), "MANIFEST.json", holder)


def test_a_segment_deleted_or_replaced_in_the_bucket_is_one_error_line(
    compacted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    log, _ = compacted
    bucket = _pushed(log, tmp_path)
    holder = _checkpoint_segment(log)
    obj = _object(bucket, log, holder)
    obj.write_bytes(obj.read_bytes()[:-10])  # replaced by other (shorter) bytes
    assert_one_error_line(run("validate", bucket.as_uri()), "MANIFEST.json", holder.name)
    obj.unlink()
    assert_one_error_line(run("validate", bucket.as_uri()), "MANIFEST.json", holder.name)


def test_the_dask_path_joins_the_checkpoint_as_the_local_one(
    compacted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    from disttools import local_cluster
    from kfm_wal import distributed

    log, _ = compacted
    url = (tmp_path / "bucket").as_uri()
    push(log, url, include_live=True)
    with local_cluster(2) as client:
        client.wait_for_workers(2, timeout=60)
        report = distributed.verify(url, client)
    assert report.ok, report.findings
    assert comparable(report) == comparable(kfm_wal.verify(log))


def test_a_receipt_taken_before_compaction_is_continued_by_the_archive(tmp_path: Path) -> None:
    """As for a directory (test_compaction): the receipt's segment is compacted away, the
    checkpoint's seal list (pushed with the blobs) proves continuity; a forged one is a fork;
    the seal list gone from the bucket is one error line."""
    log, key, _ = build(tmp_path)
    receipt = tmp_path / "receipt.json"
    assert run("validate", log, "--receipt", receipt).exit_code == 0
    old = json.loads(receipt.read_text())
    with Wal.open(log, key) as wal:  # the log goes on
        wal.append(make_entry(1000))
    live_first = next(first for n, first, _, _ in _core.segments(log) if n == len(segment_names(log)))
    assert run("compact", log, "--before", live_first, "--apply").exit_code == 0
    assert old["segment"] not in segment_names(log)
    bucket = _pushed(log, tmp_path)
    local = run("validate", log, "--receipt", receipt, "--json")
    receipt.write_text(json.dumps(old))  # validate rewrote it: the same old receipt for the URL
    remote = run("validate", bucket.as_uri(), "--receipt", receipt, "--json")
    assert local.exit_code == remote.exit_code == 0, remote.stdout + remote.stderr
    strip = ("path", "elapsed", "throughput", "quarantined")  # quarantine: a directory's option
    assert {k: v for k, v in json.loads(remote.stdout).items() if k not in strip} == {
        k: v for k, v in json.loads(local.stdout).items() if k not in strip
    }
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**old, "hash": "sha256:" + "1" * 64}))
    result = run("validate", bucket.as_uri(), "--receipt", forged, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["findings"][0]["code"] == "receipt.mismatch"
    from kfm_wal.compaction import checkpoints

    seals = checkpoints(log)[-1].payload["seals"]["blob"]
    (bucket / relative(seals)).unlink()
    receipt.write_text(json.dumps(old))
    assert_one_error_line(run("validate", bucket.as_uri(), "--receipt", receipt), seals, "seal list")


def test_replay_of_the_archive_stops_at_the_compaction_point_as_of_the_directory(
    compacted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    from kfm_wal import replay

    log, _ = compacted
    url = "memory://compacted-replay/log"
    push(log, url, include_live=True)
    with pytest.raises(replay.ReplayError) as local:
        replay.replay(log, tmp_path / "box-dir")
    with pytest.raises(replay.ReplayError) as remote:
        replay.replay(url, tmp_path / "box-url")
    assert "the log was compacted" in str(local.value)
    assert str(remote.value) == str(local.value)
    assert not (tmp_path / "box-dir").exists() and not (tmp_path / "box-url").exists()


def test_a_manifest_written_before_checkpoints_were_listed_is_still_read(
    compacted: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    log, _ = compacted
    bucket = _pushed(log, tmp_path)
    doc = orjson.loads((bucket / "MANIFEST.json").read_bytes())
    for s in doc["segments"]:
        del s["checkpoints"]
    (bucket / "MANIFEST.json").write_bytes(orjson.dumps(doc))
    assert comparable(verify_url(bucket.as_uri())) == comparable(kfm_wal.verify(log))
    push(log, bucket.as_uri(), include_live=True)  # a later push lists them
    assert all("checkpoints" in s for s in orjson.loads((bucket / "MANIFEST.json").read_bytes())["segments"])


def test_a_corrupt_local_blob_is_never_pushed(compacted: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    log, info = compacted
    copy = _copy(log, tmp_path)
    blob = copy / relative(info["late_blob"])
    blob.chmod(0o644)
    blob.write_bytes(b"other bytes, same name")
    bucket = tmp_path / "bucket"
    result = run("archive", "push", copy, bucket.as_uri(), "--include-live")
    assert_one_error_line(result, info["late_blob"], "corrupt")
    assert not (bucket / relative(info["late_blob"])).exists()
    assert not (bucket / "MANIFEST.json").exists()
