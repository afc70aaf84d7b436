"""`kfm-wal archive push DIR URL`, and what `validate` and `log` do when given a URL instead of a
directory: archives in object storage (s3://, gs://, az://, file://, memory://), read-only, and
validated on a Dask cluster with `validate URL --dask ADDRESS`. fsspec and Dask are imported only
here, by these commands (the `distributed` extra)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from . import cli_render as render
from . import keys
from .cli_app import LOG_DIR, cli, load_key, require_log
from .cli_errors import INVALID_LOG, CliError, located, shown

if TYPE_CHECKING:
    from .reader import Record


class LogOrUrl(click.ParamType[Path | str, Any]):
    """A log directory (a Path) or an archive's URL (kept as the text given: `Path` would fold
    the `//` of `s3://bucket`)."""

    name = "DIR|URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        if isinstance(value, Path):
            return value
        text = str(value)
        scheme, sep, _ = text.partition("://")
        if sep and scheme.replace("+", "").isalnum():
            return text.rstrip("/")
        if text.endswith(".json") and Path(text).is_file():
            return Path(text)  # a log-set manifest (kfm_wal.logset)
        converted: Path = LOG_DIR.convert(text, param, ctx)
        return converted


LOG_OR_URL = LogOrUrl()


@cli.group()
def archive() -> None:
    """Archives in object storage: s3://, gs://, az://, file:// or memory:// URLs."""


@archive.command("push")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("url")
@click.option("--include-live", is_flag=True, help="Also upload the live segment's sealed prefix.")
def push_cmd(log_dir: Path, url: str, include_live: bool) -> None:
    """Upload the rotated segments of the log in DIR to URL (never one already there with the same
    hash) and the blobs of its store that URL lacks, and write the archive's manifest. Credentials
    and endpoints come from the storage library's usual settings (AWS_* / FSSPEC_S3_* environment
    variables, config files)."""
    require_log(log_dir)
    from .storage import is_url, push

    if not is_url(url):
        raise CliError(f"{url!r} is not a URL (s3://bucket/prefix, file:///path, ...)", "argument URL")
    with located(log=log_dir):
        result = push(log_dir, url, include_live=include_live)
    console = render.console()
    console.print(f"pushed {len(result.uploaded)} segment(s) to {result.url}; {len(result.unchanged)} already there")
    console.print(f"blobs: {len(result.blobs_uploaded)} uploaded, {len(result.blobs_unchanged)} already there")
    for name in result.removed:
        console.print(f"removed {name} from the top: it is archived now", style="dim")


def validate_url(
    url: str,
    *,
    keyring_file: Path | None,
    receipt_file: Path | None,
    receipt_key_file: Path | None,
    as_json: bool,
    max_errors: int,
    fail_fast: bool,
    dask_address: str | None,
    refused: dict[str, bool],
    piece_mb: int | None = None,
) -> int:
    """`kfm-wal validate URL`: the archive at URL verified read-only, on a Dask cluster with
    `dask_address` (segments over `piece_mb` MiB in pieces; 0: whole); with a receipt, only what
    follows its checkpoint. `refused`: options that
    need a local directory, and whether each was given."""
    given = [option for option, on in refused.items() if on]
    if given:
        raise CliError(f"{given[0]} needs a log directory, not a URL", f"option {given[0]}")
    ring = None
    if keyring_file is not None:
        with located(file=keyring_file):
            ring = keys.load_keyring(keyring_file)
    signer = load_key(receipt_key_file) if receipt_key_file else None
    previous = None
    if receipt_file is not None and receipt_file.exists():
        from . import verification_receipts as receipts

        with located(file=receipt_file):
            previous = receipts.load(receipt_file, signer.public_key if signer else None)
    options: dict[str, Any] = {"fail_fast": fail_fast, "receipt": previous, "keep_pending": receipt_file is not None}
    with located():
        if dask_address is None:
            from .storage import verify

            report = verify(url, ring, **options)
        else:
            from . import distributed

            client: Any = distributed.connect(dask_address)
            try:
                if piece_mb is not None:
                    options["piece_bytes"] = piece_mb << 20 if piece_mb else None
                report = distributed.verify(url, client, ring, **options)
            finally:
                client.close()
    if receipt_file is not None and report.ok:
        from .verification_receipts import VerificationReceipt

        VerificationReceipt.from_report(report, signer).save(receipt_file)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(max_errors), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        trust = f"keyring {shown(keyring_file)}" if keyring_file else "self-declared (no --keyring given)"
        console = render.console()
        for part in render.report_summary(report, trust):
            console.print(part)
        if receipt_file is not None and report.ok:
            console.print(f"receipt: {shown(receipt_file)} now vouches for seq {report.head_seq}")
    return 0 if report.ok else INVALID_LOG


def records_at(
    url: str | os.PathLike[str],
    *,
    start_seq: int | None = None,
    end_seq: int | None = None,
    kind: str | None = None,
    operation: str | None = None,
    wal_id: str | None = None,
) -> Iterator[Record]:
    """`kfm-wal log URL`: the archive's sealed records (as `kfm_wal.records` gives a directory's)."""
    from .storage.records import records

    with located():
        yield from records(
            os.fspath(url), start_seq=start_seq, end_seq=end_seq, kind=kind, operation=operation, wal_id=wal_id
        )


__all__ = ["LOG_OR_URL", "archive", "records_at", "validate_url"]
