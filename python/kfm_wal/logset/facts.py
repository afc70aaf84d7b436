"""What the set-level checks need from one stream, gathered in one pass over its sealed records:
its headers' stream ids, each intent's time, links and the time of the seal that covers it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..reader import Record

# A lineage link to an operation of a kfm-wal log (docs/FORMAT.md section 4, lineage_links).
WAL_LINK = "wal:"


@dataclass(frozen=True)
class Place:
    """Where a record is: the location a finding names."""

    segment: str
    offset: int
    seq: int


@dataclass(frozen=True)
class Intent:
    """One sealed intent: its id, time, `wal:` links (the ids), place and the covering seal's time."""

    wal_id: str
    timestamp: str
    links: tuple[str, ...]
    place: Place
    sealed_at: str


@dataclass
class StreamFacts:
    headers: list[tuple[Place, object]] = field(default_factory=list)  # each header's `stream` (None: absent)
    intents: list[Intent] = field(default_factory=list)
    by_id: dict[str, Intent] = field(default_factory=dict)


def gather(records: Iterable[Record]) -> StreamFacts:
    facts = StreamFacts()
    unsealed: list[tuple[str, str, tuple[str, ...], Place]] = []
    for rec in records:
        if rec.kind == "header":
            facts.headers.append((Place(rec.segment, rec.offset, rec.seq), rec.body.get("stream")))
        elif rec.kind == "intent" and rec.wal_id is not None:
            raw = rec.body.get("lineage_links")
            links = tuple(
                link.removeprefix(WAL_LINK)
                for link in (raw if isinstance(raw, list) else ())
                if isinstance(link, str) and link.startswith(WAL_LINK)
            )
            unsealed.append((rec.wal_id, rec.timestamp, links, Place(rec.segment, rec.offset, rec.seq)))
        elif rec.kind == "seal":
            # A reader returns sealed parts only: every intent is followed by the seal covering it.
            for wal_id, ts, links, place in unsealed:
                intent = Intent(wal_id, ts, links, place, rec.timestamp)
                facts.intents.append(intent)
                facts.by_id.setdefault(wal_id, intent)
            unsealed.clear()
    return facts


__all__ = ["WAL_LINK", "Intent", "Place", "StreamFacts", "gather"]
