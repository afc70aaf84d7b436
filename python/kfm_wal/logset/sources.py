"""One stream of a log set, wherever it is: a local log directory or an archive at a URL. Verify
it and read its sealed records the way `kfm-wal validate` and `kfm_wal.records` do for each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import NotALogError, RemoteError
from ..findings import VerifyReport
from ..keys import Keyring
from ..reader import Record, is_log
from ..reader import records as local_records
from ..report import verify as verify_local
from ..storage.store import is_url


def verify_stream(location: str, keyring: Keyring | Sequence[str] | None) -> VerifyReport | None:
    """The stream's report; None when there is no log there (no segment at all)."""
    if is_url(location):
        from ..storage import verify as verify_url

        try:
            return verify_url(location, keyring)
        except NotALogError:
            return None
        except RemoteError as e:
            if e.missing:
                return None
            raise
    if not Path(location).is_dir() or not is_log(location):
        return None
    return verify_local(location, keyring)


def has_log(location: str) -> bool:
    """Whether a log (local) or an archive (URL) is at `location`."""
    if is_url(location):
        from ..storage import ArchiveStore

        try:
            return bool(ArchiveStore(location).segments())
        except NotALogError:
            return False
        except RemoteError as e:
            if e.missing:
                return False
            raise
    return Path(location).is_dir() and is_log(location)


def stream_records(location: str) -> Iterator[Record]:
    """The stream's sealed records in seq order (a reader's refusal of damage propagates)."""
    if is_url(location):
        from ..storage.records import records as url_records

        return url_records(location)
    return local_records(location)


__all__ = ["has_log", "stream_records", "verify_stream"]
