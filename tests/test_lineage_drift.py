"""Lineage files are derived from the log: the manifest names the records each derives from, and
the audit reports every lineage file edited, added or deleted behind the log's back."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import kfm_wal
import pytest
from click.testing import CliRunner, Result
from kfm_wal import Wal, keys, lineage, records
from kfm_wal.audit_lineage import (
    BAD_MANIFEST,
    CHANGED_FILE,
    MISSING_FILE,
    OTHER_LOG,
    UNKNOWN_HEAD,
    UNLOGGED_FILE,
    LineageMatchesLog,
)
from kfm_wal.cli import cli
from kfm_wal.ops import Write, run
from kfm_wal.ops.digests import content_digest
from test_ops_support import META

REPORT_SCHEMA = json.loads((Path(kfm_wal.__file__).parent / "schemas" / "verify-report-v1.json").read_text())


@pytest.fixture
def log(tmp_path: Path, key: keys.SigningKey) -> Path:
    where = tmp_path / "data" / "wal"
    with Wal.create(where, key, durability="none") as wal:
        for i in range(3):
            run(wal, [Write(f"part-{i}.csv", b"%d\n" % i)], root=tmp_path / "data" / "processed", **META)
    return where


@pytest.fixture
def emitted(log: Path) -> Path:
    """The lineage directory, with all three formats derived."""
    lineage.emit(log, formats=["openlineage", "prov-json", "prov-n"])
    return log.parent / "lineage"


def audit(log: Path, directory: Path) -> list[kfm_wal.Finding]:
    report = kfm_wal.verify(log, rules=[LineageMatchesLog(directory)])
    assert all(f.code == "lineage.matches_log" for f in report.findings)
    return report.findings


def codes(findings: list[kfm_wal.Finding]) -> list[tuple[str, str]]:
    return [(f.target["code"], f.target["id"]) for f in findings if f.target]


def test_manifest_names_the_records_each_file_derives_from(log: Path, emitted: Path) -> None:
    manifest = json.loads((emitted / lineage.MANIFEST).read_bytes())
    assert manifest["format"] == "kfm-wal-lineage/1"
    last = list(records(log))[-1]
    assert manifest["log_id"] == next(r.body["log_id"] for r in records(log) if r.kind == "header")
    assert set(manifest["files"]) == {"events.jsonl", "prov.json", "prov.provn"}
    for name, entry in manifest["files"].items():
        assert (entry["from_seq"], entry["to_seq"], entry["head_hash"]) == (1, last.seq, last.hash)
        data = (emitted / name).read_bytes()
        assert entry["digest"] == content_digest(data)
        assert data.decode() == lineage.export(log, entry["format"], 1, entry["to_seq"])
    assert audit(log, emitted) == []


def test_emit_again_keeps_the_formats_and_the_bytes(log: Path, emitted: Path) -> None:
    before = {p.name: p.read_bytes() for p in emitted.iterdir()}
    lineage.emit(log)  # no formats given: the ones listed
    assert {p.name: p.read_bytes() for p in emitted.iterdir()} == before


def test_an_edited_event_is_located_at_its_record(log: Path, emitted: Path) -> None:
    events = emitted / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    third = json.loads(lines[2])
    third["eventType"] = "FAIL"
    lines[2] = json.dumps(third).encode() + b"\n"
    events.write_bytes(b"".join(lines))
    (f,) = audit(log, emitted)
    facet = third["run"]["facets"]["kfm_wal"]
    assert codes([f]) == [(CHANGED_FILE, "events.jsonl")]
    assert f.target is not None and f.target["line"] == 3
    assert (f.seq, f.wal_id) == (facet["seq"], facet["wal_id"]) and f.segment
    assert f.target["actual"] == content_digest(events.read_bytes())
    assert f.message.startswith(CHANGED_FILE + ": events.jsonl: line 3")


def test_an_appended_event_is_reported(log: Path, emitted: Path) -> None:
    events = emitted / "events.jsonl"
    events.write_bytes(events.read_bytes() + b'{"eventType":"START"}\n')
    (f,) = audit(log, emitted)
    assert codes([f]) == [(CHANGED_FILE, "events.jsonl")] and f.seq is None
    assert f.target is not None and f.target["line"] == 7  # 3 operations: 6 events, then the one added


def test_a_prov_document_edited(log: Path, emitted: Path) -> None:
    prov = emitted / "prov.json"
    doc = json.loads(prov.read_bytes())
    activity = sorted(doc["activity"])[1]
    doc["activity"][activity]["wal:status"] = "failed"
    prov.write_text(json.dumps(doc, indent=2, sort_keys=True))
    (f,) = audit(log, emitted)
    assert codes([f]) == [(CHANGED_FILE, "prov.json")]
    assert f.wal_id == activity.removeprefix("wal:op-")


def test_deleted_and_added_files(log: Path, emitted: Path) -> None:
    (emitted / "prov.provn").unlink()
    (emitted / "notes.txt").write_text("written around the log")
    (emitted / f".events.jsonl.{'ab' * 16}.tmp").write_text("an interrupted atomic write: ignored")
    findings = audit(log, emitted)
    assert codes(findings) == [(MISSING_FILE, "prov.provn"), (UNLOGGED_FILE, "notes.txt")]
    assert findings[0].seq == list(records(log))[-1].seq  # the record it is derived through
    assert findings[1].seq is None


def test_no_manifest_every_file_is_unlogged(log: Path, tmp_path: Path) -> None:
    directory = tmp_path / "lineage-by-hand"
    directory.mkdir()
    (directory / "events.jsonl").write_text(lineage.export(log))
    assert codes(audit(log, directory)) == [(UNLOGGED_FILE, "events.jsonl")]
    assert audit(log, tmp_path / "no-such-dir") == []


def test_a_manifest_of_another_history(log: Path, emitted: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    manifest = json.loads((emitted / lineage.MANIFEST).read_bytes())
    entry = manifest["files"]["events.jsonl"]
    entry["head_hash"] = "sha256:" + "0" * 64
    (emitted / lineage.MANIFEST).write_text(json.dumps(manifest))
    assert (UNKNOWN_HEAD, "events.jsonl") in codes(audit(log, emitted))
    other = tmp_path / "other" / "wal"
    with Wal.create(other, key, durability="none"):
        pass
    lineage.emit(other, emitted)  # rederived, for another log
    assert codes(audit(log, emitted)) == [(OTHER_LOG, lineage.MANIFEST)]
    (emitted / lineage.MANIFEST).write_text("{not json")
    assert codes(audit(log, emitted)) == [(BAD_MANIFEST, lineage.MANIFEST)]


def test_a_grown_log_is_not_drift(log: Path, emitted: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    with Wal.open(log, key, durability="none") as wal:
        run(wal, [Write("later.csv", b"x")], root=tmp_path / "data" / "processed", **META)
    assert audit(log, emitted) == []  # still what the log derives for the records named
    lineage.emit(log)
    manifest = json.loads((emitted / lineage.MANIFEST).read_bytes())
    assert manifest["files"]["events.jsonl"]["to_seq"] == list(records(log))[-1].seq
    assert audit(log, emitted) == []


# -- the command line ------------------------------------------------------------------------------


def cli_run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_emit_then_validate_operations(log: Path) -> None:
    out = cli_run("lineage", "emit", log, "--format", "openlineage", "--format", "prov-json")
    assert out.exit_code == 0, out.output
    directory = log.parent / "lineage"
    assert [line.split("\t")[0] for line in out.output.splitlines()] == [
        str(directory / "events.jsonl"),
        str(directory / "prov.json"),
    ]
    clean = cli_run("validate", log, "--operations", "--json")
    assert clean.exit_code == 0 and "lineage.matches_log" in json.loads(clean.output)["rules"]
    (directory / "events.jsonl").write_text("")
    out = cli_run("validate", log, "--operations", "--json")
    assert out.exit_code == 1
    doc = json.loads(out.output)
    jsonschema.validate(doc, REPORT_SCHEMA)
    (finding,) = doc["findings"]
    assert finding["code"] == "lineage.matches_log" and finding["target"]["code"] == CHANGED_FILE
    assert finding["target"]["line"] == 1 and finding["seq"] is not None
    # without --operations the lineage is not judged; --lineage DIR names another directory
    assert cli_run("validate", log).exit_code == 0
    assert cli_run("validate", log, "--lineage", directory).exit_code == 1
    missing = cli_run("validate", log, "--lineage", log.parent / "nope")
    assert missing.exit_code == 2 and "--lineage" in missing.output
    assert cli_run("lineage", "emit", log, "--format", "dot").exit_code == 2


def test_validate_operations_without_the_lineage_extra(log: Path, emitted: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\nsys.modules['openlineage'] = None\nfrom kfm_wal.cli import main\nsys.argv[0] = 'kfm-wal'\nmain()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "validate", str(log), "--operations"], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "kfm-wal: error: kfm-wal validate needs the 'lineage' extra: pip install 'kfm-wal[lineage]'\n"


def test_an_incremental_run_still_judges_the_whole_log(log: Path, emitted: Path, tmp_path: Path) -> None:
    receipt = tmp_path / "ci.receipt"
    first = cli_run("validate", log, "--operations", "--tree", "--receipt", receipt)
    assert first.exit_code == 0, first.output
    again = json.loads(cli_run("validate", log, "--operations", "--tree", "--receipt", receipt, "--json").output)
    assert again["incremental_from"] is not None and again["ok"], again["findings"]
    (emitted / "events.jsonl").write_text("")
    (log.parent / "processed" / "part-1.csv").write_text("edited")
    out = cli_run("validate", log, "--operations", "--tree", "--receipt", receipt, "--json")
    assert out.exit_code == 1
    assert sorted(f["target"]["code"] for f in json.loads(out.output)["findings"]) == [
        CHANGED_FILE,
        "tree.unexpected_state",
    ]
