"""Nothing executes before its intent is durable: a process killed between the lifecycle steps
leaves either no intent and no change, or a durable intent and files in its pre or post state.

Every test runs twice: with small contents, which travel inline in the intent's payload, and with
contents over INLINE_MAX, which are blobs stored before the intent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import kfm_wal
import pytest
from kfm_wal import Wal, keys
from kfm_wal.ops import INLINE_MAX, BlobStore, Contents, FileRoot, recover, state_hash
from test_ops_support import META

SCALES = {"inline": 1, "blob": INLINE_MAX // 2 + 1}  # repeats of contents of 2+ bytes: under / over INLINE_MAX

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from kfm_wal import Wal, keys, ops

    log, key, root, mode, scale = sys.argv[1:6]
    scale = int(scale)
    META = {META!r}
    wal = Wal.open(log, keys.load(key))
    actions = [ops.Write("out.csv", b"new bytes" * scale), ops.Write("old.csv", b"replaced" * scale)]
    if mode == "after-intent":
        ops.prepare(wal, actions, root=root, **META)
        os._exit(0)  # dies before validating or executing anything
    if mode == "before-completion":
        Wal.complete_many = lambda self, completions: os._exit(0)  # dies after executing
        ops.run(wal, actions, root=root, **META)
    if mode == "mid-operation":
        from kfm_wal.ops import durable
        real = durable.write_atomic
        def die_on_second(path, data, mode=None, calls=[]):
            if "blobs" not in path.parts:  # count writes to the data root, not blob puts
                calls.append(path)
            if len(calls) == 2:
                os._exit(0)  # the first write is done, the second never happens
            real(path, data, mode)
        durable.write_atomic = die_on_second
        ops.run(wal, actions, root=root, **META)
    if mode == "loop":
        for i in range(10**6):
            ops.run(wal, [ops.Write("out.csv", b"%d," % i * scale)], root=root, **META)
    """
).replace("{META!r}", repr(META))


@pytest.fixture(params=sorted(SCALES))
def scale(request: pytest.FixtureRequest) -> int:
    return SCALES[request.param]


def _setup(tmp_path: Path, scale: int) -> tuple[Path, Path, Path, Path]:
    log, key_path, root = tmp_path / "wal", tmp_path / "writer.pem", tmp_path / "data"
    key = keys.generate()
    keys.save(key, key_path)
    Wal.create(log, key).close()
    root.mkdir()
    (root / "old.csv").write_bytes(b"original" * scale)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return log, key_path, root, script


def _child(script: Path, log: Path, key_path: Path, root: Path, mode: str, scale: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(script), str(log), str(key_path), str(root), mode, str(scale)])


def _state(root: Path, intent: kfm_wal.Record) -> str:
    paths = intent.body["reversal"]["expects"]
    return state_hash(FileRoot(root).observe(paths))


def test_killed_after_intent_nothing_executed(tmp_path: Path, scale: int) -> None:
    log, key_path, root, script = _setup(tmp_path, scale)
    assert _child(script, log, key_path, root, "after-intent", scale).wait() == 0
    assert not (root / "out.csv").exists()
    assert (root / "old.csv").read_bytes() == b"original" * scale
    report = kfm_wal.verify(log)
    assert report.ok and report.pending == 1
    (intent,) = kfm_wal.records(log, kind="intent")
    assert _state(root, intent) == intent.body["pre_state_hash"]
    # Its contents were durable with it: inline in its payload, or blobs stored before it.
    payload = intent.body["payload"]
    store, source = BlobStore.for_log(log), Contents.for_log(log, payload)
    digests = [a["blob"] for a in payload["actions"]] + [intent.body["reversal"]["steps"][0]["blob"]]
    assert [source.get(d) for d in digests] == [b"new bytes" * scale, b"replaced" * scale, b"original" * scale]
    inline = scale == SCALES["inline"]
    assert sorted(payload.get("inline", {})) == (sorted(digests) if inline else [])
    assert [store.has(d) for d in digests] == [not inline] * 3


def test_killed_before_completion_files_in_post_state(tmp_path: Path, scale: int) -> None:
    log, key_path, root, script = _setup(tmp_path, scale)
    assert _child(script, log, key_path, root, "before-completion", scale).wait() == 0
    report = kfm_wal.verify(log)
    assert report.ok and report.pending == 1
    (intent,) = kfm_wal.records(log, kind="intent")
    assert _state(root, intent) == intent.body["post_state_expected"]
    assert (root / "out.csv").read_bytes() == b"new bytes" * scale


def test_kill_nine_at_random_points(tmp_path: Path, scale: int) -> None:
    """Every completed intent matches the files; a pending one (the last) is its pre or post."""
    log, key_path, root, script = _setup(tmp_path, scale)
    for delay in (0.3, 0.45, 0.6):
        child = _child(script, log, key_path, root, "loop", scale)
        try:
            child.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        with Wal.open(log, keys.load(key_path)) as wal:  # cuts an unsealed tail, if any
            intents = list(wal.records(kind="intent"))
            done = {r.wal_id for r in wal.records(kind="completion")}
        assert kfm_wal.verify(log).ok
        if not intents:
            assert not (root / "out.csv").exists()
            continue
        last = intents[-1]
        state = _state(root, last)
        if last.wal_id in done:
            assert state == last.body["post_state_expected"]
        else:
            assert state in (last.body["pre_state_hash"], last.body["post_state_expected"])


def _recover(log: Path, key_path: Path) -> list[tuple[str, str]]:
    with Wal.open(log, keys.load(key_path)) as wal:
        out = [(r.status, r.message) for r in recover(wal)]
    report = kfm_wal.verify(log)
    assert report.ok
    return out


def test_recover_after_intent_records_refused(tmp_path: Path, scale: int) -> None:
    log, key_path, root, script = _setup(tmp_path, scale)
    assert _child(script, log, key_path, root, "after-intent", scale).wait() == 0
    [(status, message)] = _recover(log, key_path)
    assert status == "refused" and "not executed" in message
    assert kfm_wal.verify(log).pending == 0


def test_recover_rolls_back_a_half_done_operation(tmp_path: Path, scale: int) -> None:
    log, key_path, root, script = _setup(tmp_path, scale)
    assert _child(script, log, key_path, root, "mid-operation", scale).wait() == 0
    (intent,) = kfm_wal.records(log, kind="intent")
    state = _state(root, intent)
    assert (root / "out.csv").read_bytes() == b"new bytes" * scale  # half done: neither pre nor post
    assert state not in (intent.body["pre_state_hash"], intent.body["post_state_expected"])
    [(status, _)] = _recover(log, key_path)
    assert status == "reversed"
    assert _state(root, intent) == intent.body["pre_state_hash"]
    assert not (root / "out.csv").exists() and (root / "old.csv").read_bytes() == b"original" * scale
    completion = next(kfm_wal.records(log, kind="completion"))
    assert completion.body["status"] == "reversed"
    assert completion.body["detail"] == {"recovered": True, "found": "partial"}


def test_recover_records_a_done_but_uncompleted_operation_as_succeeded(tmp_path: Path, scale: int) -> None:
    log, key_path, root, script = _setup(tmp_path, scale)
    assert _child(script, log, key_path, root, "before-completion", scale).wait() == 0
    [(status, _)] = _recover(log, key_path)
    assert status == "succeeded" and (root / "old.csv").read_bytes() == b"replaced" * scale
    (intent,) = kfm_wal.records(log, kind="intent")
    completion = next(kfm_wal.records(log, kind="completion"))
    assert completion.body["post_state_hash"] == intent.body["post_state_expected"] == _state(root, intent)


def test_recover_leaves_foreign_changes_alone(tmp_path: Path, scale: int) -> None:
    log, key_path, root, script = _setup(tmp_path, scale)
    assert _child(script, log, key_path, root, "before-completion", scale).wait() == 0
    (root / "old.csv").write_bytes(b"edited by someone else")
    [(status, message)] = _recover(log, key_path)
    assert status == "pending" and "old.csv" in message
    assert (root / "old.csv").read_bytes() == b"edited by someone else"
    assert kfm_wal.verify(log).pending == 1
