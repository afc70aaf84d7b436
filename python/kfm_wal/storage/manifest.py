"""The archive's manifest (`MANIFEST.json` at the archive's URL): each segment pushed, with its
size and SHA-256 (what `push` compares to upload nothing twice), its seq range, the hash its first
record links to and the hash of its last seal, that final seal (seq, offset, whether it closes
the segment), and the cut of each checkpoint it holds (a compacted log, FORMAT.md 6.10).
Validation of the archive checks the segments against it. README.md "Archives in object storage"
documents the layout."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

from .._core import FORMAT
from ..errors import RemoteError
from .store import MANIFEST, ArchiveStore, RemoteSegment

KIND = "kfm-wal archive manifest"


@dataclass(frozen=True)
class Entry:
    """One pushed segment. `path` is relative to the archive's URL."""

    name: str
    path: str
    live: bool
    size: int
    sha256: str
    first_seq: int | None
    last_seq: int | None
    prev_hash: str | None
    last_hash: str | None
    final_seal: dict[str, Any] | None
    # The cut ([segment, seq, hash]) of each checkpoint (FORMAT.md 6.10) the segment holds, as the
    # core finds them; None in a manifest written before checkpoints were listed (not checked).
    checkpoints: list[list[Any]] | None = None

    @classmethod
    def of(
        cls,
        name: str,
        path: str,
        live: bool,
        data: bytes,
        facts: dict[str, Any],
        checkpoints: list[list[Any]] | None = None,
    ) -> Entry:
        import hashlib

        seal = None
        if facts["last_seq"] is not None:
            seal = {"seq": facts["last_seq"], "offset": facts["last_seal_offset"], "closes": facts["closes"]}
        return cls(
            name=name,
            path=path,
            live=live,
            size=len(data),
            sha256="sha256:" + hashlib.sha256(data).hexdigest(),
            first_seq=facts["first_seq"],
            last_seq=facts["last_seq"],
            prev_hash=facts["prev_hash"],
            last_hash=facts["last_hash"],
            final_seal=seal,
            checkpoints=checkpoints,
        )


def load(store: ArchiveStore) -> dict[str, Entry] | None:
    """The manifest's entries by segment name, None when the archive has no manifest."""
    raw = store.read_if_there(MANIFEST)
    if raw is None:
        return None
    where = store.object_url(MANIFEST)
    try:
        doc = orjson.loads(raw)
        if doc.get("kind") != KIND:
            raise RemoteError(f"{where}: not a kfm-wal archive manifest (kind {doc.get('kind')!r})")
        return {e["name"]: Entry(**e) for e in doc["segments"]}
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise RemoteError(f"{where}: the manifest is not readable: {type(e).__name__}: {e}") from None


def save(store: ArchiveStore, log_id: str | None, entries: dict[str, Entry]) -> None:
    ordered = sorted(entries.values(), key=lambda e: (e.name, e.live))
    doc = {"kind": KIND, "format": FORMAT, "log_id": log_id, "segments": [asdict(e) for e in ordered]}
    store.write(MANIFEST, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")


def check(
    store: ArchiveStore, entries: dict[str, Entry], segments: list[RemoteSegment], facts: list[dict[str, Any] | None]
) -> None:
    """Raise RemoteError at the first way the segments disagree with the manifest: one listed
    there and gone (or one there and not listed), another size, or another seq range or final
    seal than the manifest records. A segment without facts (not scanned: an incremental run
    vouches for it) is checked by place and size only."""
    where = store.object_url(MANIFEST)
    listed = {s.name: (s, f) for s, f in zip(segments, facts, strict=True)}
    for name, entry in sorted(entries.items()):
        if name not in listed:
            raise RemoteError(f"{where} lists segment {name}, which is not in the archive")
        seg, fact = listed[name]
        got: dict[str, Any] = {"path": f"{'archive/' if seg.archived else ''}{seg.name}", "size": seg.size}
        if fact is not None:
            got |= {"first_seq": fact["first_seq"], "last_seq": fact["last_seq"], "last_hash": fact["last_hash"]}
        for field, value in got.items():
            if getattr(entry, field) != value:
                raise RemoteError(
                    f"{where} disagrees with segment {name}: {field} is {getattr(entry, field)!r} there, "
                    f"{value!r} in the archive"
                )
    for name in listed:
        if name not in entries:
            raise RemoteError(f"segment {name} is in the archive but not in {where}")


__all__ = ["KIND", "Entry", "check", "load", "save"]
