"""`push`: copy a log's rotated segments (and, on request, the live segment's sealed prefix) to
an archive URL, with its blob store. A segment already there with the same SHA-256 is not
uploaded again; one there with other bytes is never overwritten (history does not change: that is
a fork). Blobs go first (as in a log, no record names a blob that is not there yet: replay reads
them, and a compacted log's checkpoint names its seal list), then the segments; the manifest is
written last, so it never lists a segment that is not there yet."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _core
from ..errors import NotALogError, RemoteError
from . import manifest
from .blobs import push_blobs
from .checkpoints import cut_list
from .store import ARCHIVE, ArchiveStore


@dataclass
class PushResult:
    """What a push did: segment names uploaded, and those already there; blob digests likewise."""

    url: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    blobs_uploaded: list[str] = field(default_factory=list)
    blobs_unchanged: list[str] = field(default_factory=list)


def push(
    log_dir: str | os.PathLike[str],
    url: str,
    *,
    include_live: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> PushResult:
    """Upload the rotated segments of the log in `log_dir` to `url` (into `archive/`, as in a log
    directory) and, with `include_live`, the live segment's sealed prefix (at the top), and the
    blobs of its store (`blobs/`) the archive lacks. Memory holds one segment at a time."""
    listed = _core.segments(Path(log_dir))  # NotALogError when there is no log
    live_number = max((n for n, _, _, archived in listed if not archived), default=None)
    store = ArchiveStore(url, storage_options)
    entries = manifest.load(store) or {}
    result = PushResult(store.url)
    if not entries and not any(archived or include_live for *_, archived in listed):
        raise NotALogError(f"{log_dir}: no rotated segment to push (the live one needs --include-live)")
    result.blobs_uploaded, result.blobs_unchanged = push_blobs(log_dir, store)
    log_id: str | None = None
    for number, _first_seq, path, archived in listed:
        live = not archived and number == live_number
        if live and not include_live:
            continue
        data = (
            Path(path).read_bytes() if Path(path).exists() else (Path(log_dir) / ARCHIVE / Path(path).name).read_bytes()
        )
        name = Path(path).name
        facts = _core.summary_facts(_core.scan_summary(name, data, archived, check_signatures=False))
        log_id = log_id or facts["log_id"]
        if live:
            data = data[: facts["sealed_end"]]
            if not data:
                continue  # nothing sealed yet
        relative = name if live else f"{ARCHIVE}/{name}"
        held = cut_list(_core.segment_checkpoints(name, data))
        entry = manifest.Entry.of(name, relative, live, data, facts, held)
        if _already_there(store, entries.get(name), entry, data):
            result.unchanged.append(name)
        else:
            store.write(relative, data)
            result.uploaded.append(name)
        if not live and store.exists(name):
            store.delete(name)  # pushed as the live prefix before its rotation: now archived
            result.removed.append(name)
        entries[name] = entry
    if log_id is None and not entries:
        raise NotALogError(f"{log_dir}: no rotated segment to push (the live one needs --include-live)")
    manifest.save(store, log_id, entries)
    return result


def _already_there(store: ArchiveStore, old: manifest.Entry | None, new: manifest.Entry, data: bytes) -> bool:
    """Whether `new` is already at the URL. Refuses (RemoteError) to replace different history:
    an archived segment with other bytes, or a live prefix the local segment does not extend."""
    remote_size = store.size(new.path)
    if remote_size is None:
        return False
    if old is not None and old.path == new.path and remote_size == old.size:
        there = old.sha256
        prefix = data[: old.size]
    else:  # no manifest entry to trust: read what is there
        remote_data = store.read(new.path)
        there = "sha256:" + hashlib.sha256(remote_data).hexdigest()
        prefix = data[: len(remote_data)]
    if there == new.sha256:
        return True
    if new.live and "sha256:" + hashlib.sha256(prefix).hexdigest() == there:
        return False  # the live prefix grew: upload the longer one
    raise RemoteError(
        f"{store.object_url(new.path)} holds other bytes than segment {new.name} of the local log "
        f"({there}, local {new.sha256}): refusing to overwrite archived history"
    )


__all__ = ["PushResult", "push"]
