"""Replay of a log set: two writers acting on one data root, each with its own log, the second's
operations linked to the first's; `kfm_wal.logset.replay_set` and `kfm-wal replay SET.json` run
both streams' operations into one sandbox in link order and reproduce the real root; a set that
fails verification is never replayed."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import run
from kfm_wal import keys, logset
from kfm_wal.ops import Delete, Move, Write, root_state
from kfm_wal.ops import run as run_op
from kfm_wal.replay import ReplayError
from logsettools import new_stream, write_manifest
from replaytools import META


def _two_writers(tmp_path: Path) -> tuple[Path, Path]:
    """Writer a writes raw files; writer b turns each into a processed one, linking to a's operation."""
    key = keys.generate()
    data = tmp_path / "real" / "data"
    where = {"root": data}
    with new_stream(tmp_path / "a", key, "ingest") as a, new_stream(tmp_path / "b", key, "process") as b:
        for i in range(3):
            made = run_op(a, [Write(f"raw/{i}.csv", f"{i},raw\n".encode())], **where, **META)
            run_op(
                b,
                [Move(f"raw/{i}.csv", f"done/{i}.csv"), Write(f"done/{i}.ok", b"ok")],
                **where,
                **META,
                lineage_links=[f"wal:{made.wal_id}"],
            )
        run_op(a, [Delete("done/0.ok")], **where, **META)
    manifest = write_manifest(tmp_path / "set.json", {"ingest": "a", "process": "b"})
    return manifest, data


def test_a_set_replays_into_one_sandbox_in_link_order(tmp_path: Path) -> None:
    manifest, data = _two_writers(tmp_path)
    assert logset.verify(manifest).ok
    steps = logset.operations(manifest)
    assert [s.stream for s in steps] == ["ingest", "process"] * 3 + ["ingest"]
    report = logset.replay_set(manifest, tmp_path / "box")
    assert report.ok and report.halted is None, report.to_dict()
    assert report.replayed == {"succeeded": 7}
    real = root_state.digest(root_state.file_tree(data))
    assert report.digests[report.roots[0]["dir"]] == real
    assert (tmp_path / "box" / report.roots[0]["dir"] / "done" / "2.csv").read_bytes() == b"2,raw\n"


def test_cli_replay_of_a_set(tmp_path: Path) -> None:
    manifest, _ = _two_writers(tmp_path)
    result = run("replay", manifest, "--into", tmp_path / "box")
    assert result.exit_code == 0, result.stderr
    assert "replayed 7 operation(s)" in result.stdout
    refused = run("replay", manifest, "--check")
    assert refused.exit_code == 2 and len(refused.stderr.splitlines()) == 1


def test_a_set_that_fails_verification_is_never_replayed(tmp_path: Path) -> None:
    manifest, _ = _two_writers(tmp_path)
    write_manifest(manifest, {"ingest": "a", "process": "b", "gone": "nowhere"})
    with pytest.raises(ReplayError, match="set.stream_missing"):
        logset.replay_set(manifest, tmp_path / "box")
    assert not (tmp_path / "box").exists()
    result = run("replay", manifest, "--into", tmp_path / "box")
    assert result.exit_code == 2 and "set.stream_missing" in result.stderr and "Traceback" not in result.stderr
