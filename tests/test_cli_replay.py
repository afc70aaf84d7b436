"""`kfm-wal replay` and `kfm-wal checkout` from the shell: exit codes 0/1/2, --json for every mode,
one-line errors, custom actions registered by --actions MODULE."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from clitools import assert_one_error_line, run
from kfm_wal.ops import Custom, Write, graph, register_action, unregister_action
from kfm_wal.ops import run as run_op
from replaytools import META, Roots, triple


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    r = Roots(tmp_path / "real")
    with r.open() as wal:
        run_op(wal, [Write("a.txt", b"a"), graph.Insert([triple(1)])], **r.where(), **META)
        run_op(wal, [Write("b.txt", b"b")], **r.where(), **META)
        run_op(wal, [Write("a.txt", b"a2")], **r.where(), **META)
    return r


def test_replay_into_a_sandbox_and_as_json(roots: Roots, tmp_path: Path) -> None:
    done = run("replay", roots.log, "--into", tmp_path / "box")
    assert done.exit_code == 0, done.stderr
    assert "replayed 3 operation(s)" in done.stdout and "succeeded 3" in done.stdout
    assert (tmp_path / "box" / "processed" / "a.txt").read_bytes() == b"a2"
    as_json = run("replay", roots.log, "--into", tmp_path / "box2", "--to", "8", "--json")
    doc = json.loads(as_json.stdout)
    assert as_json.exit_code == 0 and doc["ok"] and doc["operations"] == 1 and doc["to_seq"] == 8
    assert {r["dir"] for r in doc["roots"]} == {"processed", "graph"}


def test_check_exits_0_when_equal_and_1_with_the_first_divergent_target(roots: Roots) -> None:
    equal = run("replay", roots.log, "--check")
    assert equal.exit_code == 0 and "equal the replay" in equal.stdout
    (roots.data / "b.txt").unlink()
    diverged = run("replay", roots.log, "--check", "--json")
    assert diverged.exit_code == 1
    doc = json.loads(diverged.stdout)
    assert doc["divergence"]["target"] == "b.txt" and doc["divergence"]["actual_state"] == "absent"
    assert "first divergent target b.txt" in doc["divergence"]["message"]
    text = run("replay", roots.log, "--check")
    assert text.exit_code == 1 and "divergent:" in text.stdout and "b.txt" in text.stdout


def test_a_mismatch_exits_1_and_until_failure_keeps_the_sandbox(roots: Roots, tmp_path: Path) -> None:
    with roots.open() as wal:
        (roots.data / "b.txt").write_bytes(b"behind the log's back")
        run_op(wal, [Write("b.txt", b"b3")], **roots.where(), **META)
    box = tmp_path / "box"
    halted = run("replay", roots.log, "--into", box, "--json")
    doc = json.loads(halted.stdout)
    assert halted.exit_code == 1 and doc["halted"]["target"] == "b.txt" and doc["halted"]["stage"] == "pre"
    assert not doc["kept"] and not box.exists()
    kept = run("replay", roots.log, "--into", box, "--until-failure")
    assert kept.exit_code == 1 and "halted:" in kept.stdout and "sandbox kept" in kept.stdout
    assert (box / "processed" / "b.txt").read_bytes() == b"b"


def test_checkout_materialises_the_roots_at_a_point(roots: Roots, tmp_path: Path) -> None:
    done = run("checkout", roots.log, tmp_path / "at5", "--at", "5")
    assert done.exit_code == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "at5" / "processed").iterdir()) == ["a.txt"]
    assert (tmp_path / "at5" / "processed" / "a.txt").read_bytes() == b"a"
    as_json = run("checkout", roots.log, tmp_path / "end", "--at", "999", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["operations"] == 3
    assert_one_error_line(run("checkout", roots.log, tmp_path / "end", "--at", "3"), "not empty")
    assert_one_error_line(run("checkout", roots.log, tmp_path / "x", "--at", "no-such-id"), "--to no-such-id")


def test_usage_and_input_errors_are_one_line_exit_2(roots: Roots, tmp_path: Path) -> None:
    assert_one_error_line(run("replay", roots.log), "--into SANDBOX")
    assert_one_error_line(run("replay", roots.log, "--check", "--into", tmp_path / "b"), "--check")
    assert_one_error_line(run("replay", tmp_path / "nothing", "--check"), "not a kfm-wal log")
    assert_one_error_line(run("replay", roots.log, "--check", "--actions", "no_such_module_x"), "no_such_module_x")
    assert_one_error_line(run("replay", roots.log, "--into", tmp_path / "b", "--from", "9", "--to", "4"), "comes after")
    seg = sorted(roots.log.glob("wal-*.jsonl"))[0]
    data = bytearray(seg.read_bytes())
    at = data.index(b"b.txt")
    data[at] = ord("X")
    seg.write_bytes(bytes(data))
    assert_one_error_line(run("replay", roots.log, "--check"), "fails validation", "--quarantine")
    quarantined = run("replay", roots.log, "--into", tmp_path / "q", "--quarantine", "--json")
    doc = json.loads(quarantined.stdout)
    assert quarantined.exit_code == 1 and doc["stopped_before"] and doc["operations"] == 1 and doc["quarantined"]


def test_actions_module_registers_the_custom_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "mods" / "my_actions.py"
    module.parent.mkdir()
    module.write_text(
        "from kfm_wal.ops import register_action\n"
        "SEEN = {}\n"
        "register_action('tag', execute=lambda p: SEEN.update({p['k']: 'on'}),\n"
        "    state=lambda p: {p['k']: SEEN.get(p['k'], 'absent')}, expect=lambda p: {p['k']: 'on'},\n"
        "    reverse=lambda p: SEEN.pop(p['k'], None))\n"
    )
    monkeypatch.syspath_prepend(str(module.parent))
    roots = Roots(tmp_path / "real")
    seen: dict[str, str] = {}
    register_action(
        "tag",
        execute=lambda p: seen.update({p["k"]: "on"}),
        state=lambda p: {p["k"]: seen.get(p["k"], "absent")},
        expect=lambda p: {p["k"]: "on"},
        reverse=lambda p: seen.pop(p["k"], None),
    )
    with roots.open() as wal:
        run_op(wal, [Custom("tag", {"k": "x"})], **roots.where(), **META)
    unregister_action("tag")
    missing = run("replay", roots.log, "--into", tmp_path / "box")
    assert_one_error_line(missing, "custom action 'tag'", "not registered", "--actions MODULE")
    try:
        done = run("replay", roots.log, "--into", tmp_path / "box", "--actions", "my_actions")
        assert done.exit_code == 0, done.stderr
        assert sys.modules["my_actions"].SEEN == {"x": "on"}
    finally:
        unregister_action("tag")
        sys.modules.pop("my_actions", None)
