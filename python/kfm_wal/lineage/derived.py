"""The lineage directory (default `data/lineage/`): files DERIVED from the log, never written
around it.

    data/lineage/
        lineage.json     the manifest: which log, and for each file the records it derives from
        events.jsonl     OpenLineage run events        (format "openlineage")
        prov.json        W3C PROV-JSON document        (format "prov-json")
        prov.provn       W3C PROV-N document           (format "prov-n")

Each file is exactly `export(log, format, 1, to_seq)`: the same log always gives the same bytes.
The manifest (format `kfm-wal-lineage/1`) names, per file, the seq range and the hash of the
record at `to_seq` (the chain head it was derived from: that hash commits to every record
before it) and the SHA-256 of the file's bytes:

    {"format": "kfm-wal-lineage/1", "log_id": "...",
     "files": {"events.jsonl": {"format": "openlineage", "from_seq": 1, "to_seq": 812,
                                "head_hash": "sha256:...", "digest": "sha256:..."}}}

`emit` rewrites every file from the whole log (files first, each atomically; the manifest last),
so the directory always names a state of the log. The audit (`kfm_wal.audit_lineage`, run by
`kfm-wal validate --operations`) derives each listed file again from the log and reports any file
edited, deleted or added behind the log's back."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import UsageError
from ..ops import durable
from ..ops.digests import content_digest
from .model import Scan, scan
from .openlineage import to_jsonl
from .provenance import to_prov_json, to_prov_n

MANIFEST = "lineage.json"
MANIFEST_FORMAT = "kfm-wal-lineage/1"
FILES = {"openlineage": "events.jsonl", "prov-json": "prov.json", "prov-n": "prov.provn"}
DEFAULT_FORMATS = ("openlineage",)


def render(scanned: Scan, fmt: str) -> str:
    """The text of a scanned range in `fmt` ("openlineage", "prov-json" or "prov-n")."""
    if fmt == "openlineage":
        return to_jsonl(scanned)
    if fmt == "prov-json":
        return to_prov_json(scanned)
    if fmt == "prov-n":
        return to_prov_n(scanned)
    raise UsageError(f"unknown lineage format {fmt!r}; use one of {', '.join(FILES)}")


@dataclass(frozen=True)
class Listed:
    """One file of the manifest."""

    name: str
    format: str
    from_seq: int
    to_seq: int
    head_hash: str
    digest: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "from_seq": self.from_seq,
            "to_seq": self.to_seq,
            "head_hash": self.head_hash,
            "digest": self.digest,
        }


@dataclass(frozen=True)
class Manifest:
    log_id: str
    files: dict[str, Listed]

    def to_bytes(self) -> bytes:
        doc = {
            "format": MANIFEST_FORMAT,
            "log_id": self.log_id,
            "files": {name: f.as_dict() for name, f in sorted(self.files.items())},
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


class ManifestError(ValueError):
    """The manifest cannot be read as a kfm-wal-lineage/1 manifest (the audit reports it)."""


def read_manifest(directory: str | os.PathLike[str]) -> Manifest | None:
    """The manifest of a lineage directory; None when it has none; ManifestError when damaged."""
    path = Path(directory) / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        doc = orjson.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
            raise ManifestError(f"not a {MANIFEST_FORMAT} manifest")
        files = {}
        for name, f in doc["files"].items():
            listed = Listed(
                str(name), f["format"], int(f["from_seq"]), int(f["to_seq"]), str(f["head_hash"]), str(f["digest"])
            )
            if FILES.get(listed.format) != listed.name or listed.from_seq != 1 or listed.to_seq < 1:
                raise ManifestError(f"entry {name!r}: not a file emit writes (format, name, seq range)")
            files[listed.name] = listed
        return Manifest(str(doc["log_id"]), files)
    except ManifestError:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise ManifestError(f"unreadable: {type(e).__name__}: {e}") from None


def default_dir(log: str | os.PathLike[str]) -> Path:
    """`<log parent>/lineage` (data/wal -> data/lineage)."""
    return Path(log).absolute().parent / "lineage"


def emit(
    log: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    formats: Iterable[str] | None = None,
) -> Manifest:
    """Derive the lineage files of the whole log into `out_dir` (default `default_dir`): the
    `formats` given, or those the directory's manifest lists already (else OpenLineage events).
    A file whose bytes are unchanged is not rewritten; the manifest is written last."""
    where = default_dir(log) if out_dir is None else Path(out_dir)
    try:
        old = read_manifest(where)
    except ManifestError:
        old = None  # rebuilt from the log below: a damaged manifest is replaced
    wanted = list(dict.fromkeys(formats if formats is not None else ()))
    if not wanted:
        wanted = sorted({f.format for f in old.files.values()}) if old else list(DEFAULT_FORMATS)
    for fmt in wanted:
        if fmt not in FILES:
            raise UsageError(f"unknown lineage format {fmt!r}; use one of {', '.join(FILES)}")
    scanned = scan(log)
    if scanned.head is None:
        raise UsageError(f"{log}: the log holds no sealed record to derive lineage from")
    seq, head = scanned.head
    listed: dict[str, Listed] = {}
    if old is not None and old.log_id == scanned.log_id:
        listed.update(old.files)  # files of formats not asked for this time stay as derived then
    for fmt in wanted:
        name = FILES[fmt]
        data = render(scanned, fmt).encode()
        _write_if_changed(where / name, data)
        listed[name] = Listed(name, fmt, 1, seq, head, content_digest(data))
    manifest = Manifest(scanned.log_id, listed)
    _write_if_changed(where / MANIFEST, manifest.to_bytes())
    return manifest


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    durable.write_atomic(path, data)


def derive(scanned: Mapping[int, Scan], listed: Listed) -> bytes:
    """What the log derives for a listed file, from the scan of its range (by `to_seq`)."""
    return render(scanned[listed.to_seq], listed.format).encode()


__all__ = [
    "DEFAULT_FORMATS",
    "FILES",
    "MANIFEST",
    "MANIFEST_FORMAT",
    "Listed",
    "Manifest",
    "ManifestError",
    "default_dir",
    "derive",
    "emit",
    "read_manifest",
    "render",
]
