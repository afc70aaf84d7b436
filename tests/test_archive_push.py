"""Archives in object storage, without a cluster: `kfm-wal archive push` to memory://, file:// and
S3 (moto on loopback), nothing uploaded twice, a live prefix that grows, history never
overwritten; `validate URL` and `log URL` read-only, with the local report and records; and bad
input (a missing bucket, an unreachable endpoint, a manifest or a segment that disagrees) as one
error line, or a correct report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fsspec
import kfm_wal
import orjson
import pytest
from clitools import assert_one_error_line, run
from disttools import comparable
from kfm_wal import keys
from kfm_wal.errors import RemoteError
from kfm_wal.storage import push
from kfm_wal.storage import verify as verify_url
from waltools import build_log, make_entry


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return build_log(tmp_path / "log", keys.generate())


def test_push_then_validate_a_memory_url(log: Path) -> None:
    result = push(log, "memory://push-a/log")
    assert len(result.uploaded) == 3 and not result.unchanged  # the rotated ones; not the live one
    assert comparable(verify_url("memory://push-a/log")) != comparable(kfm_wal.verify(log))  # a prefix
    push(log, "memory://push-a/log", include_live=True)
    assert comparable(verify_url("memory://push-a/log")) == comparable(kfm_wal.verify(log))


def test_a_second_push_uploads_nothing(log: Path) -> None:
    push(log, "memory://push-b/log", include_live=True)
    again = push(log, "memory://push-b/log", include_live=True)
    assert again.uploaded == [] and len(again.unchanged) == 4


def test_the_manifest_lists_each_segment(log: Path) -> None:
    push(log, "memory://push-c/log", include_live=True)
    doc = orjson.loads(fsspec.filesystem("memory").cat_file("/push-c/log/MANIFEST.json"))
    assert doc["kind"] == "kfm-wal archive manifest"
    report = kfm_wal.verify(log)
    assert doc["log_id"] == report.log_id
    segs = doc["segments"]
    assert [s["path"].split("/")[0] for s in segs] == ["archive"] * 3 + [segs[3]["name"]]
    assert [s["first_seq"] for s in segs] == [1, 11, 21, 31]
    assert all(s["final_seal"]["seq"] == s["last_seq"] for s in segs)
    assert [s["final_seal"]["closes"] for s in segs] == [True, True, True, False]
    assert segs[-1]["last_hash"] == report.head_hash and segs[-1]["last_seq"] == report.head_seq
    assert segs[0]["prev_hash"] == "sha256:" + "0" * 64
    assert all(s["sha256"].startswith("sha256:") and s["size"] > 0 for s in segs)


def test_the_live_prefix_grows_and_moves_to_archive_on_rotation(tmp_path: Path) -> None:
    key = keys.generate()
    path = tmp_path / "log"
    with kfm_wal.Wal.create(path, key, max_segment_bytes=6144, max_record_bytes=4096, durability="none") as w:
        w.append(make_entry(1))
        first = push(path, "memory://push-d/log", include_live=True)
        w.append(make_entry(2))
        grown = push(path, "memory://push-d/log", include_live=True)
        assert grown.uploaded == first.uploaded  # the same segment, longer
        w.append_many([make_entry(10 + i) for i in range(12)])  # rotates
        rotated = push(path, "memory://push-d/log", include_live=True)
    assert first.uploaded[0] in rotated.removed
    assert comparable(verify_url("memory://push-d/log")) == comparable(kfm_wal.verify(path))


def test_history_at_the_url_is_never_overwritten(log: Path) -> None:
    push(log, "memory://push-e/log")
    fs = fsspec.filesystem("memory")
    victim = sorted(p for p in fs.ls("/push-e/log/archive", detail=False))[0]
    data = bytearray(fs.cat_file(victim))
    data[100] ^= 1
    fs.pipe_file(victim, bytes(data))
    fs.rm_file("/push-e/log/MANIFEST.json")  # nothing to trust but the bytes there
    with pytest.raises(RemoteError, match="refusing to overwrite"):
        push(log, "memory://push-e/log")


def test_s3_push_validate_and_log_from_the_cli(log: Path, s3_config: dict[str, Any]) -> None:
    url = "s3://archives/cli-log"
    pushed = run("archive", "push", log, url, "--include-live")
    assert pushed.exit_code == 0, pushed.stderr
    assert "pushed 4 segment(s)" in pushed.stdout
    remote, here = run("validate", url, "--json"), run("validate", log, "--json")
    assert remote.exit_code == here.exit_code == 0, remote.stderr
    a, b = json.loads(remote.stdout), json.loads(here.stdout)
    assert a["path"] == url
    for doc in (a, b):
        for k in ("path", "elapsed", "throughput", "quarantined"):
            doc.pop(k, None)
    assert a == b
    assert run("log", url, "--json").stdout == run("log", log, "--json").stdout
    assert run("log", url, "--json", "--from-seq", "12", "--to-seq", "25").stdout == (
        run("log", log, "--json", "--from-seq", "12", "--to-seq", "25").stdout
    )


def test_a_missing_bucket_is_one_error(s3_config: dict[str, Any]) -> None:
    assert_one_error_line(run("validate", "s3://no-such-bucket/log"), "s3://no-such-bucket/log")


def test_an_unreachable_endpoint_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    options = {
        "endpoint_url": "http://127.0.0.1:9",
        "key": "k",
        "secret": "s",
        "client_kwargs": {"region_name": "us-east-1"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
        "skip_instance_cache": True,
    }
    monkeypatch.setitem(fsspec.config.conf, "s3", options)
    assert_one_error_line(run("validate", "s3://archives/log"), "s3://archives/log")


def test_a_manifest_that_disagrees_is_one_error(log: Path, s3_config: dict[str, Any]) -> None:
    url = "s3://archives/manifest-log"
    push(log, url, include_live=True)
    fs = fsspec.filesystem("s3", **s3_config)
    doc = orjson.loads(fs.cat_file("archives/manifest-log/MANIFEST.json"))
    doc["segments"][1]["last_seq"] += 1
    fs.pipe_file("archives/manifest-log/MANIFEST.json", orjson.dumps(doc))
    name = doc["segments"][1]["name"]
    assert_one_error_line(run("validate", url), "disagrees with segment", name, "last_seq")


def test_a_segment_deleted_from_the_bucket_is_one_error(log: Path, s3_config: dict[str, Any]) -> None:
    url = "s3://archives/deleted-log"
    push(log, url, include_live=True)
    fs = fsspec.filesystem("s3", **s3_config)
    victim = sorted(fs.ls("archives/deleted-log/archive", detail=False))[1]
    fs.rm_file(victim)
    assert_one_error_line(run("validate", url), Path(victim).name, "not in the archive")


def test_a_segment_replaced_in_the_bucket_is_reported(log: Path, s3_config: dict[str, Any]) -> None:
    """Same size, one byte of a record changed: the manifest's seq range and final seal still
    hold, and the report says which record is damaged (exit 1), as a local validate would."""
    url = "s3://archives/replaced-log"
    push(log, url, include_live=True)
    fs = fsspec.filesystem("s3", **s3_config)
    victim = sorted(fs.ls("archives/replaced-log/archive", detail=False))[1]
    data = bytearray(fs.cat_file(victim))
    at = data.index(b'"etl-runner"') + 1
    data[at] = ord("s")
    fs.pipe_file(victim, bytes(data))
    (log / "archive" / Path(victim).name).write_bytes(bytes(data))
    result = run("validate", url, "--json")
    assert result.exit_code == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["findings"][0]["code"] == "record.hash"
    assert doc["findings"] == json.loads(run("validate", log, "--json").stdout)["findings"]


def test_options_that_need_a_directory_are_refused_for_a_url(tmp_path: Path) -> None:
    for option in (["--quarantine"], ["--operations"], ["--tree", str(tmp_path)]):
        result = run("validate", "memory://nothing/log", *option)
        assert_one_error_line(result, f"{option[0]} needs a log directory")


def test_dask_with_a_directory_is_refused(log: Path) -> None:
    assert_one_error_line(run("validate", log, "--dask", "tcp://127.0.0.1:9"), "--dask")


def test_push_to_a_path_is_refused(log: Path, tmp_path: Path) -> None:
    assert_one_error_line(run("archive", "push", log, tmp_path / "x"), "is not a URL")


def test_an_empty_url_is_not_a_log() -> None:
    fsspec.filesystem("memory").mkdir("/empty-place")
    assert_one_error_line(run("validate", "memory://empty-place"), "holds no kfm-wal segments")
