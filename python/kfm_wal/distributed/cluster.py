"""Verifying an archive on a Dask cluster: one task per segment, run where the workers are; each
reads its segment from storage itself (the client never holds segment bytes) and returns the
segment's summary. Tasks that fail because a worker died are retried by Dask; a segment that
cannot be read is one RemoteError naming it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import RemoteError, UsageError
from ..extras import needs
from ..storage.store import RemoteSegment
from ..storage.validate import scan_segment
from ..storage.validate import verify as verify_segments

if TYPE_CHECKING:
    from distributed import Client

    from ..findings import VerifyReport
    from ..keys import Keyring

DEFAULT_TIMEOUT = 600.0
CONNECT_TIMEOUT = 10.0


def connect(address: str, timeout: float | None = None) -> Client:
    """A client of the scheduler at `address` (tcp://host:8786); RemoteError when it cannot be
    reached within `timeout` seconds."""
    with needs("kfm-wal validate --dask", "distributed"):
        import distributed

    make: Any = distributed.Client  # untyped
    try:
        timeout = CONNECT_TIMEOUT if timeout is None else timeout
        client: Client = make(address, timeout=timeout, set_as_default=False)
        return client
    except (OSError, TimeoutError) as e:
        raise RemoteError(f"Dask scheduler {address}: cannot be reached ({type(e).__name__}: {e})") from None
    except ValueError as e:
        raise UsageError(f"Dask scheduler {address!r}: {e}") from None


def verify(
    url: str,
    client: Client,
    keyring: Keyring | Sequence[str] | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
    fail_fast: bool = False,
    retries: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
) -> VerifyReport:
    """Verify the archive at `url` on the cluster of `client`: the report a local `verify` of the
    same bytes gives. `timeout`: seconds for all the scans together (RemoteError after)."""

    cluster: Any = client  # distributed's API is untyped

    def on_cluster(segments: list[RemoteSegment], args: dict[str, Any]) -> list[bytes]:
        futures = cluster.map(
            scan_segment,
            [s.url for s in segments],
            [s.name for s in segments],
            [s.archived for s in segments],
            pure=False,
            retries=retries,
            **args,
        )
        try:
            # Each result waited for with what is left of the time: a cluster without workers, or
            # one that lost them all, would keep a plain gather waiting for ever.
            deadline = time.monotonic() + timeout
            summaries = [f.result(timeout=max(0.0, deadline - time.monotonic())) for f in futures]
        except RemoteError:
            raise
        except TimeoutError:
            raise RemoteError(f"{url}: the scans did not finish within {timeout:g} s on the cluster") from None
        except Exception as e:  # noqa: BLE001 - what a task raised, or the cluster's own failure
            first = str(e).splitlines()[0] if str(e) else ""
            raise RemoteError(f"{url}: a scan failed on the cluster: {type(e).__name__}: {first}") from None
        finally:
            cluster.cancel(futures)
        return summaries

    return verify_segments(
        url,
        keyring,
        storage_options=storage_options,
        check_bodies=check_bodies,
        check_signatures=check_signatures,
        fail_fast=fail_fast,
        scan_all=on_cluster,
    )


__all__ = ["DEFAULT_TIMEOUT", "connect", "verify"]
