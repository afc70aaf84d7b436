"""What a compacted log's checkpoints (FORMAT.md 6.10, kfm_wal.compaction) tell a reader of its
archive at a URL, as kfm_wal.compaction tells one of a directory: the checkpoints the archive
holds (`checkpoints`), the point replay cannot go past (`compaction_point`), and whether a
verification receipt taken before the compaction is continued by the archive
(`receipt_continuity`: the checkpoint's seal list, read from the archive's `blobs/` and checked
against its digest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..compaction.continuity import Continuity
from ..compaction.point import CompactionPoint
from ..compaction.raw import wal_id_of
from ..compaction.record import FORMAT, Checkpoint, is_checkpoint
from ..errors import RemoteError
from ..ops.errors import BlobError
from .blobs import BLOBS
from .records import records
from .remote_blobs import RemoteBlobs


def checkpoints(url: str, storage_options: Mapping[str, Any] | None = None) -> list[Checkpoint]:
    """Every checkpoint of the archive at `url`, in log order, with whether its completion is there."""
    found: dict[str, Checkpoint] = {}
    needle = FORMAT.encode()
    for r in records(url, storage_options=storage_options):
        if r.kind == "intent" and needle in r.line and is_checkpoint(r.body):
            found[str(r.body["wal_id"])] = Checkpoint(str(r.body["wal_id"]), r.seq, r.body["payload"])
        elif r.kind == "completion" and found and wal_id_of(r.line) in found:
            cp = found[str(r.body["wal_id"])]
            detail = r.body.get("detail") or {}
            found[cp.wal_id] = Checkpoint(cp.wal_id, cp.seq, cp.payload, True, dict(detail), r.seq)
    return list(found.values())


def compaction_point(url: str, storage_options: Mapping[str, Any] | None = None) -> CompactionPoint | None:
    """The latest checkpoint of the archive at `url`, None for a log never compacted."""
    found = checkpoints(url, storage_options)
    if not found:
        return None
    cp = found[-1]
    return CompactionPoint(cp.cut_seq, cp.seq, cp.completed_seq or cp.seq)


def seal_list(url: str, ref: Any, storage_options: Mapping[str, Any] | None = None) -> list[list[Any]]:
    """The seal list a checkpoint names, from the archive's blob store (RemoteError when it is
    missing, corrupt or not the count the checkpoint says)."""
    if not isinstance(ref, dict) or not isinstance(ref.get("blob"), str):
        raise RemoteError(f"{url}: a checkpoint's seal list reference is not {{blob, count, last}}: {ref!r}")
    try:
        seals: list[list[Any]] = orjson.loads(RemoteBlobs(f"{url}/{BLOBS}", storage_options).get(ref["blob"]))
    except BlobError as e:
        raise RemoteError(f"{url}: the checkpoint's seal list: {e} (archive push uploads it)") from None
    if len(seals) != ref.get("count"):
        raise RemoteError(
            f"{url}: the seal list {ref['blob']} holds {len(seals)} seals, its checkpoint says {ref.get('count')}"
        )
    return seals


def receipt_continuity(url: str, seq: int, hash: str, storage_options: Mapping[str, Any] | None = None) -> Continuity:
    """Whether the archive continues the history a receipt vouches for at (seq, hash), as
    kfm_wal.compaction.receipt_continuity says of a directory."""
    for cp in reversed(checkpoints(url, storage_options)):
        if not cp.first_seq <= seq <= cp.cut_seq:
            continue
        listed = {int(s): str(h) for s, h in seal_list(url, cp.payload["seals"], storage_options)}.get(seq)
        if listed == hash:
            return Continuity(True, cp.wal_id, f"seal {seq} is listed by checkpoint seq {cp.seq}: history continues")
        why = "with another hash: history was rewritten or forked" if listed else "not as a seal"
        return Continuity(False, cp.wal_id, f"seq {seq} is listed by checkpoint seq {cp.seq} {why}")
    return Continuity(None, None, f"no checkpoint covers seq {seq}")


__all__ = ["checkpoints", "compaction_point", "receipt_continuity", "seal_list"]
