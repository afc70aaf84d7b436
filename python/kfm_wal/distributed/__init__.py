"""kfm-wal on a Dask cluster: archives in object storage verified with one task per segment (or
per piece of a segment larger than `piece_bytes`), each reading its bytes where the workers are,
the summaries joined on the client into the report a local validation gives. Needs the
`distributed` extra."""

from __future__ import annotations

from ..storage.pieces import DEFAULT_PIECE_BYTES
from .cluster import DEFAULT_TIMEOUT, MAX_PARTITIONS, PAIRING_LOG_BYTES, connect, pairing_partitions, verify

__all__ = [
    "DEFAULT_PIECE_BYTES",
    "DEFAULT_TIMEOUT",
    "MAX_PARTITIONS",
    "PAIRING_LOG_BYTES",
    "connect",
    "pairing_partitions",
    "verify",
]
