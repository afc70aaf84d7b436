"""Log sets: streams named in their headers (Wal.create(stream=...), init --stream, kept across a
reopen and a rotation), a manifest joining them, `kfm_wal.logset.verify` and `kfm-wal validate
SET.json` resolving `wal:` links across streams, and the replay order of a set's operations."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import kfm_wal
import orjson
import pytest
from clitools import assert_one_error_line, run
from kfm_wal import Wal, keys, logset
from kfm_wal.errors import WalError
from kfm_wal.logset.facts import Intent, Place, StreamFacts
from logsettools import codes, intent, new_stream, write_manifest


@pytest.fixture(scope="module")
def key() -> keys.SigningKey:
    return keys.generate()


def _header_bodies(log: Path) -> list[dict[str, object]]:
    return [r.body for r in kfm_wal.records(log, kind="header")]


def _two_streams(tmp_path: Path, key: keys.SigningKey) -> tuple[Path, str, str]:
    """Stream a: one intent; stream b: an intent linking to it (written after it was sealed)."""
    with new_stream(tmp_path / "a", key, "etl-a") as a:
        target = a.append(intent(1)).wal_id
    with new_stream(tmp_path / "b", key, "etl-b") as b:
        linker = b.append(intent(2, target)).wal_id
    return write_manifest(tmp_path / "set.json", {"etl-a": "a", "etl-b": "b"}), target, linker


def test_a_stream_id_is_in_every_header_across_a_reopen_and_rotations(tmp_path: Path, key: keys.SigningKey) -> None:
    with new_stream(tmp_path / "w", key, "worker-7", max_segment_bytes=16 * 1024) as w:
        w.append_many([intent(i) for i in range(4)])
    with Wal.open(tmp_path / "w", key) as w:
        for i in range(4, 64):
            w.append(intent(i))
    headers = _header_bodies(tmp_path / "w")
    assert len(headers) >= 3
    assert {h["stream"] for h in headers} == {"worker-7"}
    assert kfm_wal.verify(tmp_path / "w").ok


def test_a_log_without_a_stream_has_no_member(tmp_path: Path, key: keys.SigningKey) -> None:
    with Wal.create(tmp_path / "w", key) as w:
        w.append(intent(1))
    assert all("stream" not in h for h in _header_bodies(tmp_path / "w"))


def test_a_bad_stream_id_is_refused_before_anything_is_written(tmp_path: Path, key: keys.SigningKey) -> None:
    for bad in ("", "Upper", "-lead", "x" * 65, "sp ace", 'q"uote'):
        with pytest.raises(WalError, match="stream"):
            new_stream(tmp_path / "w", key, bad)
        assert not (tmp_path / "w").exists() or not any((tmp_path / "w").glob("wal-*"))


def test_init_stream_from_the_cli(tmp_path: Path) -> None:
    result = run("init", tmp_path / "wal", "--stream", "etl-a")
    assert result.exit_code == 0, result.stderr
    assert "etl-a" in result.stdout
    assert [h["stream"] for h in _header_bodies(tmp_path / "wal")] == ["etl-a"]
    bad = run("init", tmp_path / "other", "--stream", "Not An Id")
    assert bad.exit_code == 2 and "stream id" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "other").exists()


def test_a_valid_set_with_a_link_across_streams(tmp_path: Path, key: keys.SigningKey) -> None:
    manifest, target, linker = _two_streams(tmp_path, key)
    report = logset.verify(manifest)
    assert report.ok, report.to_dict()
    assert set(report.reports) == {"etl-a", "etl-b"}
    result = run("validate", manifest)
    assert result.exit_code == 0, result.stderr
    assert "VALID" in result.stdout and "etl-b" in result.stdout
    doc = orjson.loads(run("validate", manifest, "--json").stdout)
    assert doc["ok"] is True and doc["set_findings"] == []
    assert doc["streams"]["etl-a"]["report"]["ok"] is True


def test_a_link_to_a_record_no_stream_has(tmp_path: Path, key: keys.SigningKey) -> None:
    with new_stream(tmp_path / "a", key, "a") as a:
        a.append(intent(1))
    ghost = str(uuid.uuid4())
    with new_stream(tmp_path / "b", key, "b") as b:
        linker = b.append(intent(2, ghost)).wal_id
    manifest = write_manifest(tmp_path / "set.json", {"a": "a", "b": "b"})
    report = logset.verify(manifest)
    assert codes(report) == ["set.link_missing"]
    f = report.findings[0]
    assert (f.stream, f.wal_id, f.seq) == ("b", linker, 3)
    assert ghost in f.message
    result = run("validate", manifest)
    assert result.exit_code == 1
    assert "set.link_missing" in result.stdout and "stream b" in result.stdout


def test_a_link_to_a_later_record_of_another_stream(tmp_path: Path, key: keys.SigningKey) -> None:
    """b links to a's second intent before a has written it: set.link_order; the replay order
    still puts the linked operation after the one it links to."""
    later = str(uuid.uuid4())
    with new_stream(tmp_path / "a", key, "a") as a:
        first = a.append(intent(1)).wal_id
        with new_stream(tmp_path / "b", key, "b") as b:
            linker = b.append(intent(2, later)).wal_id
        assert a.append(intent(3, wal_id=later)).wal_id == later
    manifest = write_manifest(tmp_path / "set.json", {"a": "a", "b": "b"})
    report = logset.verify(manifest)
    assert codes(report) == ["set.link_order"], report.to_dict()
    assert report.findings[0].wal_id == linker and "stream a" in report.findings[0].message
    order = [s.intent.wal_id for s in logset.operations(manifest)]
    assert order == [first, later, linker]


def test_without_links_the_order_is_by_time(tmp_path: Path, key: keys.SigningKey) -> None:
    with new_stream(tmp_path / "a", key, "a") as a, new_stream(tmp_path / "b", key, "b") as b:
        ids = [b.append(intent(0)).wal_id, a.append(intent(1)).wal_id, b.append(intent(2)).wal_id]
    manifest = write_manifest(tmp_path / "set.json", {"b": "b", "a": "a"})
    assert [s.intent.wal_id for s in logset.operations(manifest)] == ids


def _facts(**streams: list[tuple[str, str, tuple[str, ...]]]) -> dict[str, StreamFacts]:
    out = {}
    for name, intents in streams.items():
        f = StreamFacts()
        for seq, (wal_id, ts, links) in enumerate(intents, start=3):
            i = Intent(wal_id, ts, links, Place("wal-1.jsonl", 0, seq), ts)
            f.intents.append(i)
            f.by_id[wal_id] = i
        out[name] = f
    return out


def test_equal_times_go_by_stream_id_then_seq() -> None:
    t = "2026-01-01T00:00:00.000000Z"
    facts = _facts(b=[("b1", t, ()), ("b2", t, ())], a=[("a1", t, ()), ("a2", t, ())])
    assert [s.intent.wal_id for s in logset.order(facts)] == ["a1", "a2", "b1", "b2"]


def test_a_link_forward_inside_a_stream_keeps_seq_order() -> None:
    t = "2026-01-01T00:00:00.000000Z"
    facts = _facts(a=[("a1", t, ("a2",)), ("a2", t, ())], b=[("b1", "2025-01-01T00:00:00.000000Z", ("a1",))])
    assert [s.intent.wal_id for s in logset.order(facts)] == ["a1", "b1", "a2"]  # b1 waits for a1 only


def test_links_that_form_a_cycle_are_one_error() -> None:
    t = "2026-01-01T00:00:00.000000Z"
    facts = _facts(a=[("a1", t, ("b1",))], b=[("b1", t, ("a1",))])
    with pytest.raises(WalError, match="cycle"):
        logset.order(facts)


def test_a_stream_missing_is_a_finding_and_the_others_are_verified(tmp_path: Path, key: keys.SigningKey) -> None:
    manifest, _, _ = _two_streams(tmp_path, key)
    write_manifest(manifest, {"etl-a": "a", "etl-b": "b", "etl-c": "c"})
    report = logset.verify(manifest)
    assert codes(report) == ["set.stream_missing"]
    assert report.findings[0].stream == "etl-c"
    assert report.reports["etl-a"] is not None and report.reports["etl-a"].ok
    result = run("validate", manifest)
    assert result.exit_code == 1 and "MISSING" in result.stdout
    with pytest.raises(WalError, match="etl-c"):
        logset.operations(manifest)


def test_a_header_naming_another_stream_and_a_log_listed_twice(tmp_path: Path, key: keys.SigningKey) -> None:
    manifest, _, _ = _two_streams(tmp_path, key)
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    write_manifest(manifest, {"etl-a": "a", "etl-b": "b", "etl-z": "copy"})
    report = logset.verify(manifest)
    assert sorted(codes(report)) == ["set.log_repeated", "set.stream_mismatch"]
    assert {f.stream for f in report.findings} == {"etl-z"}
    mismatch = next(f for f in report.findings if f.code == "set.stream_mismatch")
    assert mismatch.offset == 0 and mismatch.seq == 1 and "'etl-a'" in mismatch.message


def test_a_log_without_a_stream_in_a_set_is_a_mismatch(tmp_path: Path, key: keys.SigningKey) -> None:
    with Wal.create(tmp_path / "plain", key) as w:
        w.append(intent(1))
    report = logset.verify(write_manifest(tmp_path / "set.json", {"plain": "plain"}))
    assert codes(report) == ["set.stream_mismatch"] and "no stream" in report.findings[0].message


def test_a_damaged_stream_is_its_own_finding(tmp_path: Path, key: keys.SigningKey) -> None:
    manifest, _, _ = _two_streams(tmp_path, key)
    seg = next((tmp_path / "a").glob("wal-*.jsonl"))
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 1
    seg.write_bytes(bytes(data))
    report = logset.verify(manifest)
    assert not report.ok
    assert report.reports["etl-a"] is not None and not report.reports["etl-a"].ok
    assert all(f.stream == "etl-a" for f in report.findings if not f.code.startswith("set.link"))
    assert run("validate", manifest).exit_code == 1


def test_a_stream_at_a_file_url(tmp_path: Path, key: keys.SigningKey) -> None:
    manifest, _, _ = _two_streams(tmp_path, key)
    write_manifest(manifest, {"etl-a": (tmp_path / "a").as_uri(), "etl-b": "b"})
    report = logset.verify(manifest)
    assert report.ok, report.to_dict()
    assert report.streams["etl-a"].startswith("file://")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"format":"kfm-wal-logset/1","streams":{"a":"a","a":"b"}}', "named twice"),
        ('{"format":"kfm-wal-logset/1","streams":{"a":"a","b":"./a/"}}', "name one log"),
        ('{"format":"kfm-wal-logset/1","streams":{"A":"a"}}', "not a stream id"),
        ('{"format":"kfm-wal-logset/1","streams":{}}', "non-empty object"),
        ('{"format":"kfm-wal-logset/1","streams":{"a":7}}', "streams.a"),
        ('{"format":"kfm-wal-logset/2","streams":{"a":"a"}}', "not a log-set manifest"),
        ('{"format":"kfm-wal-logset/1","streams":{"a":"a"},"extra":1}', "unknown member 'extra'"),
        ("{", "not JSON"),
    ],
)
def test_a_manifest_that_cannot_be_used_is_one_error_line(tmp_path: Path, raw: str, fragment: str) -> None:
    manifest = write_manifest(tmp_path / "set.json", {}, raw=raw)
    with pytest.raises(WalError, match=fragment):
        logset.verify(manifest)
    assert_one_error_line(run("validate", manifest), fragment, "set.json")
    assert_one_error_line(run("replay", manifest, "--into", tmp_path / "box"), fragment)
    assert not (tmp_path / "box").exists()
