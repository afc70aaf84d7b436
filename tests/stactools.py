"""STAC objects the ops and replay tests build: an Item and the Collection it belongs to."""

from __future__ import annotations

import datetime as dt

import pystac


def item(iid: str, cid: str = "counties", name: str = "x") -> pystac.Item:
    return pystac.Item(
        iid,
        {"type": "Point", "coordinates": [-98.0, 38.5]},
        [-98.0, 38.5, -98.0, 38.5],
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        {"name": name},
        collection=cid,
    )


def collection(cid: str = "counties") -> pystac.Collection:
    extent = pystac.Extent(
        pystac.SpatialExtent([[-102.0, 37.0, -94.6, 40.0]]),
        pystac.TemporalExtent([[dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None]]),
    )
    return pystac.Collection(cid, "Kansas counties", extent, license="CC-BY-4.0")
