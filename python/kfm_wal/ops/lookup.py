"""Finding an operation's intent and completion without scanning the whole log for each one.

`wal.intent(id)` reads every segment, checking every record, to return one: an undo on a log of
a thousand operations spent most of its time there. `RecordIndex` scans the log once (with the
same checks: own hash, chain link, only what a seal covers) and remembers where each intent and
completion is: {wal_id: (segment, offset, length, seq, hash)}. Later lookups read just that line.

What a lookup returns is still a sealed, verified record:
- the line read must be exactly the one the scan verified: it must have a valid own hash (the
  SHA-256 of its bytes before `"hash":"`) and that hash must be the one indexed, and the segment
  must still reach the end of the seal that covered it (not cut since);
- otherwise the index is thrown away and rebuilt from a full scan, and the lookup answered from
  that (a log rewritten, repaired or tampered with since is read afresh, never trusted).

An id not in the index: the records sealed since the last scan are read (from the offset where it
stopped, so the cost is what is new), after checking that they continue the chain the index saw
(first seq and prev); any break means a full rebuild. The first intent or completion of an id
wins, as with `Wal.intent`/`Wal.completion`.

One index per open `Wal` (`index_of`), kept while the Wal object lives. Memory: about 250 bytes
per indexed record."""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import orjson

from .. import _core
from ..errors import WalError
from ..reader import Record, records
from ..wal import Wal

_SUFFIX = 82  # `"hash":"sha256:` + 64 hex + `"}` + `\n` (docs/FORMAT.md, section 2)
_KINDS = ("intent", "completion")


@dataclass(frozen=True)
class _Where:
    segment: int  # segment number
    offset: int
    length: int
    seq: int
    hash: str  # "sha256:<hex>"


@dataclass
class _Segment:
    number: int
    first_seq: int
    name: str
    sealed_end: int  # offset just past the last seal scanned


class RecordIndex:
    """Where each intent and completion of the log at `path` is (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.rebuilds = 0  # full scans done (1 on first use): for tests and diagnostics
        self._lock = threading.Lock()  # one Wal may be shared by threads
        self._reset()

    def _reset(self) -> None:
        self._found: dict[str, dict[str, _Where]] = {k: {} for k in _KINDS}
        self._segments: dict[int, _Segment] = {}
        self._last: _Where | None = None  # the last record scanned (a seal): where new ones continue
        self._built = False
        self._decoded: tuple[Path, bytes] | None = None  # the last compressed segment read

    def intent(self, wal_id: str) -> Record | None:
        return self.find("intent", wal_id)

    def completion(self, wal_id: str) -> Record | None:
        return self.find("completion", wal_id)

    def find(self, kind: str, wal_id: str) -> Record | None:
        """The first sealed `kind` record ("intent" or "completion") of `wal_id`, or None."""
        with self._lock:
            if not self._built:
                self._rebuild()
            elif wal_id not in self._found[kind]:
                self._catch_up()
            where = self._found[kind].get(wal_id)
            if where is None:
                return None
            record = self._load(kind, where)
            if record is not None:
                return record
            self._rebuild()  # the line changed or moved since it was scanned: start over
            where = self._found[kind].get(wal_id)
            record = None if where is None else self._load(kind, where)
        if where is not None and record is None:  # changing under us: the plain reader decides
            return next(records(self.path, kind=kind, wal_id=wal_id), None)
        return record

    # -- scanning ------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        self._reset()
        self.rebuilds += 1
        for number, first_seq, seg_path, archived in _core.segments(self.path):
            self._scan(number, first_seq, Path(seg_path), archived, 0, linked=False)
        self._built = True

    def _catch_up(self) -> None:
        """Index what was sealed since the last scan, or rebuild when it does not continue it:
        the last record scanned must still be there, unchanged, and the new ones must link to it."""
        if self._last is None or self._load("seal", self._last) is None:
            self._rebuild()
            return
        known = self._last.segment
        try:
            for number, first_seq, seg_path, archived in _core.segments(self.path):
                if number < known:
                    continue
                seen = self._segments.get(number)
                start = seen.sealed_end if seen is not None and seen.first_seq == first_seq else 0
                if not self._scan(number, first_seq, Path(seg_path), archived, start, linked=True):
                    self._rebuild()
                    return
        except WalError:  # read from an offset that is no longer a record boundary, or damage
            self._rebuild()

    def _scan(self, number: int, first_seq: int, seg_path: Path, archived: bool, offset: int, linked: bool) -> bool:
        """Index the sealed records of one segment from `offset`. `linked`: they must continue the
        chain scanned so far (a catch-up), else False and nothing indexed. A full scan does not ask
        it, as the plain reader (`records`) does not."""
        found, end = _core.read_segment(seg_path, number, first_seq, archived, 0, 2**64 - 1, offset)
        if linked and found and self._last is not None:
            seq, _, _, _, line = found[0]
            if seq != self._last.seq + 1 or orjson.loads(line).get("prev") != self._last.hash:
                return False
        for seq, kind, off, digest, line in found:
            if kind in _KINDS:
                wal_id = orjson.loads(line).get("wal_id")
                if isinstance(wal_id, str):
                    self._found[kind].setdefault(wal_id, _Where(number, off, len(line), seq, digest))
        if found:
            seq, _, off, digest, line = found[-1]
            self._last = _Where(number, off, len(line), seq, digest)
        self._segments[number] = _Segment(number, first_seq, seg_path.name, max(end, offset))
        return True

    # -- reading one record --------------------------------------------------------------------

    def _read_at(self, path: Path, offset: int, length: int) -> tuple[int, bytes]:
        """(size of the segment, `length` bytes at `offset`): a compressed segment is decompressed
        by the core (the last one kept, as lookups cluster in one segment)."""
        if path.name.endswith(_COMPRESSED):
            if not path.exists():
                raise FileNotFoundError(path)
            if self._decoded is None or self._decoded[0] != path:
                self._decoded = (path, _core.segment_bytes(path, True))
            data = self._decoded[1]
            return len(data), data[offset : offset + length]
        return _read_at_file(path, offset, length)

    def _load(self, kind: str, where: _Where) -> Record | None:
        """The indexed line, if it is still exactly the record scanned; None otherwise."""
        seg = self._segments[where.segment]
        plain = seg.name.removesuffix(_COMPRESSED)
        # Where a rotation moves it: into archive/, then compressed there.
        for path in (
            self.path / seg.name,
            self.path / "archive" / plain,
            self.path / "archive" / (plain + _COMPRESSED),
        ):
            try:
                size, line = self._read_at(path, where.offset, where.length)
            except FileNotFoundError:
                continue
            if size < seg.sealed_end:
                return None  # cut: the seal that covered it may be gone
            if not _is_record(line, where.hash):
                return None
            return Record(where.seq, kind, where.offset, where.hash, line, seg.name)
        return None


_COMPRESSED = ".zst"


def _read_at_file(path: Path, offset: int, length: int) -> tuple[int, bytes]:
    """(size of the segment, `length` bytes at `offset`) of a plain segment file."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.fstat(fd).st_size, os.pread(fd, length, offset)
    finally:
        os.close(fd)


def _is_record(line: bytes, digest: str) -> bool:
    """`line` is a whole record line whose own hash is valid and equals `digest`."""
    if len(line) <= _SUFFIX or not line.endswith(b'"}\n'):
        return False
    own = "sha256:" + hashlib.sha256(line[:-_SUFFIX]).hexdigest()
    return own == digest and line[-_SUFFIX:] == b'"hash":"' + own.encode() + b'"}\n'


_indexes: weakref.WeakKeyDictionary[Wal, RecordIndex] = weakref.WeakKeyDictionary()


def index_of(wal: Wal) -> RecordIndex:
    """The record index of an open Wal (built on first use, kept while the Wal object lives)."""
    index = _indexes.get(wal)
    if index is None:
        index = _indexes[wal] = RecordIndex(wal.path)
    return index


__all__ = ["RecordIndex", "index_of"]
