"""Replay from an archive at a URL (read-only source): `kfm_wal.replay.replay(URL, ...)` and
`kfm-wal replay URL --into SANDBOX` reproduce the roots a local replay does, from file:// and from
S3 (moto on loopback); a damaged archive and --quarantine are one error line each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clitools import assert_one_error_line, run
from kfm_wal import replay
from kfm_wal.ops import Delete, Move, Write
from kfm_wal.ops import run as run_op
from kfm_wal.replay import ReplayError
from kfm_wal.storage import push
from replaytools import META, Roots, sandbox_digests


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    """A log of file operations small enough to travel inline in their intents (no blob store)."""
    r = Roots(tmp_path / "real")
    with r.open() as wal:
        where = {"root": r.data}
        for i in range(30):  # enough to rotate: archived segments and a live one
            run_op(wal, [Write(f"part-{i}.csv", f"{i},x\n".encode() * 40)], **where, **META)
        run_op(wal, [Move("part-0.csv", "moved/part-0.csv"), Delete("part-1.csv")], **where, **META)
    assert list((r.log / "archive").glob("wal-*"))
    return r


def _data_digest(report: Any, roots: Roots) -> str:
    return sandbox_digests(report)[str(roots.data.resolve())]


def test_replay_from_a_file_url_equals_the_local_replay(roots: Roots, tmp_path: Path) -> None:
    url = (tmp_path / "bucket").as_uri()
    push(roots.log, url, include_live=True)
    local = replay.replay(roots.log, tmp_path / "box-local")
    remote = replay.replay(url, tmp_path / "box-url")
    assert remote.ok and remote.halted is None, remote.to_dict()
    assert remote.replayed == local.replayed == {"succeeded": 31}
    assert _data_digest(remote, roots) == _data_digest(local, roots) == roots.digests()[str(roots.data.resolve())]
    assert remote.log.startswith("file://")


def test_cli_replay_from_s3(roots: Roots, tmp_path: Path, s3_config: dict[str, Any]) -> None:
    url = "s3://archives/replay-src"
    push(roots.log, url, include_live=True)
    result = run("replay", url, "--into", tmp_path / "box", "--json")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "box" / "processed" / "moved" / "part-0.csv").read_bytes() == b"0,x\n" * 40
    assert not (tmp_path / "box" / "processed" / "part-1.csv").exists()
    part = run("replay", url, "--into", tmp_path / "box2", "--to", "10")
    assert part.exit_code == 0, part.stderr


def test_a_damaged_archive_is_never_replayed(roots: Roots, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    push(roots.log, bucket.as_uri(), include_live=True)
    seg = sorted((bucket / "archive").glob("wal-*.jsonl"))[0]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 1
    seg.write_bytes(bytes(data))
    with pytest.raises(ReplayError, match="fails validation"):
        replay.replay(bucket.as_uri(), tmp_path / "box")
    assert not (tmp_path / "box").exists()
    result = run("replay", bucket.as_uri(), "--into", tmp_path / "box")
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "fails validation" in result.stderr


def test_options_that_write_beside_the_log_are_refused_for_a_url(roots: Roots, tmp_path: Path) -> None:
    url = (tmp_path / "bucket").as_uri()
    push(roots.log, url, include_live=True)
    assert run("replay", url, "--check").exit_code == 0  # compares the real roots: writes nothing beside the log
    assert_one_error_line(run("replay", url, "--into", tmp_path / "b", "--quarantine"), "--quarantine")
    assert_one_error_line(run("replay", "memory://nothing-here", "--into", tmp_path / "c"), "memory://nothing-here")
