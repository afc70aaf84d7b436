"""kfm-wal on a Dask cluster: archives in object storage verified with one task per segment,
each reading its segment where the workers are, the summaries joined on the client into the
report a local validation gives. Needs the `distributed` extra."""

from __future__ import annotations

from .cluster import DEFAULT_TIMEOUT, MAX_PARTITIONS, connect, verify

__all__ = ["DEFAULT_TIMEOUT", "MAX_PARTITIONS", "connect", "verify"]
