"""The peers kfm-wal is measured against, each behind the same call: `append_many(entries)`
appends a batch of intent entries (dicts, see workload.py) durably and returns when it is on
stable storage. Each peer pays its own encoding of the entries, as kfm-wal does.

    KfmWal       kfm_wal.Wal.append_many, durability "fsync" (one write + one fdatasync per commit)
    Reference    RefWriter from tests/reference/kfm_wal_ref.py (pure Python, same format)
    SQLite       stdlib sqlite3, WAL journal, synchronous=FULL, one transaction per batch
    LMDB         `lmdb` package: Environment(sync=True, metasync=True), one write transaction per
                 batch, each entry one put (8-byte sequence key -> orjson-encoded entry)
    RocksDB      `rocksdict` package: each batch one WriteBatch of puts (same keys and values),
                 Rdict.write(batch, WriteOptions with sync=True)
    RawFloor     os.write of the same number of bytes + os.fdatasync: no encoding, no hashing,
                 no signature; the floor any durable append on this file system pays

LMDB and RocksDB are optional (the `bench` extra installs them): `missing()` names the ones whose
package is not installed, and the suites skip them with a one-line note.

A peer is created on a fresh directory (`Peer(directory)`) and closed with `close()`; creation is
never timed.
"""

from __future__ import annotations

import importlib.util
import itertools
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

    def append(self, entry: Mapping[str, Any]) -> kfm_wal.Receipt:
        return self.wal.append(entry)

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


def _encoded(entries: Entries) -> list[bytes]:
    """The entries as kfm-wal encodes their bodies (orjson, kfm_wal.schema's options)."""
    dumps, opts = orjson.dumps, SQLite._OPTIONS
    return [dumps(e, option=opts) for e in entries]


class Lmdb:
    """LMDB (the `lmdb` package) with sync=True and metasync=True: a write transaction per batch
    (or per single append), each entry one put of an 8-byte big-endian sequence key -> the entry's
    orjson bytes, keys in append order (`append=True`). Commit fdatasyncs the data file and writes
    the meta page synchronously. LMDB serialises write transactions, so threads calling `append`
    at once queue on its writer lock; each key is drawn inside the transaction, so in commit order."""

    name = "lmdb"
    MAP_SIZE = 4 << 30  # address space only: the file grows with what is written

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        import lmdb

        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=False)
        self.env = lmdb.open(
            str(self.directory), map_size=self.MAP_SIZE, sync=True, metasync=True, writemap=False, max_dbs=0
        )
        self._seq = itertools.count(1)

    def append_many(self, entries: Entries) -> None:
        values = _encoded(entries)
        with self.env.begin(write=True) as txn:
            seq = self._seq
            for v in values:
                txn.put(next(seq).to_bytes(8, "big"), v, append=True)

    def append(self, entry: Mapping[str, Any]) -> None:
        self.append_many([entry])

    def close(self) -> None:
        self.env.close()


class RocksDB:
    """RocksDB (the `rocksdict` package, raw mode: bytes keys and values as given), default options
    (its write-ahead log on): a batch is one WriteBatch of puts (8-byte sequence key -> the entry's
    orjson bytes) written with `Rdict.write(batch, WriteOptions(sync=True))`, which appends the
    batch to RocksDB's WAL and fdatasyncs it. A single append is `Rdict.put(key, value, opts)` with
    the same options; threads call it on one shared Rdict."""

    name = "rocksdb"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        import rocksdict

        self._rocksdict = rocksdict
        self.directory = Path(directory)
        opts = rocksdict.Options(raw_mode=True)
        opts.create_if_missing(True)
        self.db = rocksdict.Rdict(str(self.directory), opts)
        self.write_opts = rocksdict.WriteOptions()
        self.write_opts.sync = True
        self._seq = itertools.count(1)

    def append_many(self, entries: Entries) -> None:
        batch = self._rocksdict.WriteBatch(raw_mode=True)
        seq = self._seq
        for v in _encoded(entries):
            batch.put(next(seq).to_bytes(8, "big"), v)
        self.db.write(batch, self.write_opts)

    def append(self, entry: Mapping[str, Any]) -> None:
        self.db.put(next(self._seq).to_bytes(8, "big"), _encoded([entry])[0], self.write_opts)

    def close(self) -> None:
        self.db.close()


# The optional peers: name -> the package that provides it.
OPTIONAL = {Lmdb.name: "lmdb", RocksDB.name: "rocksdict"}
KV_PEERS = (Lmdb.name, RocksDB.name)
KV_BEST = "better of lmdb, rocksdb"  # per round, the faster of the two (whichever are installed)


def missing() -> dict[str, str]:
    """Optional peer name -> why it cannot run (its package is not installed)."""
    return {
        name: f"{name} skipped: the `{pkg}` package is not installed (`make bench` or the bench extra installs it)"
        for name, pkg in OPTIONAL.items()
        if importlib.util.find_spec(pkg) is None
    }


def kv_best(by_peer: Mapping[str, Sequence[float]]) -> list[float]:
    """Per round, the better (higher) of the LMDB and RocksDB figures present in `by_peer`; [] when
    neither ran."""
    series = [by_peer[n] for n in KV_PEERS if by_peer.get(n)]
    return [max(vals) for vals in zip(*series, strict=True)] if series else []


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


def open_contender(cls: Any, directory: Path, line: int, seal: int, batch_sizes: Sequence[int]) -> Any:
    """A contender of the batch suites, opened in `directory`: the raw floor writing kfm-wal's line
    and seal sizes, its payloads for `batch_sizes` built now (outside any timed call); any other
    contender as its class makes it."""
    if cls is RawFloor:
        floor = RawFloor(directory, line_bytes=line, seal_bytes=seal)
        floor.prepare(batch_sizes)
        return floor
    return cls(directory)


class RawIntoZeros:
    """os.pwrite of a given number of bytes into a file already filled with zeros ahead of them,
    + os.fdatasync: the floor for a write that leaves the file's size unchanged, as kfm-wal's
    writes into its preallocated live segment do (the zeros, `ahead` bytes at a time, are written
    outside the timed call)."""

    name = "raw pwrite into zeros+fdatasync"

    def __init__(self, directory: str | os.PathLike[str], ahead: int = 1 << 20) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=False)
        self.fd = os.open(self.directory / "floor.bin", os.O_RDWR | os.O_CREAT, 0o644)
        self.ahead, self.end, self.filled = ahead, 0, 0

    def fill(self, nbytes: int) -> None:
        """Untimed: make sure `nbytes` more fit into zeros already durable."""
        if self.end + nbytes > self.filled:
            os.pwrite(self.fd, bytes(self.ahead), self.filled)
            self.filled += self.ahead
            os.fdatasync(self.fd)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.pwrite(self.fd, view, self.end)
            self.end += n
            view = view[n:]
        os.fdatasync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


class PythonGroupCommit:
    """A leader-based group commit as one would write it in Python, with no CPU work besides joining
    bytes: each caller queues one line of kfm-wal's size under a condition variable; the first caller
    that finds no leader writes every queued line plus one seal-sized line with one os.write and one
    os.fdatasync (the interpreter lock released), then wakes the others. It pays what kfm-wal's
    callers pay to come back through one interpreter lock, and nothing for hashing, signing or
    checking. Not a ceiling: it has no commit delay, so while its leader syncs, the callers the last
    sync woke queue the next group, and its groups settle near half the threads."""

    name = "python group commit"

    def __init__(self, directory: str | os.PathLike[str], line_bytes: int, seal_bytes: int) -> None:
        self.floor = RawFloor(directory)
        self.line, self.seal = self.floor.payload(line_bytes), self.floor.payload(seal_bytes)
        self.cond = threading.Condition(threading.Lock())
        self.queued: list[bytes] = []
        self.count = self.synced = 0
        self.leading = False

    def append(self, entry: object) -> None:
        with self.cond:
            self.queued.append(self.line)
            self.count += 1
            mine = self.count
            while self.synced < mine:
                if self.leading:
                    self.cond.wait()
                    continue
                self.leading, group, self.queued, target = True, self.queued, [], self.count
                self.cond.release()
                try:
                    self.floor.write(b"".join(group) + self.seal)
                finally:
                    self.cond.acquire()
                    self.leading = False
                    self.cond.notify_all()
                self.synced = target  # still under the lock: the woken callers look once it is released

    def close(self) -> None:
        self.floor.close()


PEERS: dict[str, type[KfmWal] | type[Reference] | type[SQLite] | type[Lmdb] | type[RocksDB] | type[RawFloor]] = {
    KfmWal.name: KfmWal,
    Reference.name: Reference,
    SQLite.name: SQLite,
    Lmdb.name: Lmdb,
    RocksDB.name: RocksDB,
    RawFloor.name: RawFloor,
}

__all__ = [
    "KV_BEST",
    "KV_PEERS",
    "OPTIONAL",
    "PEERS",
    "PythonGroupCommit",
    "KfmWal",
    "Lmdb",
    "RawFloor",
    "Reference",
    "RocksDB",
    "SQLite",
    "kv_best",
    "load_reference",
    "log_bytes",
    "log_files",
    "missing",
    "open_contender",
    "record_lines",
]
