"""A large segment verified in pieces: each piece's task reads only its byte range (fsspec range
reads, where the task runs) and scans it from the state the seal it starts after leaves
(`scan_piece`); one task merges a segment's pieces into the summary a scan of the whole segment
gives, or, when they cannot stand for it (damage or a key rotated before the last piece), scans
the segment whole (`join_pieces`): the report is the same either way. Where pieces start and
end is decided by every piece alike from the bytes (rust/core/src/piece_scan.rs): piece k starts
after the first seal whose line starts in its window [k*P, (k+1)*P), and reads on past its
window only to finish its last sealed group, so a task holds about P bytes.

A compressed segment (.zst) cannot be read by range: it is verified whole by one task, as
before (decoded in memory; an archive's compressed segments are bounded by the log's
max_segment_bytes). A segment resumed from a receipt's checkpoint is scanned whole too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _core
from ..errors import RemoteError
from ..extras import needs
from .store import RemoteSegment, local_path, remote
from .validate import ScanAll, ScanPlan, pair_partition, paired_names, scan_segment

DEFAULT_PIECE_BYTES = 64 << 20
HEAD_READ = 64 << 10  # a header line is a few hundred bytes; read more only if it is longer


def piece_count(segment: RemoteSegment, piece_bytes: int | None) -> int:
    """How many tasks verify `segment` with pieces of `piece_bytes` (None: whole, one task). A
    compressed one is one task."""
    if not piece_bytes or segment.size <= piece_bytes or segment.name.endswith(".zst"):
        return 1
    return -(-segment.size // piece_bytes)


def _open(url: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    with needs("kfm-wal archives in object storage", "distributed"):
        import fsspec

    with remote(url):
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    return fs, str(path)


def _read(fs: Any, url: str, path: str, start: int, end: int) -> bytes:
    with remote(url):
        data: bytes = fs.cat_file(path, start, end)
    if len(data) != end - start:
        raise RemoteError(f"{url}: bytes {start}-{end} could not be read (the segment changed or is gone)")
    return data


def _first_line(fs: Any, url: str, path: str, size: int) -> bytes:
    head = _read(fs, url, path, 0, min(size, HEAD_READ))
    while b"\n" not in head and len(head) < size:
        head += _read(fs, url, path, len(head), min(size, 2 * len(head)))
    cut = head.find(b"\n")
    return head if cut < 0 else head[: cut + 1]


def scan_piece(
    url: str,
    name: str,
    archived: bool,
    index: int,
    piece_bytes: int,
    size: int,
    storage_options: Mapping[str, Any] | None = None,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> bytes:
    """Read piece `index` of the segment at `url` (`size` bytes as listed) where this runs and
    verify it: the encoded piece summary `join_pieces` takes. On a filesystem this process opens
    directly, the core reads the piece itself, streamed (as `scan_segment` reads a whole segment
    there); elsewhere by range (`read_piece`)."""
    local = local_path(url, storage_options)
    if local is None:
        return read_piece(
            url, name, archived, index, piece_bytes, size, storage_options, keyring, check_bodies, check_signatures
        )
    try:
        return _core.scan_file_piece(local, archived, size, index, piece_bytes, keyring, check_bodies, check_signatures)
    except FileNotFoundError:
        raise RemoteError(f"{url}: not found (the segment is gone)") from None
    except OSError as e:
        raise RemoteError(f"{url}: {e}") from None


def read_piece(
    url: str,
    name: str,
    archived: bool,
    index: int,
    piece_bytes: int,
    size: int,
    storage_options: Mapping[str, Any] | None = None,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> bytes:
    """`scan_piece` by fsspec range reads: the piece's window plus what finishes its last sealed
    group (and, after the first piece, the segment's first line), held in memory."""
    fs, path = _open(url, storage_options)
    # Named as the whole segment's summary names it (by its path where this process opens it).
    named = local_path(url, storage_options) or name
    head = _first_line(fs, url, path, size) if index else b""
    base = max(0, index * piece_bytes - 1)
    grow = max(HEAD_READ, piece_bytes // 4)
    data = _read(fs, url, path, base, min(size, (index + 1) * piece_bytes + grow))
    while True:
        scanned = _core.scan_piece(
            named, archived, data, base, size, index, piece_bytes, head, keyring, check_bodies, check_signatures
        )
        if scanned is not None:
            return scanned
        # The piece's last sealed group goes on past what was read: read on (the core asks for
        # more only while the segment has more).
        data += _read(fs, url, path, base + len(data), min(size, base + len(data) + grow))


def join_pieces(
    url: str,
    name: str,
    archived: bool,
    parts: int,
    *pieces: bytes,
    storage_options: Mapping[str, Any] | None = None,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> tuple[bytes, list[bytes]]:
    """A segment's pieces (in order) merged into what `scan_segment` returns for it; the segment
    scanned whole instead when they cannot stand for it."""
    merged = _core.merge_pieces(list(pieces), parts)
    if merged is not None:
        return merged
    return scan_segment(
        url,
        name,
        archived,
        parts,
        None,
        storage_options=storage_options,
        keyring=keyring,
        check_bodies=check_bodies,
        check_signatures=check_signatures,
    )


def scan_in_pieces(segment: RemoteSegment, parts: int, piece_bytes: int, **args: Any) -> tuple[bytes, list[bytes]]:
    """One segment verified in pieces in this process, one after the other."""
    n = piece_count(segment, piece_bytes)
    if n == 1:
        return scan_segment(segment.url, segment.name, segment.archived, parts, None, **args)
    pieces = [
        scan_piece(segment.url, segment.name, segment.archived, k, piece_bytes, segment.size, **args) for k in range(n)
    ]
    return join_pieces(segment.url, segment.name, segment.archived, parts, *pieces, **args)


def here_in_pieces(piece_bytes: int) -> ScanAll:
    """A `ScanAll` for `storage.validate.verify` that verifies each segment in pieces in this
    process (what the cluster does across its workers)."""

    def scan_all(plan: ScanPlan, args: dict[str, Any]) -> tuple[list[bytes], list[bytes]]:
        scanned = [
            scan_segment(s.url, s.name, s.archived, 1, cp, **args)
            if cp is not None
            else scan_in_pieces(s, 1, piece_bytes, **args)
            for s, cp in zip(plan.segments, plan.checkpoints(), strict=True)
        ]
        events = (shares[0] for _, shares in scanned)
        paired = pair_partition(paired_names(plan.segments), 0, 1, plan.pending, *events)
        return [summary for summary, _ in scanned], [paired]

    return scan_all


__all__ = [
    "DEFAULT_PIECE_BYTES",
    "here_in_pieces",
    "join_pieces",
    "piece_count",
    "read_piece",
    "scan_in_pieces",
    "scan_piece",
]
