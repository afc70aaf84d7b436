"""The peers kfm-wal is measured against, each behind the same call: `append_many(entries)`
appends a batch of intent entries (dicts, see workload.py) durably and returns when it is on
stable storage. Each peer pays its own encoding of the entries, as kfm-wal does.

    KfmWal       kfm_wal.Wal.append_many, durability "fsync" (one write + one fdatasync per commit)
    Reference    RefWriter from tests/reference/kfm_wal_ref.py (pure Python, same format)
    SQLite       stdlib sqlite3, WAL journal, synchronous=FULL, one transaction per batch
    RawFloor     os.write of the same number of bytes + os.fdatasync: no encoding, no hashing,
                 no signature; the floor any durable append on this file system pays

A peer is created on a fresh directory (`Peer(directory)`) and closed with `close()`; creation is
never timed.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import kfm_wal
import orjson
from kfm_wal import keys

REPO = Path(__file__).resolve().parent.parent
REFERENCE_PATH = REPO / "tests" / "reference" / "kfm_wal_ref.py"

# A fixed writer key: benchmarks are deterministic and never need a secret.
KEY_SEED = bytes(range(32))

Entries = Sequence[Mapping[str, Any]]


def load_reference() -> ModuleType:
    """Import tests/reference/kfm_wal_ref.py by path (tests/ is not a package we may touch)."""
    name = "kfm_wal_ref"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REFERENCE_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the reference implementation from {REFERENCE_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    for attr in ("RefWriter", "verify"):
        if not hasattr(module, attr):
            raise ImportError(f"{REFERENCE_PATH} has no {attr}: the reference API changed")
    return module


def log_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The segment files of a log (archive first, then live), in segment-number order."""
    d = Path(directory)
    found = list(d.glob("*.jsonl")) + list((d / "archive").glob("*.jsonl"))
    return sorted(found, key=lambda p: p.name)


def record_lines(directory: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    """(kind, line) for every line of a log, in order, each line with its newline: kind "intent",
    "seal", or "" for any other record. The kind is looked for in the line's first 160 bytes, where
    the record's envelope names it, so that counting a log's lines does not parse its JSON."""
    for f in log_files(directory):
        for line in f.read_bytes().splitlines(keepends=True):
            head = line[:160]
            if b'"kind":"intent"' in head:
                yield "intent", line
            elif b'"kind":"seal"' in head:
                yield "seal", line
            else:
                yield "", line


def log_bytes(directory: str | os.PathLike[str]) -> int:
    return sum(p.stat().st_size for p in log_files(directory))


class KfmWal:
    """kfm-wal itself: `Wal.append_many` with durability "fsync"."""

    name = "kfm-wal"

    def __init__(self, directory: str | os.PathLike[str], durability: kfm_wal.wal.Durability = "fsync") -> None:
        self.directory = Path(directory)
        self.wal = kfm_wal.Wal.create(self.directory, keys.SigningKey.from_seed(KEY_SEED), durability=durability)

    def append_many(self, entries: Entries) -> None:
        self.wal.append_many(entries)

    def append(self, entry: Mapping[str, Any]) -> None:
        self.wal.append(entry)

    def close(self) -> None:
        self.wal.close()


class Reference:
    """The pure-Python reference writer (validates bodies, json.dumps, hashlib, cryptography)."""

    name = "reference"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        ref = load_reference()
        self.directory = Path(directory)
        log_id = str(uuid.UUID(bytes=KEY_SEED[:16], version=4))
        self.writer = ref.RefWriter(self.directory, KEY_SEED, log_id)

    def append_many(self, entries: Entries) -> None:
        self.writer.append_many(entries)

    def close(self) -> None:
        self.writer.close()


class SQLite:
    """One table (seq INTEGER PRIMARY KEY, body TEXT) in WAL mode with synchronous=FULL; each batch
    is one transaction inserting the orjson-encoded entries with executemany."""

    name = "sqlite"
    # The orjson options kfm_wal.schema.encode uses, so both pay the same encoding.
    _OPTIONS: int = getattr(kfm_wal.schema, "_OPTIONS", orjson.OPT_STRICT_INTEGER)

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=False)
        self.db = sqlite3.connect(self.directory / "log.sqlite", isolation_level=None, check_same_thread=False)
        mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise RuntimeError(f"sqlite refused journal_mode=WAL (got {mode})")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        self._lock = threading.Lock()

    def append_many(self, entries: Entries) -> None:
        dumps, opts = orjson.dumps, self._OPTIONS
        rows = [(dumps(e, option=opts).decode(),) for e in entries]
        db = self.db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT INTO log (body) VALUES (?)", rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def append(self, entry: Mapping[str, Any]) -> None:
        """One entry in its own transaction; callable from many threads at once, which share the
        connection under a lock (one transaction at a time), as the thread and writer tests need."""
        with self._lock:
            self.append_many([entry])

    def close(self) -> None:
        self.db.close()


class RawFloor:
    """os.write of a given number of bytes + os.fdatasync on an append-only file: the cost of
    making that many bytes durable with nothing else done. `bytes_for(n)` says how many bytes a
    batch of n entries is (calibrated from what kfm-wal writes); the payloads are built outside the
    timed call."""

    name = "raw write+fdatasync"

    def __init__(self, directory: str | os.PathLike[str], line_bytes: int = 1000, seal_bytes: int = 330) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=False)
        self.fd = os.open(self.directory / "floor.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.line_bytes, self.seal_bytes = line_bytes, seal_bytes
        self._payloads: dict[int, bytes] = {}

    def payload(self, nbytes: int) -> bytes:
        data = self._payloads.get(nbytes)
        if data is None:
            data = self._payloads[nbytes] = (b"x" * (nbytes - 1) + b"\n") if nbytes else b""
        return data

    def prepare(self, batch_sizes: Sequence[int]) -> None:
        """Build the payloads for these batch sizes now, so no timed call builds one."""
        for n in batch_sizes:
            self.payload(n * self.line_bytes + self.seal_bytes)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        os.fdatasync(self.fd)

    def append_many(self, entries: Entries) -> None:
        self.write(self.payload(len(entries) * self.line_bytes + self.seal_bytes))

    def close(self) -> None:
        os.close(self.fd)


PEERS: dict[str, type[KfmWal] | type[Reference] | type[SQLite] | type[RawFloor]] = {
    KfmWal.name: KfmWal,
    Reference.name: Reference,
    SQLite.name: SQLite,
    RawFloor.name: RawFloor,
}

__all__ = [
    "PEERS",
    "KfmWal",
    "RawFloor",
    "Reference",
    "SQLite",
    "load_reference",
    "log_bytes",
    "log_files",
    "record_lines",
]
