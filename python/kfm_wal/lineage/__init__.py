"""Lineage from the log: OpenLineage run events and W3C PROV documents.

    from kfm_wal import lineage
    path = lineage.emit("data/wal")                    # data/lineage/events.jsonl (+ lineage.json)
    text = lineage.export("data/wal", "prov-json", start_seq=10, end_seq=200)

Formats: "openlineage" (JSON lines, one RunEvent per intent / completion record), "prov-json",
"prov-n". Everything is derived from the sealed records only: the same log (and range) always
gives the same bytes. `emit` writes them under data/lineage/ with a manifest naming the records
they derive from (`derived`); `kfm-wal validate --operations` checks them against the log
(`kfm_wal.audit_lineage`). See `model` for how datasets are named, `openlineage` for the events and
their `kfm_wal` run facet, `provenance` for the PROV mapping.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from ..errors import UsageError
from . import derived
from .derived import FILES, MANIFEST, default_dir, read_manifest
from .model import DEFAULT_NAMESPACE, DatasetRef, OpRun, Scan, datasets, file_namespace, scan
from .openlineage import FACET_NAME, FACET_SCHEMA_URL, PRODUCER, KfmWalRunFacet, events, run_event, to_jsonl
from .provenance import document, to_prov_json, to_prov_n

Format = Literal["openlineage", "prov-json", "prov-n"]
FORMATS: tuple[str, ...] = ("openlineage", "prov-json", "prov-n")


def export(
    log: str | os.PathLike[str],
    format: str = "openlineage",
    start_seq: int | None = None,
    end_seq: int | None = None,
) -> str:
    """The lineage of the log at `log` (or of the records with seq in [start_seq, end_seq]) as
    text in `format`. A completion in the range is paired with its intent even when the intent
    is before the range; a run whose completion is after `end_seq` is exported as pending."""
    if format not in FORMATS:
        raise UsageError(f"unknown lineage format {format!r}; use one of {', '.join(FORMATS)}")
    if start_seq is not None and end_seq is not None and start_seq > end_seq:
        raise UsageError(f"empty seq range: {start_seq} > {end_seq}")
    return derived.render(scan(log, start_seq, end_seq), format)


def default_path(log: str | os.PathLike[str]) -> Path:
    """`<log parent>/lineage/events.jsonl` (data/wal -> data/lineage/events.jsonl)."""
    return default_dir(log) / FILES["openlineage"]


def emit(
    log: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    formats: Iterable[str] | None = None,
) -> Path:
    """Derive the log's lineage files into `out_dir` (default `<log parent>/lineage`) with their
    manifest (`derived.emit`: OpenLineage events unless other `formats` are asked for or already
    listed). Rebuilt from the whole log each time, so running it again gives the same bytes.
    Returns the OpenLineage events file's path when it is listed, else the first file's."""
    where = default_dir(log) if out_dir is None else Path(out_dir)
    manifest = derived.emit(log, where, formats)
    names = sorted(manifest.files)
    name = FILES["openlineage"] if FILES["openlineage"] in manifest.files else names[0]
    return where / name


__all__ = [
    "DEFAULT_NAMESPACE",
    "FACET_NAME",
    "FACET_SCHEMA_URL",
    "FILES",
    "FORMATS",
    "MANIFEST",
    "PRODUCER",
    "DatasetRef",
    "Format",
    "KfmWalRunFacet",
    "OpRun",
    "Scan",
    "datasets",
    "default_dir",
    "default_path",
    "derived",
    "document",
    "emit",
    "events",
    "export",
    "file_namespace",
    "read_manifest",
    "run_event",
    "scan",
    "to_jsonl",
    "to_prov_json",
    "to_prov_n",
]
