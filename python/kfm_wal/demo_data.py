"""The demo's transforms: Kansas counties CSV -> cleaned JSON -> STAC-like items and N-Triples.

Pure functions from bytes to bytes with deterministic output, so the demo can hash what it is about
to write before writing it, and a rerun on the same input writes the same bytes."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .errors import UsageError

STATE = {"name": "Kansas", "abbreviation": "KS", "fips": "20"}
_FIPS = re.compile(r"20\d\d[13579]")  # Kansas county codes are odd, 001-209
_BASE = "urn:kfm:"


@dataclass(frozen=True)
class County:
    fips: str
    name: str
    county_seat: str

    @property
    def label(self) -> str:
        return f"{self.name} County"


def clean(data: bytes, source: str) -> list[County]:
    """Parse and check the sample: required columns, trimmed values, Kansas FIPS codes, no
    duplicates. Errors name the CSV line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{source}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"name", "fips", "county_seat"} - set(reader.fieldnames or ())
    if missing:
        raise UsageError(f"{source}: missing column(s) {', '.join(sorted(missing))}")
    seen: dict[str, int] = {}
    out = []
    for row in reader:
        line = reader.line_num
        name, fips, seat = ((row.get(k) or "").strip() for k in ("name", "fips", "county_seat"))
        if not _FIPS.fullmatch(fips):
            raise UsageError(f"{source}: line {line}: {fips!r} is not a Kansas county FIPS code")
        if not name or not seat:
            raise UsageError(f"{source}: line {line}: name and county_seat must not be empty")
        if fips in seen:
            raise UsageError(f"{source}: line {line}: FIPS {fips} already on line {seen[fips]}")
        seen[fips] = line
        out.append(County(fips, name, seat))
    if not out:
        raise UsageError(f"{source}: no rows")
    return sorted(out, key=lambda c: c.fips)


def _json(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


def processed(counties: list[County], source: str) -> bytes:
    rows = [
        {**asdict(c), "county_fips": c.fips[2:], "label": c.label, "state": STATE["abbreviation"]}
        for c in counties
    ]
    return _json({"state": STATE, "source": source, "count": len(rows), "counties": rows})


def county(c: County, source: str) -> bytes:
    """One county as a small JSON document (the per-county ETL outputs)."""
    return _json({**asdict(c), "county_fips": c.fips[2:], "label": c.label, "state": STATE, "source": source})


def groups(counties: Iterable[County]) -> dict[str, list[County]]:
    """Counties by the first letter of their name: a handful of items of a handful of counties."""
    out: dict[str, list[County]] = {}
    for c in counties:
        out.setdefault(c.name[0].upper(), []).append(c)
    return dict(sorted(out.items()))


def stac_item(letter: str, counties: list[County], data_href: str) -> bytes:
    """A STAC-like item (no geometry: the sample has none) describing one group of counties."""
    return _json(
        {
            "type": "Feature",
            "stac_version": "1.0.0",
            "id": f"ks-counties-{letter.lower()}",
            "geometry": None,
            "properties": {
                "title": f"Kansas counties {letter}",
                "datetime": None,
                "kfm:state": STATE,
                "kfm:counties": [asdict(c) for c in counties],
            },
            "links": [{"rel": "derived_from", "href": data_href, "type": "application/json"}],
            "assets": {"data": {"href": data_href, "type": "application/json", "roles": ["data"]}},
        }
    )


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def ntriples(counties: list[County]) -> bytes:
    """The counties as RDF N-Triples under urn:kfm: names (5 triples per county)."""
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    state = f"<{_BASE}state:{STATE['fips']}>"
    lines = []
    for c in counties:
        s = f"<{_BASE}county:{c.fips}>"
        lines += [
            f"{s} {rdf_type} <{_BASE}def:County> .",
            f"{s} {label} {_literal(c.label)}@en .",
            f"{s} <{_BASE}def:fips> {_literal(c.fips)} .",
            f"{s} <{_BASE}def:countySeat> {_literal(c.county_seat)} .",
            f"{s} <{_BASE}def:inState> {state} .",
        ]
    return ("\n".join(lines) + "\n").encode()


__all__ = ["County", "clean", "county", "groups", "ntriples", "processed", "stac_item"]
