"""Replay never opens the real data root, STAC catalog or graph store (nor the log) for writing.

Three proofs, each catching what the others cannot:
- the bytes: every file and directory under the real roots and the log (content digest, size,
  mtime, inode, mode), and each root's per-kind digest, are the same after replay, check and
  checkout as before;
- the calls: a Python audit hook (sys.addaudithook) sees every open, rename, replace, remove,
  mkdir, chmod... made by Python code during the replay, and a wrapper around pyoxigraph.Store
  every store opened by native code's entry point: none writes under a real root or the log;
- the operating system: the same commands in a process that cannot write the real roots and
  the log at all (chmod -R a-w; when running as root, which chmod does not stop, the process is
  also started without CAP_DAC_OVERRIDE/CAP_FOWNER by setpriv) succeed and give the same result."""

from __future__ import annotations

import gc
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest
from kfm_wal import replay
from kfm_wal.ops import Delete, Move, Write, graph, run, stac, undo
from replaytools import META, UNDO_META, Roots, close_graph, sandbox_digests, triple
from stactools import collection, item

_WATCHED: list[Path] = []  # the paths the audit hook watches (empty: it does nothing)
_SEEN: list[tuple[str, str]] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CHANGES = {
    "os.rename",
    "os.replace",
    "os.remove",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.truncate",
    "os.utime",
    "os.link",
    "os.symlink",
    "shutil.rmtree",
    "shutil.copyfile",
    "shutil.copymode",
    "shutil.copystat",
    "shutil.move",
}


def _under(value: Any) -> bool:
    if not isinstance(value, str | bytes | os.PathLike):
        return False
    path = Path(os.fsdecode(value)).absolute()
    return any(path == w or path.is_relative_to(w) for w in _WATCHED)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _WATCHED:
        return
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writes and _under(path):
            _SEEN.append((event, os.fsdecode(path)))
    elif event in _CHANGES:
        for value in args:
            if _under(value):
                _SEEN.append((event, os.fsdecode(value)))


sys.addaudithook(_hook)


def _history(roots: Roots) -> None:
    with roots.open() as wal:
        where = roots.where()
        run(wal, [Write("a.csv", b"a"), Write("big.bin", bytes(9000))], **where, **META)
        run(wal, [stac.CreateCollection(collection()), stac.CreateItem(item("ks-1"))], **where, **META)
        run(wal, [graph.Insert([triple(1), triple(2)]), Move("a.csv", "b/a.csv")], **where, **META)
        r = run(wal, [graph.Delete([triple(2)]), Delete("big.bin")], **where, **META)
        undo(wal, r.wal_id, **UNDO_META)
    close_graph(roots.graph)
    gc.collect()


def _snapshot(*tops: Path) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for top in tops:
        for path in [top, *sorted(top.rglob("*"))]:
            st = path.lstat()
            content = path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
            out[str(path)] = (content, st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode)
    return out


@pytest.fixture
def watched() -> Iterator[list[Path]]:
    yield _WATCHED
    _WATCHED.clear()
    _SEEN.clear()


def test_no_real_root_nor_the_log_is_opened_for_writing(
    tmp_path: Path, watched: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = Roots(tmp_path / "real")
    _history(roots)
    tops = [roots.data, roots.stac, roots.graph, roots.log]
    before, digests = _snapshot(*tops), roots.digests()
    close_graph(roots.graph)
    stores: list[tuple[str, str]] = []
    real_store = pyoxigraph.Store

    class Recording:
        def __new__(cls, path: str | None = None) -> Any:
            stores.append(("read-write", str(path)))
            return real_store(path)

        @staticmethod
        def read_only(path: str) -> Any:
            stores.append(("read-only", str(path)))
            return real_store.read_only(path)

    monkeypatch.setattr(pyoxigraph, "Store", Recording)
    watched.extend(p.resolve() for p in tops)
    report = replay.replay(roots.log, tmp_path / "box")
    checked = replay.check(roots.log)
    out = replay.checkout(roots.log, 6, tmp_path / "co")
    watched.clear()
    assert report.ok and checked.ok and out.ok
    assert sandbox_digests(report) == digests
    assert _SEEN == []
    assert [s for s in stores if s[0] == "read-write" and Path(s[1]).is_relative_to(tmp_path / "real")] == []
    assert ("read-only", str(roots.graph.resolve())) in stores  # check did read the real graph
    assert _snapshot(*tops) == before and roots.digests() == digests


def test_the_hook_does_see_a_write(tmp_path: Path, watched: list[Path]) -> None:
    """The audit hook is not blind: a write under a watched path is seen."""
    watched.append(tmp_path.resolve())
    (tmp_path / "x").write_bytes(b"x")
    os.replace(tmp_path / "x", tmp_path / "y")
    watched.clear()
    assert {e for e, _ in _SEEN} == {"open", "os.rename"}  # os.replace is audited as os.rename


def _cannot_write() -> list[str]:
    """The prefix that starts a process unable to write a file it may not write by its mode."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no way to take away root's right to write")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--inh-caps=-all"]


def test_replay_in_a_process_that_cannot_write_the_real_roots(tmp_path: Path) -> None:
    roots = Roots(tmp_path / "real")
    _history(roots)
    tops = [roots.data, roots.stac, roots.graph, roots.log]
    digests = roots.digests()
    prefix = _cannot_write()
    subprocess.run(["chmod", "-R", "a-w", *map(str, tops)], check=True)
    try:
        before = _snapshot(*tops)
        probe = subprocess.run([*prefix, "sh", "-c", f"echo x > {roots.data / 'probe'}"], capture_output=True)
        assert probe.returncode != 0, "the process could write a read-only root: the test would prove nothing"
        cli = [*prefix, sys.executable, "-m", "kfm_wal", "replay", str(roots.log)]
        env = {**os.environ, "TMPDIR": str(tmp_path)}
        done = subprocess.run([*cli, "--into", str(tmp_path / "box"), "--json"], capture_output=True, env=env)
        assert done.returncode == 0, done.stderr.decode()
        doc = json.loads(done.stdout)
        assert {r["recorded"]: doc["digests"][r["dir"]] for r in doc["roots"]} == digests
        checked = subprocess.run([*cli, "--check", "--json"], capture_output=True, env=env)
        assert checked.returncode == 0, checked.stderr.decode()
        assert json.loads(checked.stdout)["divergence"] is None
        assert _snapshot(*tops) == before
    finally:
        subprocess.run(["chmod", "-R", "u+w", *map(str, tops)], check=True)
    assert roots.digests() == digests
