"""File operations through the log: round trips with undo, confinement, refused and reversed runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kfm_wal import Wal
from kfm_wal.ops import (
    ABSENT,
    BlobStore,
    Contents,
    Delete,
    FileRoot,
    Move,
    NotUndoableError,
    OperationFailedError,
    PathEscapeError,
    PlanError,
    StateChangedError,
    Write,
    actions_digest,
    content_digest,
    execute,
    prepare,
    run,
    state_hash,
    undo,
)
from kfm_wal.ops import durable as durable_mod
from test_ops_support import META, UNDO_META, assert_valid, count, kinds, snapshot


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "data" / "processed"
    r.mkdir(parents=True)
    (r / "keep.csv").write_bytes(b"id,name\n1,keep\n")
    (r / "old.csv").write_bytes(b"id,name\n1,old\n")
    return r


def test_write_new_file_then_undo(wal: Wal, root: Path) -> None:
    before = snapshot(root)
    result = run(wal, [Write("counties/ks.csv", b"id\n20001\n")], root=root, **META)
    assert result.status == "succeeded"
    assert (root / "counties" / "ks.csv").read_bytes() == b"id\n20001\n"
    assert result.post_state_hash == result.post_state_expected != result.pre_state_hash
    assert result.pre_state_hash == state_hash({"counties/ks.csv": ABSENT})

    intent = wal.intent(result.wal_id)
    completion = wal.completion(result.wal_id)
    assert intent is not None and completion is not None
    actions = intent.body["payload"]["actions"]
    assert actions == [
        {"type": "file.write", "path": "counties/ks.csv", "blob": content_digest(b"id\n20001\n"), "bytes": 9}
    ]
    assert intent.body["reversal"]["steps"] == [{"type": "file.delete", "path": "counties/ks.csv"}]
    assert completion.body["executed_digest"] == result.executed_digest == actions_digest(actions)
    # 9 bytes travel inline in the intent (standard base64), not as a blob; an absent file needs no
    # before-image at all
    assert intent.body["payload"]["inline"] == {actions[0]["blob"]: "aWQKMjAwMDEK"}
    assert Contents.for_log(wal.path, intent.body["payload"]).get(actions[0]["blob"]) == b"id\n20001\n"
    assert not BlobStore.for_log(wal.path).has(actions[0]["blob"])

    rollback = undo(wal, result.wal_id, **UNDO_META)
    assert rollback.status == "succeeded" and rollback.operation == "rollback"
    assert rollback.pre_state_hash == result.post_state_hash
    assert rollback.post_state_hash == result.pre_state_hash
    rb = wal.intent(rollback.wal_id)
    assert rb is not None and rb.body["lineage_links"] == [f"wal:{result.wal_id}"]
    assert rb.body["tier"] == META["tier"] and rb.body["actor"] == UNDO_META["actor"]
    assert snapshot(root) == before
    assert_valid(wal)


def test_overwrite_delete_move_then_undo_is_byte_identical(wal: Wal, root: Path) -> None:
    os.chmod(root / "old.csv", 0o600)
    before = snapshot(root)
    result = run(
        wal,
        [
            Write("old.csv", b"id,name\n1,new\n"),
            Delete("keep.csv"),
            Move("old.csv", "moved/new.csv"),
            Write("old.csv", b"again"),
        ],
        root=root,
        **META,
    )
    assert result.status == "succeeded"
    assert snapshot(root) == {"moved/new.csv": b"id,name\n1,new\n", "old.csv": b"again"}
    assert os.stat(root / "moved" / "new.csv").st_mode & 0o777 == 0o600  # an overwrite keeps the mode
    undo(wal, result.wal_id, **UNDO_META)
    assert snapshot(root) == before
    assert_valid(wal)


def test_undo_of_undo_reapplies(wal: Wal, root: Path) -> None:
    result = run(wal, [Write("old.csv", b"v2")], root=root, **META)
    after = snapshot(root)
    first = undo(wal, result.wal_id, **UNDO_META)
    again = undo(wal, first.wal_id, **UNDO_META)
    assert again.status == "succeeded" and snapshot(root) == after
    assert_valid(wal)


def test_undo_refused_when_a_file_changed_since(wal: Wal, root: Path) -> None:
    result = run(wal, [Write("old.csv", b"v2"), Write("x.csv", b"x")], root=root, **META)
    (root / "x.csv").write_bytes(b"edited by hand")
    n = count(wal)
    with pytest.raises(StateChangedError, match="x.csv") as info:
        undo(wal, result.wal_id, **UNDO_META)
    assert info.value.path == "x.csv"
    assert count(wal) == n  # nothing recorded
    assert (root / "old.csv").read_bytes() == b"v2"


def test_second_undo_says_already_undone(wal: Wal, root: Path) -> None:
    result = run(wal, [Write("old.csv", b"v2")], root=root, **META)
    first = undo(wal, result.wal_id, **UNDO_META)
    with pytest.raises(StateChangedError, match=f"already undone by {first.wal_id}"):
        undo(wal, result.wal_id, **UNDO_META)


def test_undo_needs_a_succeeded_file_operation(wal: Wal, root: Path) -> None:
    with pytest.raises(NotUndoableError, match="no such intent"):
        undo(wal, "0e6a9d4c-3b7f-4a55-9d2e-1c1f7a4c2b10", **UNDO_META)
    pending = prepare(wal, [Write("p.csv", b"p")], root=root, **META)
    with pytest.raises(NotUndoableError, match="pending"):
        undo(wal, pending.wal_id, **UNDO_META)
    foreign = wal.append(
        {
            **META,
            "operation": "etl_step",
            "pre_state_hash": content_digest(b"a"),
            "post_state_expected": content_digest(b"b"),
            "payload": {"actions": []},
            "reversal": {"irreversible": True, "reason": "external"},
            "lineage_links": [],
        }
    )
    wal.complete(foreign.wal_id)
    with pytest.raises(NotUndoableError, match="not a file operation"):
        undo(wal, foreign.wal_id, **UNDO_META)


@pytest.mark.parametrize("bad", ["../escape.csv", "a/../../escape.csv", "/etc/passwd", "", "a\\..\\b"])
def test_path_escapes_are_refused_before_anything_is_written(wal: Wal, root: Path, bad: str) -> None:
    n = count(wal)
    before = snapshot(root)
    with pytest.raises(PathEscapeError) as info:
        run(wal, [Write("fine.csv", b"ok"), Write(bad, b"evil")], root=root, **META)
    assert repr(bad) in str(info.value)
    assert count(wal) == n and snapshot(root) == before
    assert not (wal.path / "blobs").exists()


def test_symlink_out_of_root_is_refused(wal: Wal, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_bytes(b"secret")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "linkfile.csv").symlink_to(outside / "secret.csv")
    n = count(wal)
    for action in [Write("linkdir/x.csv", b"x"), Delete("linkfile.csv"), Move("keep.csv", "linkdir/k.csv")]:
        with pytest.raises(PathEscapeError, match="outside the data root"):
            run(wal, [action], root=root, **META)
    assert count(wal) == n
    assert sorted(p.name for p in outside.iterdir()) == ["secret.csv"]
    assert (outside / "secret.csv").read_bytes() == b"secret"


def test_symlink_inside_root_records_the_real_file(wal: Wal, root: Path) -> None:
    (root / "alias.csv").symlink_to(root / "old.csv")
    result = run(wal, [Write("alias.csv", b"through the link")], root=root, **META)
    intent = wal.intent(result.wal_id)
    assert intent is not None and intent.body["payload"]["actions"][0]["path"] == "old.csv"
    assert (root / "old.csv").read_bytes() == b"through the link" and (root / "alias.csv").is_symlink()


def test_impossible_plans_are_refused_before_anything_is_written(wal: Wal, root: Path) -> None:
    n = count(wal)
    (root / "adir").mkdir()
    cases = [
        ([Delete("missing.csv")], "no such file"),
        ([Move("missing.csv", "b.csv")], "no such file"),
        ([Move("keep.csv", "./keep.csv")], "same file"),
        ([Write("adir", b"x")], "not a regular file"),
        ([Write("old.csv", b"x"), Write("keep.csv/inner.csv", b"x")], "is a file, not a directory"),
        ([Delete("keep.csv"), Delete("keep.csv")], "no such file"),
        ([], "at least one action"),
    ]
    for actions, message in cases:
        with pytest.raises(PlanError, match=message):
            run(wal, actions, root=root, **META)
    assert count(wal) == n


def test_target_changed_since_planning_is_refused(wal: Wal, root: Path) -> None:
    prepared = prepare(wal, [Write("new.csv", b"n"), Write("old.csv", b"planned")], root=root, **META)
    (root / "old.csv").write_bytes(b"someone else")
    before = snapshot(root)
    with pytest.raises(StateChangedError, match="old.csv") as info:
        execute(wal, prepared)
    assert snapshot(root) == before  # nothing executed, not even the first action
    result = info.value.result
    assert result is not None and result.status == "refused"
    completion = wal.completion(prepared.wal_id)
    assert completion is not None and completion.body["status"] == "refused"
    assert "old.csv" in completion.body["error"]
    assert completion.body["post_state_hash"] != prepared.entry["pre_state_hash"]
    assert_valid(wal)


def test_failure_mid_way_reverses_earlier_actions(wal: Wal, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(root)

    def broken_rename(src: Path, dst: Path) -> None:
        raise OSError(5, "injected I/O error", str(dst))

    monkeypatch.setattr(durable_mod, "rename", broken_rename)
    with pytest.raises(OperationFailedError, match="action 2 .file.move. failed") as info:
        run(wal, [Write("a.csv", b"a"), Write("old.csv", b"changed"), Move("keep.csv", "k.csv")], root=root, **META)
    assert isinstance(info.value.__cause__, OSError)
    result = info.value.result
    assert result is not None and result.status == "reversed"
    assert result.post_state_hash == result.pre_state_hash
    assert snapshot(root) == before
    completion = wal.completion(result.wal_id)
    assert completion is not None and completion.body["status"] == "reversed"
    assert completion.body["detail"]["failed_action"] == 2
    assert kinds(wal, result.wal_id) == ["intent", "completion"]
    assert_valid(wal)


def test_failed_reversal_is_recorded_as_failed(wal: Wal, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_rename(src: Path, dst: Path) -> None:
        raise OSError("injected")

    def broken_get(self: Contents, digest: str) -> bytes:
        raise OSError("before-images unavailable")

    monkeypatch.setattr(durable_mod, "rename", broken_rename)
    monkeypatch.setattr(Contents, "get", broken_get)
    with pytest.raises(OperationFailedError, match="reversal failed too") as info:
        run(wal, [Write("old.csv", b"changed"), Move("keep.csv", "k.csv")], root=root, **META)
    result = info.value.result
    assert result is not None and result.status == "failed"
    assert result.post_state_hash not in (None, result.pre_state_hash)
    assert_valid(wal)


def test_file_root_defaults_and_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = FileRoot()
    assert root.path == (tmp_path / "data" / "processed").resolve() and root.path.is_dir()
    assert root.locate("./a/b.csv") == ("a/b.csv", root.path / "a" / "b.csv")


def test_executed_digest_rule_catches_a_mismatch(wal: Wal, root: Path) -> None:
    import kfm_wal
    from kfm_wal.ops import ExecutedMatchesIntent

    prepared = prepare(wal, [Write("a.csv", b"a")], root=root, **META)
    wal.complete(prepared.wal_id, "succeeded", executed_digest=content_digest(b"something else"))
    report = kfm_wal.verify(wal.path, rules=[ExecutedMatchesIntent()])
    assert [(f.code, f.wal_id) for f in report.findings] == [("ops.executed_digest", prepared.wal_id)]
