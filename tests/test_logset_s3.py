"""A log set with a stream in S3 (moto on loopback): verified and replayed like local streams;
a stream whose archive is gone from the bucket is set.stream_missing, not a hang."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fsspec
import pytest
from clitools import assert_one_error_line, run
from kfm_wal import keys, logset
from kfm_wal.storage import push
from logsettools import codes, intent, new_stream, write_manifest


def test_a_stream_in_s3_and_a_link_to_it(tmp_path: Path, s3_config: dict[str, Any]) -> None:
    key = keys.generate()
    with new_stream(tmp_path / "a", key, "remote-a") as a:
        target = a.append(intent(1)).wal_id
    push(tmp_path / "a", "s3://archives/set/a", include_live=True)
    with new_stream(tmp_path / "b", key, "local-b") as b:
        b.append(intent(2, target))
    manifest = write_manifest(tmp_path / "set.json", {"remote-a": "s3://archives/set/a", "local-b": "b"})
    report = logset.verify(manifest)
    assert report.ok, report.to_dict()
    assert [s.stream for s in logset.operations(manifest)] == ["remote-a", "local-b"]
    result = run("validate", manifest)
    assert result.exit_code == 0, result.stderr

    write_manifest(manifest, {"remote-a": "s3://archives/set/elsewhere", "local-b": "b"})
    report = logset.verify(manifest)
    assert sorted(codes(report)) == ["set.link_missing", "set.stream_missing"]
    assert run("validate", manifest).exit_code == 1


def test_a_stream_at_an_unreachable_endpoint_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = {
        "endpoint_url": "http://127.0.0.1:9",
        "key": "k",
        "secret": "s",
        "client_kwargs": {"region_name": "us-east-1"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
        "skip_instance_cache": True,
    }
    monkeypatch.setitem(fsspec.config.conf, "s3", options)
    with new_stream(tmp_path / "b", keys.generate(), "b") as b:
        b.append(intent(1))
    manifest = write_manifest(tmp_path / "set.json", {"a": "s3://archives/a", "b": "b"})
    assert_one_error_line(run("validate", manifest), "s3://archives/a")
