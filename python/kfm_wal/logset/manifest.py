"""The log-set manifest (`kfm-wal-logset/1`): a small JSON file naming the streams of one history,
each a log directory (relative to the manifest) or an archive URL.

    {"format": "kfm-wal-logset/1", "streams": {"etl-a": "logs/a", "etl-b": "s3://bucket/b"}}
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LogSetError
from ..storage.store import is_url

FORMAT = "kfm-wal-logset/1"
# The header member's rule (docs/FORMAT.md section 4, "stream").
STREAM_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
STREAM_ID_RULE = "1 to 64 of a-z 0-9 . _ -, starting with a letter or digit"


def is_stream_id(text: str) -> bool:
    return STREAM_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class LogSet:
    """A parsed manifest: `streams` maps each stream id to its log (a local path or a URL)."""

    path: str
    streams: dict[str, str]

    def is_remote(self, stream: str) -> bool:
        return is_url(self.streams[stream])


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for name, value in pairs:
        if name in seen:
            raise LogSetError(f"member {name!r} is named twice")
        seen[name] = value
    return seen


def looks_like_manifest(path: str | os.PathLike[str]) -> bool:
    """A regular file whose name ends in .json (a log is a directory, an archive a URL)."""
    p = Path(path)
    return p.suffix == ".json" and p.is_file()


def load(path: str | os.PathLike[str]) -> LogSet:
    """Read and check a manifest; relative log paths are resolved against its directory."""
    where = os.fspath(path)
    try:
        text = Path(where).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LogSetError(f"{where}: cannot read the log-set manifest: {exc}") from None
    try:
        doc = json.loads(text, object_pairs_hook=_refuse_repeats)
    except LogSetError as exc:
        raise LogSetError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise LogSetError(f"{where}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise LogSetError(f"{where}: not a log-set manifest (member format must be {FORMAT!r})")
    unknown = sorted(set(doc) - {"format", "streams"})
    if unknown:
        raise LogSetError(f"{where}: unknown member {unknown[0]!r}")
    streams = doc.get("streams")
    if not isinstance(streams, dict) or not streams:
        raise LogSetError(f"{where}: member streams must be a non-empty object (stream id -> log dir or URL)")
    base = Path(where).parent
    resolved: dict[str, str] = {}
    at: dict[str, str] = {}
    for stream, log in streams.items():
        if not is_stream_id(stream):
            raise LogSetError(f"{where}: streams: {stream!r} is not a stream id ({STREAM_ID_RULE})")
        if not isinstance(log, str) or not log:
            raise LogSetError(f"{where}: streams.{stream}: must be a log directory or a URL (a non-empty string)")
        location = log.rstrip("/") if is_url(log) else os.path.normpath(base / log)
        if location in at:
            raise LogSetError(f"{where}: streams {at[location]!r} and {stream!r} name one log ({log})")
        at[location] = stream
        resolved[stream] = location
    return LogSet(where, resolved)


__all__ = ["FORMAT", "STREAM_ID_RULE", "LogSet", "is_stream_id", "load", "looks_like_manifest"]
