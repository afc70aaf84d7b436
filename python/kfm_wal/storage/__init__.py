"""Archives in object storage: a log's segments on any fsspec filesystem (s3://, gs://, az://,
file://, memory://), pushed there (`push`), listed and read (`ArchiveStore`), and verified
segment by segment (`verify`; on a Dask cluster: kfm_wal.distributed). Needs the `distributed`
extra (fsspec; s3fs for s3://)."""

from __future__ import annotations

from .push import PushResult, push
from .store import ArchiveStore, RemoteSegment, is_url
from .validate import verify

__all__ = ["ArchiveStore", "PushResult", "RemoteSegment", "is_url", "push", "verify"]
