"""`Wal`: the write-ahead log a pipeline appends to. One writer per directory; many threads may
append at once and share group commits. An append returns only when a durable seal covers it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from . import _core, schema
from .errors import CorruptionError, SchemaError, UsageError
from .keys import SigningKey
from .reader import Record, follow, records

Durability = Literal["fsync", "os", "none"]
Recovery = Literal["strict", "tolerate-tail", "salvage"]
Status = Literal["succeeded", "failed", "refused", "reversed"]
# How much of the log `Wal.open` verifies: what followed the last clean close, or all of it.
OpenVerify = Literal["since-close", "all"]
# How rotated segments are kept in archive/: as written, or compressed (`.jsonl.zst`).
ArchiveCompression = Literal["none", "zstd"]
Receipt = _core.Receipt
# An append's receipts: one object per batch, each Receipt made when it is read.
Receipts = _core.Receipts
Sequence.register(Receipts)
# A submitted batch: `result(timeout=None)` gives its Receipts once durable, `done()`.
Pending = _core.Pending

DEFAULT_MAX_SEGMENT_BYTES = 64 << 20
DEFAULT_MAX_RECORD_BYTES = 1 << 20
# Bytes of submitted batches not yet durable before `Wal.submit` blocks.
DEFAULT_MAX_IN_FLIGHT_BYTES = 64 << 20
# How far ahead of its data the live segment is kept filled with zeros (durability "fsync").
DEFAULT_PREALLOCATE_BYTES: int = _core.DEFAULT_PREALLOCATE_BYTES
# Batches from this size are encoded and handed to the core in chunks of _STREAM_CHUNK entries.
_STREAM_FROM = 512
_STREAM_CHUNK = 256


def _check_preallocate(preallocate_bytes: int) -> None:
    """Refused before anything is created or opened."""
    if not 0 <= preallocate_bytes < 2**64:
        raise UsageError(f"preallocate_bytes must be >= 0 and < 2**64, got {preallocate_bytes}")


def _key(key: SigningKey) -> bytes:
    if not isinstance(key, SigningKey):
        raise UsageError(f"key must be a kfm_wal.keys.SigningKey, got {type(key).__name__}")
    return key.seed


def salvage(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> dict[str, Any]:
    """Copy every verifiable record of the log at `src`, up to its first damage, into a new log
    at `dst`. `src` is never changed. Returns destination, stopped_at (the finding, or None when
    the whole log was copied), segments, bytes and last_seq."""
    return _core.salvage(Path(src), Path(dst))


def _refined(kind: str, err: SchemaError, entries: list[Mapping[str, Any]]) -> SchemaError:
    """An intent the core refuses is explained by the JSON Schema's path-precise message."""
    return schema.refine(err, entries) if kind == "intent" else err


class Wal:
    """An open, writable log. Use `Wal.create` or `Wal.open`; close it (or use `with`)."""

    def __init__(self, writer: _core.PyWriter) -> None:
        self._writer = writer

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        key: SigningKey,
        *,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        durability: Durability = "fsync",
        max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES,
        archive_compression: ArchiveCompression = "none",
        stream: str | None = None,
        preallocate_bytes: int = DEFAULT_PREALLOCATE_BYTES,
    ) -> Wal:
        """Create a new log in `path` (created if missing; must not already hold a log).
        `stream` names this writer's log in a log set (every segment header carries it; see
        `kfm_wal.logset`).
        `max_in_flight_bytes` bounds what `submit` has handed over and is not yet durable.
        `archive_compression="zstd"` compresses each rotated segment once it is sealed and archived
        (the log's setting, kept in `settings.json`; readers read either form).
        `preallocate_bytes`: with durability "fsync", how far ahead of its data the live segment is
        kept filled with zeros, so that a small append's fdatasync does not change the file's size
        (docs/FORMAT.md section 7, "Preallocation"); 0 turns it off (copy-on-write file systems
        gain nothing from it)."""
        _check_preallocate(preallocate_bytes)
        writer = _core.PyWriter.create(
            Path(path), _key(key), max_segment_bytes, max_record_bytes, durability, max_in_flight_bytes, stream
        )
        compression = archive_compression if archive_compression != "none" else None
        return cls._with_setting(writer, compression, preallocate_bytes)

    @classmethod
    def _with_setting(
        cls, writer: _core.PyWriter, archive_compression: ArchiveCompression | None, preallocate_bytes: int
    ) -> Wal:
        """The open writer, with its preallocation set and the log's archive compression changed
        first if asked."""
        try:
            writer.set_preallocate_bytes(preallocate_bytes)
            if archive_compression is not None:
                writer.set_archive_compression(archive_compression)
        except BaseException:
            writer.close()
            raise
        return cls(writer)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        key: SigningKey,
        *,
        recovery: Recovery = "tolerate-tail",
        durability: Durability = "fsync",
        salvage_to: str | os.PathLike[str] | None = None,
        max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES,
        archive_compression: ArchiveCompression | None = None,
        verify: OpenVerify = "since-close",
        preallocate_bytes: int = DEFAULT_PREALLOCATE_BYTES,
    ) -> Wal:
        """Open an existing log for writing, verified first: after a clean close, only the live
        segment and what followed the close are read (history before it is vouched for by the
        signed clean-close state, checked against the segments' names and sizes; `validate`
        always reads everything); `verify="all"`, or no usable state, reads the whole log.

        - "tolerate-tail" (default): an unsealed or torn tail (a crash mid-write; nothing in it was
          acknowledged) is cut, a copy kept in `recovered/` and listed in `.recovery`; any other
          damage raises CorruptionError and changes nothing.
        - "strict": any finding, a torn tail included, raises CorruptionError.
        - "salvage": as "tolerate-tail", but on damage copy every verifiable record before it into
          a new log at `salvage_to` and open that one; the damaged log is left untouched.

        `max_in_flight_bytes` and `preallocate_bytes` as for `create`. `archive_compression` changes
        the log's setting (None keeps it); with "zstd", archived segments still plain are
        compressed in the background.
        """
        _check_preallocate(preallocate_bytes)
        flight = max_in_flight_bytes
        if recovery != "salvage":
            writer = _core.PyWriter.open(Path(path), _key(key), recovery, durability, flight, verify)
            return cls._with_setting(writer, archive_compression, preallocate_bytes)
        if salvage_to is None:
            raise UsageError('recovery="salvage" needs salvage_to, the directory for the salvaged copy')
        try:  # salvaging is about damage anywhere: everything is verified
            writer = _core.PyWriter.open(Path(path), _key(key), "tolerate-tail", durability, flight, "all")
        except CorruptionError:
            salvage(path, salvage_to)
            writer = _core.PyWriter.open(Path(salvage_to), _key(key), "tolerate-tail", durability, flight)
        return cls._with_setting(writer, archive_compression, preallocate_bytes)

    # -- writing ---------------------------------------------------------------------------

    def append(self, entry: Mapping[str, Any]) -> _core.Receipt:
        """Record one intent; returns once it is durable."""
        return self._append("intent", [entry])[0]

    def append_many(self, entries: Sequence[Mapping[str, Any]]) -> Receipts:
        """Record intents as one group commit (all or none); returns once they are durable."""
        entries = list(entries)
        return self._append("intent", entries)

    def submit(self, entries: Sequence[Mapping[str, Any]]) -> _core.Pending:
        """Hand over intents as one batch (all or none) and return at once with its handle,
        while earlier batches are still being written and synced: `pending.result(timeout=None)`
        returns the same Receipts `append_many` would once a durable seal covers the batch (or
        raises its failure; every call gives the same answer), `pending.done()` says whether it
        would return at once. Batches are sequenced in submit order and their handles resolve
        in that order. Schema errors are raised here and nothing of the batch is handed over;
        a conflict or a failed write or sync is raised by `result` (after a failed write or
        sync nothing more is acknowledged and a later submit raises PoisonedError). Blocks
        while `max_in_flight_bytes` are submitted and not yet durable; `close` waits for every
        batch in flight."""
        entries = list(entries)
        return self._submit("intent", entries)

    def complete(
        self,
        wal_id: str,
        status: Status = "succeeded",
        *,
        post_state_hash: str | None = None,
        executed_digest: str | None = None,
        duration_ms: float | None = None,
        error: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> _core.Receipt:
        """Record the outcome of the intent `wal_id`."""
        given = {
            "post_state_hash": post_state_hash,
            "executed_digest": executed_digest,
            "duration_ms": duration_ms,
            "error": error,
            "detail": detail,
        }
        entry = {"wal_id": wal_id, "status": status, **{k: v for k, v in given.items() if v is not None}}
        return self.complete_many([entry])[0]

    def complete_many(self, completions: Sequence[Mapping[str, Any]]) -> Receipts:
        """Record several outcomes as one group commit."""
        return self._append("completion", list(completions))

    def _append(self, kind: str, entries: list[Mapping[str, Any]]) -> Receipts:
        # A plain try (not a context manager): this is every append's path.
        try:
            if len(entries) < _STREAM_FROM:
                return self._writer.append(kind, schema.encode(entries))
            return self._chunked(kind, entries, background=True).commit()
        except SchemaError as e:
            raise _refined(kind, e, entries) from None

    def _submit(self, kind: str, entries: list[Mapping[str, Any]]) -> _core.Pending:
        try:
            if len(entries) < _STREAM_FROM:
                return self._writer.submit(kind, schema.encode(entries))
            return self._chunked(kind, entries, background=False).submit()
        except SchemaError as e:
            raise _refined(kind, e, entries) from None

    def _chunked(self, kind: str, entries: list[Mapping[str, Any]], *, background: bool) -> _core.Batch:
        """A large batch handed over in chunks, still one group commit. `background`: the core
        checks each chunk on another core while this thread encodes the next one (a commit,
        waited for: the other core is idle); else this thread checks it, detached, before
        encoding the next (a submit: the other core is busy with the batches in flight)."""
        batch = self._writer.batch(kind, background)
        for first in range(0, len(entries), _STREAM_CHUNK):
            chunk = entries[first : first + _STREAM_CHUNK]
            array = schema.encode_array(chunk, first)
            if array is None:
                batch.add(schema.encode(chunk, first))
            else:
                batch.add_array(array, len(chunk))
        return batch

    # -- reading ---------------------------------------------------------------------------

    def records(self, **filters: Any) -> Iterator[Record]:
        """Sealed records with optional filters: start_seq, end_seq, kind, operation, wal_id."""
        return records(self.path, **filters)

    def follow(self, **options: Any) -> Iterator[Record]:
        """Sealed records as they land (see `kfm_wal.follow`)."""
        return follow(self.path, **options)

    def intent(self, wal_id: str) -> Record | None:
        return next(records(self.path, kind="intent", wal_id=wal_id), None)

    def completion(self, wal_id: str) -> Record | None:
        return next(records(self.path, kind="completion", wal_id=wal_id), None)

    # -- state -----------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return Path(self._writer.path)

    @property
    def log_id(self) -> str:
        return self._writer.log_id

    @property
    def key_id(self) -> str:
        return self._writer.key_id

    @property
    def head(self) -> tuple[int, str, str, str]:
        """(seq, hash, timestamp, segment) of the last record (always a seal)."""
        return self._writer.head()

    @property
    def stats(self) -> dict[str, int]:
        """Counters since this Wal opened: `records` appended, `groups` (group commits, one seal
        each) and `syncs` (fdatasyncs that acknowledged them; one sync may cover several groups
        written while the previous one ran)."""
        return self._writer.stats()

    @property
    def recovery(self) -> list[dict[str, Any]]:
        """What opening the log had to repair: cut tails (with where the copy went), rotations."""
        return self._writer.recovery

    @property
    def poisoned(self) -> str | None:
        return self._writer.poisoned

    @property
    def archive_compression(self) -> ArchiveCompression:
        """How rotated segments are archived (the log's setting)."""
        return "zstd" if self._writer.archive_compression == "zstd" else "none"

    @property
    def opened(self) -> dict[str, int | None]:
        """How much of the log opening read: `trusted_seq`, the seq up to which history was
        trusted from the signed clean-close state (None: all of it was verified), and
        `verified_bytes`, the bytes read and verified."""
        trusted, verified = self._writer.opened
        return {"trusted_seq": trusted, "verified_bytes": verified}

    def wait_for_archive(self) -> str | None:
        """Wait for the background compression of archived segments under way; returns why the
        last one failed, if one did (that segment then stays plain, valid; the next open retries)."""
        return self._writer.wait_for_archive()

    def close(self) -> None:
        """Stop writing. Batches submitted and still in flight resolve first (close waits)."""
        self._writer.close()

    def __enter__(self) -> Wal:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Wal({str(self.path)!r}, log_id={self.log_id!r})"


__all__ = ["Durability", "Pending", "Receipt", "Receipts", "Recovery", "Status", "Wal", "salvage"]
