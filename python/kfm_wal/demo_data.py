"""The demo's transforms: Kansas counties CSV -> cleaned JSON (per dataset and per county) ->
STAC Collection and Items (pystac, validated offline) and RDF triples.

Pure functions with deterministic output, so a rerun on the same input writes the same bytes and
inserts the same triples."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pystac

from .errors import UsageError

STATE = {"name": "Kansas", "abbreviation": "KS", "fips": "20"}
_FIPS = re.compile(r"20\d\d[13579]")  # Kansas county codes are odd, 001-209
_BASE = "urn:kfm:"
STATE_IRI = f"{_BASE}state:{STATE['fips']}"


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
        {**asdict(c), "county_fips": c.fips[2:], "label": c.label, "state": STATE["abbreviation"]} for c in counties
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


COLLECTION_ID = "ks-counties"
# The sample carries no date and no geometry. Its items get a fixed nominal datetime (so a rerun
# writes the same bytes) and no geometry (valid STAC: `geometry: null`, no `bbox`); the collection's
# spatial extent is the bounding box of the State of Kansas.
AS_OF = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
KANSAS_BBOX = [-102.0517, 36.9930, -94.5884, 40.0032]
LICENSE = "other"  # U.S. federal government facts: public domain (no SPDX identifier fits)


def item_id(letter: str) -> str:
    return f"{COLLECTION_ID}-{letter.lower()}"


def stac_collection(counties: list[County], data_href: str) -> pystac.Collection:
    """The STAC Collection of the county groups, as a pystac Collection. Validated (offline, pystac's
    JSON-schema validator) by the ops STAC action that writes it, before anything is logged."""
    extent = pystac.Extent(pystac.SpatialExtent([KANSAS_BBOX]), pystac.TemporalExtent([[AS_OF, None]]))
    col = pystac.Collection(
        COLLECTION_ID,
        f"The {len(counties)} counties of {STATE['name']}, grouped by the first letter of their name "
        "(FIPS codes and county seats, U.S. Census Bureau; public domain).",
        extent,
        title=f"{STATE['name']} counties",
        license=LICENSE,
        keywords=["Kansas", "counties", "FIPS"],
        extra_fields={"kfm:state": STATE, "kfm:counties": len(counties)},
    )
    col.add_asset(
        "data",
        pystac.Asset(
            data_href, title="Cleaned Kansas counties dataset", media_type=pystac.MediaType.JSON, roles=["data"]
        ),
    )
    return col


def stac_items(
    counties: list[County], collection_href: str, data_href: str, county_href: Callable[[County], str]
) -> list[pystac.Item]:
    """One STAC Item per county group (first letter of the name), as pystac Items (validated like
    the collection when written): one asset per county (its processed file), a derived_from link to
    the dataset and a collection link, hrefs relative to where the items are stored."""
    out = []
    for letter, group in groups(counties).items():
        item = pystac.Item(
            item_id(letter),
            geometry=None,
            bbox=None,
            datetime=AS_OF,
            properties={
                "title": f"{STATE['name']} counties {letter}",
                "kfm:state": STATE,
                "kfm:counties": [asdict(c) for c in group],
            },
            collection=COLLECTION_ID,
        )
        item.add_link(pystac.Link("collection", collection_href, media_type=pystac.MediaType.JSON))
        item.add_link(pystac.Link("derived_from", data_href, media_type=pystac.MediaType.JSON))
        for c in group:
            item.add_asset(
                c.fips, pystac.Asset(county_href(c), title=c.label, media_type=pystac.MediaType.JSON, roles=["data"])
            )
        out.append(item)
    return out


def triples(counties: list[County]) -> list[str]:
    """The counties as RDF triples (N-Triples) under urn:kfm: names, 5 per county."""
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    state = f"<{STATE_IRI}>"
    out = []
    for c in counties:
        s = f"<{county_iri(c.fips)}>"
        out += [
            f"{s} {rdf_type} <{_BASE}def:County> .",
            f"{s} {label} {_literal(c.label)}@en .",
            f"{s} <{_BASE}def:fips> {_literal(c.fips)} .",
            f"{s} <{_BASE}def:countySeat> {_literal(c.county_seat)} .",
            f"{s} <{_BASE}def:inState> {state} .",
        ]
    return out


def county_iri(fips: str) -> str:
    return f"{_BASE}county:{fips}"


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


__all__ = [
    "AS_OF",
    "COLLECTION_ID",
    "KANSAS_BBOX",
    "STATE_IRI",
    "County",
    "clean",
    "county",
    "county_iri",
    "groups",
    "item_id",
    "processed",
    "stac_collection",
    "stac_items",
    "triples",
]
