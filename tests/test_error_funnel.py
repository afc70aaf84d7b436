"""The one error funnel from the Rust core to Python: every core error is a kfm_wal.errors class
(I/O failures also OSErrors with errno), key errors are UsageErrors, and a verify is stopped by
an exception its progress callback raises or by Ctrl-C (SIGINT), which then propagates."""

from __future__ import annotations

import errno
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import kfm_wal
import pytest
from kfm_wal import StorageError, UsageError, Wal, WalError, _core, keys, verify
from waltools import make_entry

KFM_WAL = Path(sys.executable).parent / "kfm-wal"
# One batch per segment. The verifier reports progress every `threads` segments (one per core):
# at least a dozen reports whatever the core count.
SEGMENTS = max(40, 12 * (os.cpu_count() or 1))


@pytest.fixture(scope="module")
def long_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid log of SEGMENTS segments of 2,500 records each (1.2 MB each)."""
    path = tmp_path_factory.mktemp("long") / "wal"
    batch = [make_entry(i) for i in range(2500)]
    with Wal.create(path, keys.generate(), max_segment_bytes=64 * 1024, max_record_bytes=16 * 1024) as w:
        for _ in range(SEGMENTS):
            w.append_many(batch)
    return path


@pytest.fixture(scope="module")
def windows(long_log: Path) -> int:
    """How many times a full verify of long_log calls progress."""
    seen: dict[int, int] = {}
    report = verify(long_log, progress=seen.__setitem__)
    assert report.ok and len(seen) >= 10
    return len(seen)


# -- StorageError is an OSError ----------------------------------------------------------------


def test_storage_error_is_an_oserror_with_errno_strerror_and_filename(tmp_path: Path, key: keys.SigningKey) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError) as info:
        Wal.create(blocker / "wal", key)
    e = info.value
    assert isinstance(e, StorageError) and isinstance(e, WalError)
    assert e.errno == errno.ENOTDIR
    assert e.strerror == os.strerror(errno.ENOTDIR)
    assert e.filename == e.path == str(blocker / "wal")
    # The message stays the core's "<path>: <reason>", not OSError's "[Errno n] ..." form.
    assert str(e).startswith(f"{blocker / 'wal'}: ") and "[Errno" not in str(e)


def test_storage_error_for_a_log_path_that_is_a_file(tmp_path: Path, key: keys.SigningKey) -> None:
    path = tmp_path / "wal"
    path.write_text("")
    with pytest.raises(StorageError) as info:
        Wal.create(path, key)
    assert isinstance(info.value, OSError) and info.value.errno == errno.EEXIST


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes through any permission")
def test_storage_error_for_a_log_dir_without_permission(tmp_path: Path, key: keys.SigningKey) -> None:
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o500)
    with pytest.raises(OSError) as info:
        Wal.create(parent / "wal", key)
    assert isinstance(info.value, StorageError) and info.value.errno == errno.EACCES


def test_storage_error_survives_pickling() -> None:
    e = StorageError("/x: No such file or directory (os error 2)", errno.ENOENT, None, "/x")
    back = pickle.loads(pickle.dumps(e))
    assert (type(back), str(back), back.errno, back.strerror, back.filename, back.path) == (
        StorageError,
        str(e),
        errno.ENOENT,
        os.strerror(errno.ENOENT),
        "/x",
        "/x",
    )
    assert not isinstance(StorageError("no os error"), FileNotFoundError)
    assert StorageError("short read").errno is None


# -- key errors go through the funnel ----------------------------------------------------------


def test_key_errors_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="private key must be 32 bytes, got 3"):
        _core.public_key(b"abc")
    with pytest.raises(UsageError, match="^private key must be 32 bytes, got 31$"):
        _core.PyWriter.create(Path("/nonexistent/never"), b"x" * 31, 1 << 20, 1 << 16, "fsync")


def test_keyring_errors_name_the_keyring(long_log: Path) -> None:
    with pytest.raises(UsageError, match="^keyring: public key is not base64"):
        _core.verify_log(long_log, ["not base64!"])
    with pytest.raises(UsageError, match="^keyring: public key must be 32 bytes, got 3$"):
        _core.verify_log(long_log, ["AAAA"])


def test_the_binding_binds_each_class_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError):
        _core.public_key(b"")

    class Elsewhere(Exception):
        pass

    # Not looked up again on the next error: the class bound at the first one is raised.
    monkeypatch.setattr(kfm_wal.errors, "UsageError", Elsewhere)
    with pytest.raises(UsageError):
        _core.public_key(b"")


def test_every_core_error_class_is_one_of_kfm_wal_errors() -> None:
    # The binding binds these names once (rust/py/src/errors.rs); a rename on either side must fail
    # here, not at the first error.
    binding = Path(__file__).resolve().parents[1] / "rust" / "py" / "src" / "errors.rs"
    bound = re.findall(r"import_exception!\(kfm_wal\.errors, (\w+)\)", binding.read_text())
    assert len(bound) >= 12
    for name in bound:
        assert issubclass(getattr(kfm_wal.errors, name), WalError), name


# -- a progress callback that raises stops the scan --------------------------------------------


def test_progress_exception_stops_the_verify_and_propagates(long_log: Path, windows: int) -> None:
    calls: list[tuple[int, int]] = []

    def progress(done: int, records: int) -> None:
        calls.append((done, records))
        if len(calls) == 3:
            raise ValueError("stop here")

    with pytest.raises(ValueError, match="stop here"):
        verify(long_log, progress=progress)
    assert len(calls) == 3  # not called again: the scan stopped


def test_progress_keyboard_interrupt_stops_the_verify(long_log: Path, windows: int) -> None:
    calls = 0

    def progress(done: int, records: int) -> None:
        nonlocal calls
        calls += 1
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        verify(long_log, progress=progress)
    assert calls == 1


def test_verify_after_a_stopped_one_is_whole(long_log: Path, windows: int) -> None:
    with pytest.raises(RuntimeError):
        verify(long_log, progress=lambda done, records: (_ for _ in ()).throw(RuntimeError("x")))
    seen: dict[int, int] = {}
    report = verify(long_log, progress=seen.__setitem__)
    assert report.ok and len(seen) == windows


# -- SIGINT during a detached verify -----------------------------------------------------------


@pytest.fixture
def sigint_raises() -> Iterator[list[bool]]:
    """SIGINT raises KeyboardInterrupt (as Python's default handler does) only while armed: a
    signal that came too late for the test must not interrupt pytest itself."""
    armed = [True]

    def handler(signum: int, frame: object) -> None:
        if armed[0]:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield armed
    finally:
        armed[0] = False
        signal.signal(signal.SIGINT, previous)


def _sigint_when(ready: Callable[[], bool]) -> threading.Thread:
    """Send SIGINT to this process from another thread as soon as `ready()` holds."""

    def run() -> None:
        deadline = time.monotonic() + 60
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.0005)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_sigint_during_a_detached_verify_raises_keyboard_interrupt(
    long_log: Path, windows: int, sigint_raises: list[bool]
) -> None:
    # progress is a C method: no Python code runs while the core scans, so only the scan's own
    # check for signals (between windows of segments) can run the handler before it ends.
    seen: dict[int, int] = {}
    sender = _sigint_when(lambda: len(seen) >= 1)
    with pytest.raises(KeyboardInterrupt):
        verify(long_log, progress=seen.__setitem__)
    sigint_raises[0] = False
    sender.join()
    assert 1 <= len(seen) < windows  # stopped early, not raised once the whole log was scanned


def _holds_open(pid: int, under: str) -> bool:
    """Whether process `pid` has a file under the directory `under` open."""
    fds = f"/proc/{pid}/fd"
    for fd in os.listdir(fds):
        try:
            if os.readlink(f"{fds}/{fd}").startswith(under):
                return True
        except OSError:
            continue  # closed meanwhile
    return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches /proc/PID/fd for the scan")
def test_cli_validate_interrupted_is_one_line_and_exit_130(long_log: Path) -> None:
    proc = subprocess.Popen(
        [str(KFM_WAL), "validate", str(long_log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    log = os.path.realpath(long_log) + os.sep
    deadline = time.monotonic() + 60
    # Wait until the verifier has a segment open: it is scanning, the interpreter is not starting.
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if _holds_open(proc.pid, log):
                break
        except OSError:
            pass
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.splitlines(), out) == (130, ["kfm-wal: error: interrupted"], ""), err
