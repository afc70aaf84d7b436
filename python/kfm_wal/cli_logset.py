"""`kfm-wal validate SET.json`: a log set verified stream by stream, then the links between its
streams (kfm_wal.logset); exit 0 valid, 1 invalid, 2 when the manifest cannot be used."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from . import cli_render as render
from . import keys
from .cli_errors import INVALID_LOG, CliError, located, shown


def validate_set(manifest: Path, *, keyring_file: Path | None, as_json: bool, refused: dict[str, bool]) -> int:
    """`refused`: the options that work on one log only, and whether each was given."""
    given = [option for option, on in refused.items() if on]
    if given:
        raise CliError(f"{given[0]} works on one log, not on a log set", f"option {given[0]}")
    from . import logset

    ring = None
    if keyring_file is not None:
        with located(file=keyring_file):
            ring = keys.load_keyring(keyring_file)
    with located(file=manifest):
        report = logset.verify(manifest, ring)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        return 0 if report.ok else INVALID_LOG
    out = render.console()
    out.print(f"log set {shown(manifest)}: {len(report.streams)} stream(s)")
    for stream, r in report.reports.items():
        where = report.streams[stream]
        if r is None:
            out.print(f"  {stream:<16} {where}: MISSING")
        else:
            verdict = "VALID" if r.ok else f"INVALID ({len(r.findings)} finding(s))"
            out.print(f"  {stream:<16} {where}: {r.records} records, head seq {r.head_seq}, {verdict}")
    for f in report.findings:
        wal = f" wal_id {f.wal_id}" if f.wal_id else ""
        out.print(f"{f.code}  {f.location()}{wal}: {f.message}", markup=False, highlight=False)
    out.print("result        " + ("VALID" if report.ok else "INVALID"))
    return 0 if report.ok else INVALID_LOG


__all__ = ["validate_set"]
