"""Recovery modes, `kfm-wal repair` and `kfm-wal tail`: what operators use after a crash."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import kfm_wal
import pytest
from click.testing import CliRunner
from kfm_wal import CorruptionError, Wal, keys, verify
from kfm_wal.cli import cli
from waltools import make_entry


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, keys.SigningKey, Path]:
    key = keys.generate()
    key_file = keys.save(key, tmp_path / "keys" / "writer.pem")
    log = tmp_path / "wal"
    with Wal.create(log, key, max_segment_bytes=32 * 1024, max_record_bytes=8 * 1024) as w:
        for i in range(20):
            w.append_many([make_entry(i * 5 + j) for j in range(5)])
    return log, key, key_file


def damage_archived_record(log: Path) -> tuple[Path, bytes]:
    seg = sorted((log / "archive").glob("wal-*.jsonl"))[1]
    data = bytearray(seg.read_bytes())
    data[data.index(b'"payload"', 2000) + 12] ^= 1
    seg.write_bytes(bytes(data))
    return seg, bytes(data)


def test_salvage_mode_opens_a_clean_copy(setup: tuple[Path, keys.SigningKey, Path], tmp_path: Path) -> None:
    log, key, _ = setup
    seg, damaged = damage_archived_record(log)
    with pytest.raises(CorruptionError):
        Wal.open(log, key, verify="all")  # a closed segment: the default open trusts it after a clean close
    with pytest.raises(kfm_wal.UsageError):
        Wal.open(log, key, recovery="salvage")
    with Wal.open(log, key, recovery="salvage", salvage_to=tmp_path / "copy") as w:
        assert w.path == tmp_path / "copy"
        w.append(make_entry(999))
    assert verify(tmp_path / "copy").ok
    assert seg.read_bytes() == damaged


def test_repair_dry_run_then_apply_tail(setup: tuple[Path, keys.SigningKey, Path]) -> None:
    log, _, key_file = setup
    live = next(log.glob("wal-*.jsonl"))
    good = live.read_bytes()
    live.write_bytes(good + b'{"seq":1000,"prev":"sha')
    runner = CliRunner()
    dry = runner.invoke(cli, ["repair", str(log)])
    assert dry.exit_code == 1 and "tail.torn" in dry.output and "dry run" in dry.output
    assert live.read_bytes() != good
    done = runner.invoke(cli, ["repair", str(log), "--apply", "--key", str(key_file)])
    assert done.exit_code == 0, done.output
    assert live.read_bytes() == good
    assert list((log / "recovered").iterdir())
    assert runner.invoke(cli, ["repair", str(log)]).exit_code == 0


def test_repair_salvages_damaged_history(setup: tuple[Path, keys.SigningKey, Path]) -> None:
    log, _, _ = setup
    seg, damaged = damage_archived_record(log)
    runner = CliRunner()
    dry = runner.invoke(cli, ["repair", str(log)])
    assert dry.exit_code == 1 and "record.hash" in dry.output
    assert not log.with_name("wal.salvaged").exists()
    done = runner.invoke(cli, ["repair", str(log), "--apply"])
    assert done.exit_code == 0, done.output
    assert verify(log.with_name("wal.salvaged")).ok
    assert seg.read_bytes() == damaged and not verify(log).ok


def test_tail_shows_last_records(setup: tuple[Path, keys.SigningKey, Path]) -> None:
    log, _, _ = setup
    out = CliRunner().invoke(cli, ["tail", str(log), "-n", "3", "--json"])
    assert out.exit_code == 0
    lines = out.output.splitlines()
    assert len(lines) == 3 and all(line.startswith('{"seq":') for line in lines)
    head = verify(log).head_seq
    assert lines[-1].startswith(f'{{"seq":{head},')


def test_tail_follow_sees_new_records(setup: tuple[Path, keys.SigningKey, Path]) -> None:
    log, key, _ = setup
    with subprocess.Popen(
        [
            str(Path(sys.executable).with_name("kfm-wal")),
            "tail",
            str(log),
            "-n",
            "0",
            "-f",
            "--json",
            "--interval",
            "0.02",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:  # the pipe is closed on exit, not left to the garbage collector
        try:
            time.sleep(0.5)
            with Wal.open(log, key) as w:
                r = w.append(make_entry(12345))
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith(f'{{"seq":{r.seq},') and r.wal_id in first
        finally:
            proc.kill()
            proc.wait()
