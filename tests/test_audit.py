"""Auditing a data root against the log: every file exactly as the recorded operations left it."""

from __future__ import annotations

import os
from pathlib import Path

import kfm_wal
import pytest
from kfm_wal import Wal
from kfm_wal.audit import MISSING_FILE, UNEXPECTED_STATE, UNLOGGED_FILE, TreeMatchesLog, audit_tree
from kfm_wal.ops import Delete, Move, Write, prepare, run, undo
from test_ops_support import META, UNDO_META


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "data" / "processed"
    r.mkdir(parents=True)
    return r


@pytest.fixture
def logged(wal: Wal, root: Path) -> Wal:
    run(wal, [Write("counties/ks.csv", b"id\n20001\n"), Write("old.csv", b"old\n")], root=root, **META)
    run(wal, [Move("old.csv", "archive/old.csv"), Write("states.csv", b"ks\n")], root=root, **META)
    return wal


def codes(findings: list[kfm_wal.Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.message.split(":", 1)[0]) for f in findings]


def test_clean_tree_passes(logged: Wal, root: Path) -> None:
    assert audit_tree(logged.path, root) == []
    report = kfm_wal.verify(logged.path, rules=[TreeMatchesLog(root)])
    assert report.ok, report.findings


def test_file_edited_behind_the_log(logged: Wal, root: Path) -> None:
    (root / "states.csv").write_bytes(b"tampered\n")
    findings = audit_tree(logged.path, root)
    assert codes(findings) == [(UNEXPECTED_STATE, "states.csv")]
    f = findings[0]
    assert f.seq is not None and f.wal_id is not None and f.segment
    assert "states.csv" in f.message and "the log expects sha256:" in f.message


def test_file_added_without_the_log(logged: Wal, root: Path) -> None:
    (root / "counties" / "extra.csv").write_bytes(b"sneaky\n")
    findings = audit_tree(logged.path, root)
    assert codes(findings) == [(UNLOGGED_FILE, "counties/extra.csv")]
    assert findings[0].seq is None and "written by no recorded operation" in findings[0].message


def test_logged_file_deleted(logged: Wal, root: Path) -> None:
    (root / "archive" / "old.csv").unlink()
    findings = audit_tree(logged.path, root)
    assert codes(findings) == [(MISSING_FILE, "archive/old.csv")]
    assert "archive/old.csv: missing" in findings[0].message


def test_deleted_file_that_comes_back(logged: Wal, root: Path) -> None:
    (root / "old.csv").write_bytes(b"old\n")  # the log moved it away
    assert codes(audit_tree(logged.path, root)) == [(UNEXPECTED_STATE, "old.csv")]


def test_findings_through_verify_rule(logged: Wal, root: Path) -> None:
    (root / "states.csv").write_bytes(b"tampered\n")
    (root / "new.csv").write_bytes(b"x")
    report = kfm_wal.verify(logged.path, rules=[TreeMatchesLog(root)])
    assert [f.code for f in report.findings] == ["tree.matches_log", "tree.matches_log"]
    messages = [f.message for f in report.findings]
    assert messages[0].startswith(f"{UNLOGGED_FILE}: new.csv")
    assert messages[1].startswith(f"{UNEXPECTED_STATE}: states.csv")
    assert report.findings[1].seq is not None
    assert "tree.matches_log" in report.rules


def test_undo_restores_a_clean_audit(logged: Wal, root: Path) -> None:
    result = run(logged, [Write("states.csv", b"ks\nne\n"), Delete("counties/ks.csv")], root=root, **META)
    assert audit_tree(logged.path, root) == []
    undo(logged, result.wal_id, **UNDO_META)
    assert (root / "counties" / "ks.csv").exists()
    assert audit_tree(logged.path, root) == []


def test_temp_files_and_other_roots_are_ignored(logged: Wal, root: Path, tmp_path: Path) -> None:
    (root / f".states.csv.{'ab' * 16}.tmp").write_bytes(b"half written")
    other = tmp_path / "other"
    run(logged, [Write("z.csv", b"z")], root=other, **META)
    assert audit_tree(logged.path, root) == []
    assert audit_tree(logged.path, other) == []


def test_symlink_is_unlogged(logged: Wal, root: Path) -> None:
    os.symlink(root / "states.csv", root / "link.csv")
    findings = audit_tree(logged.path, root)
    assert codes(findings) == [(UNLOGGED_FILE, "link.csv")] and "a symlink" in findings[0].message


def test_pending_operation_accepts_before_or_after(logged: Wal, root: Path) -> None:
    prepared = prepare(logged, [Write("states.csv", b"v2\n")], root=root, **META)  # intent only: a crash
    assert audit_tree(logged.path, root) == []  # not executed yet
    (root / "states.csv").write_bytes(b"v2\n")  # executed, completion never written
    assert audit_tree(logged.path, root) == []
    (root / "states.csv").write_bytes(b"v3\n")
    findings = audit_tree(logged.path, root)
    assert codes(findings) == [(UNEXPECTED_STATE, "states.csv")] and findings[0].wal_id == prepared.wal_id


def test_refused_operation_changes_nothing(logged: Wal, root: Path) -> None:
    prepared = prepare(logged, [Write("states.csv", b"v2\n")], root=root, **META)
    logged.complete(prepared.wal_id, "refused")
    assert audit_tree(logged.path, root) == []


def test_audit_of_a_copy_with_recorded_root(logged: Wal, root: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    assert [f.code for f in audit_tree(logged.path, copy)] == [UNLOGGED_FILE] * 3
    assert audit_tree(logged.path, copy, recorded_root=root) == []
