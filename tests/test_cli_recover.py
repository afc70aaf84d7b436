"""`kfm-wal recover`: a plan by default (nothing written, no key needed), `--apply` to settle,
`--reexecute`, `--actions MODULE` for custom actions, `--json`; exit 0 when nothing is left for
a person, 1 when something is, 2 (one error line, nothing written) on bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from clitools import assert_one_error_line, init_log, record_count, run
from kfm_wal import Wal, keys, verify
from kfm_wal.ops import Custom, Write, durable, prepare, unregister_action
from test_ops_support import META, snapshot

CRASH = Path(__file__).with_name("crash")


def interrupted(tmp_path: Path, k: int, name: str = "a", custom: bool = False) -> tuple[Path, Path]:
    """A log whose last operation (two writes, or a write and a kv_put) ran k actions, then died."""
    log = tmp_path / "wal"
    if not log.exists():
        init_log(tmp_path)
    root = tmp_path / "data"
    actions: list[object] = [Write(f"{name}.csv", b"1"), Write(f"{name}2.csv", b"2")]
    if custom:
        actions[1] = Custom("kv_put", {"dir": str(tmp_path / "kv"), "key": name, "value": "v", "previous": None})
    with Wal.open(log, keys.load(tmp_path / "keys" / "writer.pem")) as wal:
        p = prepare(wal, actions, root=root, **META)
        with durable.deferred_dir_sync():
            for i in range(k):
                p.plan.execute(i)
    return log, root


@pytest.fixture
def kv_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(CRASH))
    import kv_actions  # noqa: F401  (registers kv_put)


def test_the_plan_writes_nothing_and_apply_settles_every_state(tmp_path: Path) -> None:
    for k, name in enumerate("abc"):
        log, root = interrupted(tmp_path, k, name)
    before, count = snapshot(root), record_count(log)
    planned = run("recover", log, "--json")
    assert planned.exit_code == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["applied"] is False and plan["left_pending"] == 0
    assert [(o["found"], o["status"]) for o in plan["operations"]] == [
        ("pre", "refused"),
        ("partial", "reversed"),
        ("post", "succeeded"),
    ]
    assert snapshot(root) == before and record_count(log) == count
    applied = run("recover", log, "--apply")
    assert applied.exit_code == 0, applied.stderr
    assert "recorded reversed" in applied.stdout and "3 pending intent(s)" in applied.stdout
    assert sorted(snapshot(root)) == ["c.csv", "c2.csv"]
    report = verify(log)
    assert report.ok and report.pending == 0
    again = run("recover", log, "--json")
    assert json.loads(again.stdout)["operations"] == []


def test_reexecute(tmp_path: Path) -> None:
    log, root = interrupted(tmp_path, 0)
    done = run("recover", log, "--apply", "--reexecute", "--json")
    assert done.exit_code == 0, done.stderr
    [outcome] = json.loads(done.stdout)["operations"]
    assert outcome["status"] == "succeeded" and outcome["found"] == "pre" and outcome["applied"] is True
    assert snapshot(root) == {"a.csv": b"1", "a2.csv": b"2"}


def test_what_needs_a_person_exits_1_and_is_left_pending(tmp_path: Path) -> None:
    log, root = interrupted(tmp_path, 1)
    (root / "a.csv").write_bytes(b"edited by hand")
    count = record_count(log)
    done = run("recover", log, "--apply")
    assert done.exit_code == 1
    assert "pending: left pending: a.csv holds" in done.stdout
    assert "1 operation(s) left pending for a person" in done.stderr
    assert (root / "a.csv").read_bytes() == b"edited by hand" and record_count(log) == count


def test_an_unregistered_custom_action_names_it_and_actions_imports_it(tmp_path: Path, kv_actions: None) -> None:
    log, root = interrupted(tmp_path, 2, custom=True)
    unregister_action("kv_put")
    left = run("recover", log, "--apply", "--json")
    assert left.exit_code == 1
    [outcome] = json.loads(left.stdout)["operations"]
    assert outcome["status"] == "pending" and "custom action 'kv_put' is not registered" in outcome["message"]
    hinted = run("recover", log)
    assert hinted.exit_code == 1 and "--actions MODULE" in hinted.stderr
    sys.modules.pop("kv_actions", None)  # imported again by --actions: registers it again
    done = run("recover", log, "--apply", "--actions", "kv_actions", "--json")
    assert done.exit_code == 0, done.stderr
    assert [o["status"] for o in json.loads(done.stdout)["operations"]] == ["succeeded"]


def test_bad_input_is_one_error_line_and_writes_nothing(tmp_path: Path) -> None:
    assert_one_error_line(run("recover", tmp_path / "nowhere"), "is not a kfm-wal log")
    log, _ = interrupted(tmp_path, 1)
    count = record_count(log)
    assert_one_error_line(run("recover", log, "--actions", "no_such_module_xyz"), "no_such_module_xyz", "--actions")
    assert_one_error_line(run("recover", log, "--apply", "--key", tmp_path / "missing.pem"), "key file not found")
    assert record_count(log) == count


def test_root_stands_in_for_a_moved_data_root(tmp_path: Path) -> None:
    log, root = interrupted(tmp_path, 1)
    moved = tmp_path / "moved"
    root.rename(moved)
    done = run("recover", log, "--apply", "--root", moved, "--json")
    assert done.exit_code == 0, done.stderr
    assert [o["status"] for o in json.loads(done.stdout)["operations"]] == ["reversed"]
    assert snapshot(moved) == {}
