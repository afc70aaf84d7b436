"""`kfm-wal append`: entries as an object, an array or JSON lines, from a file or stdin, as one group
commit; bad input of every kind is one error line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import kfm_wal
import pytest
from clitools import append_ok, assert_one_error_line, init_log, jsonl, record_count, run
from conftest import make_entry as entry


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return init_log(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(json.dumps(entry(0)), id="object"),
        pytest.param(json.dumps(entry(0), indent=2), id="pretty-object"),
        pytest.param(json.dumps([entry(0), entry(1), entry(2)], indent=1), id="array"),
        pytest.param(jsonl(entry(0), entry(1), entry(2)) + "\n\n", id="jsonl"),
    ],
)
@pytest.mark.parametrize("from_file", [True, False], ids=["file", "stdin"])
def test_append_accepts_object_array_and_jsonl(log: Path, tmp_path: Path, text: str, from_file: bool) -> None:
    if from_file:
        (tmp_path / "in.json").write_text(text)
        result = run("append", log, tmp_path / "in.json")
    else:
        result = run("append", log, "-", input=text)
    assert result.exit_code == 0, result.stderr
    n = len(result.stdout.splitlines())
    assert n == (1 if text.lstrip().startswith("{") and "\n{" not in text else 3)
    intents = list(kfm_wal.records(log, kind="intent"))
    assert len(intents) == n
    for line, rec in zip(result.stdout.splitlines(), intents, strict=True):
        assert line == f"seq={rec.seq} kind=intent wal_id={rec.wal_id} hash={rec.hash}"


def test_append_json_receipts_are_one_group_commit(log: Path) -> None:
    receipts = append_ok(log, entry(0), entry(1), entry(2))
    assert [r["seq"] for r in receipts] == [3, 4, 5]
    assert {r["seal_seq"] for r in receipts} == {6}
    by_seq = {rec.seq: rec for rec in kfm_wal.records(log)}
    for r in receipts:
        assert by_seq[r["seq"]].hash == r["hash"] and by_seq[r["seq"]].wal_id == r["wal_id"]
        assert r["kind"] == "intent" and r["durability"] == "fsync"


BAD_INPUTS = [
    pytest.param(
        jsonl(entry(0), entry(1)) + '{"operation": "etl_step",\n',
        ("invalid JSON", "line 3"),
        id="bad-json-line-3",
    ),
    pytest.param("[\n" + json.dumps(entry(0)) + ',\n  {"tier": 1,}\n]', ("invalid JSON", "line 3"), id="bad-array"),
    pytest.param(
        jsonl(entry(0)) + json.dumps(entry(1)).replace('"tier": 1', '"tier": NaN') + "\n",
        ("NaN is not a JSON value", "line 2"),
        id="nan",
    ),
    pytest.param(json.dumps(entry(0)).replace('"tier": 1', '"tier": Infinity'), ("Infinity", "line 1"), id="inf"),
    pytest.param(
        jsonl(entry(0), entry(1, tier=7)),
        ("7 is greater than the maximum of 4", "line 2", "field tier"),
        id="schema-tier",
    ),
    pytest.param(
        jsonl(entry(0, actor={"type": "robot", "id": "r"})),
        ("line 1", "field actor.type"),
        id="schema-nested-field",
    ),
    pytest.param(
        jsonl(entry(0), {k: v for k, v in entry(1).items() if k != "reversal"}),
        ("'reversal' is a required property", "line 2"),
        id="schema-missing-field",
    ),
    pytest.param(jsonl(entry(0, tier=4)), ("field operation",), id="schema-tier-4-not-rollback"),
    pytest.param(
        json.dumps(entry(0))[:-1] + ', "tier": 2}',
        ("member name 'tier' repeated", "line 1"),
        id="duplicate-member",
    ),
    pytest.param("[1, 2]", ("must be a JSON object", "line 1"), id="not-objects"),
    pytest.param("  \n", ("no entries",), id="empty"),
    pytest.param("[]", ("no entries",), id="empty-array"),
    pytest.param(b'{"operation": "\xff"}', ("not UTF-8",), id="not-utf8"),
    pytest.param(jsonl(entry(0, wal_id="not-a-uuid")), ("field wal_id", "line 1"), id="bad-wal-id"),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_INPUTS)
def test_bad_input_is_one_error_line_and_writes_nothing(
    log: Path, text: str | bytes, fragments: tuple[str, ...]
) -> None:
    before = sorted((p.name, p.read_bytes()) for p in log.glob("*.jsonl"))
    assert_one_error_line(run("append", log, input=text), "stdin", *fragments)
    assert sorted((p.name, p.read_bytes()) for p in log.glob("*.jsonl")) == before


def test_bad_input_from_a_file_names_the_file(log: Path, tmp_path: Path) -> None:
    bad = tmp_path / "entries.jsonl"
    bad.write_text(jsonl(entry(0), entry(1)) + "{oops}\n")
    assert_one_error_line(run("append", log, bad), "file ", "entries.jsonl", "line 3", "column 2")
    assert_one_error_line(run("append", log, tmp_path / "missing.jsonl"), "No such file", "missing.jsonl")
    assert record_count(log) == 2


def test_bad_input_is_refused_before_the_log_is_touched(tmp_path: Path) -> None:
    """Input is parsed before the log or the key is looked at: neither exists here."""
    assert_one_error_line(run("append", tmp_path / "nowhere", input="{"), "invalid JSON", "line 1")


def test_append_refusals(log: Path, tmp_path: Path) -> None:
    text = jsonl(entry(0))
    assert_one_error_line(run("append", tmp_path / "not-a-log", input=text), "not a kfm-wal log", "not-a-log")
    other = tmp_path / "other.pem"
    assert run("keys", "generate", "--out", other).exit_code == 0
    assert_one_error_line(
        run("append", log, "--key", other, input=text), "does not match the log's writer key", f"log {log}"
    )
    assert_one_error_line(
        run("append", log, "--key", tmp_path / "gone.pem", input=text), "key file not found", "gone.pem"
    )
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    assert_one_error_line(run("append", log, "--key", not_pem, input=text), "not an unencrypted PKCS#8 PEM", "not.pem")
    assert record_count(log) == 2


def test_append_conflict_names_the_entry_line(log: Path) -> None:
    (first,) = append_ok(log, entry(0))
    text = jsonl(entry(1), entry(2, wal_id=first["wal_id"]))
    assert_one_error_line(run("append", log, input=text), "line 2", "entry 2", first["wal_id"])
    assert record_count(log) == 4


def test_append_reports_a_repaired_tail(log: Path) -> None:
    (seg,) = log.glob("wal-*.jsonl")
    with open(seg, "ab") as f:
        f.write(b'{"seq":3,"prev":"sha')
    result = run("append", log, input=jsonl(entry(0)))
    assert result.exit_code == 0
    assert "kfm-wal: note: cut tail.torn" in result.stderr and "recovered" in result.stderr
    assert kfm_wal.verify(log).ok
