"""Where a replay reads from: the log's blob store (before-images, new contents) beside the log
(`DIR/blobs/`, or `URL/blobs/` of an archive `kfm-wal archive push` uploaded), or one given
apart (`--blobs URL|DIR`: the folder holding `ab/cdef...`); and, for an archive at a URL, the
compaction point a replay cannot go past (kfm_wal.storage.compacted)."""

from __future__ import annotations

import os
from pathlib import Path

from ..ops.blobs import BlobStore
from ..storage.store import is_url, local_path
from .report import ReplayError

BLOBS = "blobs"


def blob_store(log: Path | str, blobs: str | os.PathLike[str] | None = None) -> BlobStore:
    """The blob store a replay of `log` (a directory, or an archive's URL) reads: `blobs` when
    given (a URL, or a local directory that must exist), else the log's own. Read-only: a store
    at a URL refuses writes, and replay never writes a local one."""
    if blobs is not None:
        text = os.fspath(blobs)
        if is_url(text):
            from ..storage.remote_blobs import RemoteBlobs

            return RemoteBlobs(text.rstrip("/"))
        if not Path(text).is_dir():
            raise ReplayError(f"--blobs {text}: no such directory (the blob store: the folder holding ab/cdef...)")
        return BlobStore(Path(text))
    if isinstance(log, Path):
        return BlobStore.for_log(log)
    here = local_path(log)
    if here is not None:  # file://: read in place
        return BlobStore(Path(here) / BLOBS)
    from ..storage.remote_blobs import RemoteBlobs

    return RemoteBlobs(f"{log}/{BLOBS}")


def not_past_compaction(url: str, from_seq: int | None) -> None:
    """An archive's replay cannot start before its latest compaction either (as a directory's,
    replay.selection): the records it would need are not in the archive. The manifest, when it
    says no segment holds a checkpoint, spares reading the archive again."""
    from ..storage import manifest
    from ..storage.checkpoints import may_hold_checkpoints
    from ..storage.store import ArchiveStore

    if not may_hold_checkpoints(manifest.load(ArchiveStore(url))):
        return
    from ..storage.compacted import compaction_point

    point = compaction_point(url)
    if point is not None and (from_seq is None or from_seq <= point.cut_seq):
        raise ReplayError(
            f"{point.message()}; replay cannot go past it: give --from {point.cut_seq + 1} or later "
            "(with the sandbox a replay of the history before it left)"
        )


__all__ = ["blob_store", "not_past_compaction"]
