"""`kfm-wal snapshot create|list|show`: named snapshots of the roots' digests, recorded in the log
(kfm_wal.snapshots)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from . import provision
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_errors import located, shown
from .cli_write import _actor
from .wal import Wal


@cli.group("snapshot")
def snapshot_group() -> None:
    """Snapshots: the digests of the data root, STAC catalog and graph store, recorded in the log."""


def _json(doc: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")


def _roots_lines(snap: Any) -> list[str]:
    return [f"  {r.root.role:<5} {r.digest}  {r.entries:>6} entries  {shown(r.root.path)}" for r in snap.roots]


@snapshot_group.command("create")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("name")
@click.option("--actor", "actor_text", default="system:kfm-wal-snapshot", show_default=True, help="TYPE:ID")
@click.option("--root", "data_roots", type=LOG_DIR, multiple=True, help="Also cover this data root (repeatable).")
@click.option("--stac-root", "stac_roots", type=LOG_DIR, multiple=True, help="Also cover this STAC catalog.")
@click.option("--graph", "graphs", type=LOG_DIR, multiple=True, help="Also cover this graph store.")
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as JSON.")
def snapshot_create(
    log_dir: Path,
    name: str,
    actor_text: str,
    data_roots: tuple[Path, ...],
    stac_roots: tuple[Path, ...],
    graphs: tuple[Path, ...],
    key_file: Path | None,
    as_json: bool,
) -> None:
    """Record the snapshot NAME: the roots' digests now (the roots the log writes to, and
    processed/, stac/, graph/ next to DIR). Refused when NAME is taken or a root differs from what
    the log says it holds (a write around the log)."""
    from . import snapshots
    from .snapshots.roots import absolute

    actor = _actor(actor_text)
    extra = [
        snapshots.Root(role, absolute(p))
        for role, given in (("data", data_roots), ("stac", stac_roots), ("graph", graphs))
        for p in given
    ]
    require_log(log_dir)
    key = load_key(key_file or provision.default_key_path(log_dir))
    with located(log=log_dir), Wal.open(log_dir, key) as wal:
        snap = snapshots.create(wal, name, actor=actor, roots=extra)
    if as_json:
        _json(snap.as_dict())
        return
    click.echo(f"snapshot {snap.name} taken at seq {snap.at_seq} (records seq {snap.seq}-{snap.completed_seq})")
    for line in _roots_lines(snap):
        click.echo(line)


@snapshot_group.command("list")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per snapshot, one per line.")
def snapshot_list(log_dir: Path, as_json: bool) -> None:
    """List the snapshots of the log in DIR, in the order taken."""
    from . import snapshots

    require_log(log_dir)
    with located(log=log_dir):
        found = snapshots.snapshots(log_dir)
    if as_json:
        for snap in found:
            sys.stdout.buffer.write(orjson.dumps(snap.as_dict()) + b"\n")
        return
    for snap in found:
        click.echo(f"{snap.name:<24} seq {snap.at_seq:<8} {snap.timestamp}  {snap.state_hash}")
    click.echo(f"{len(found)} snapshot(s)", err=True)


@snapshot_group.command("show")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as JSON.")
def snapshot_show(log_dir: Path, name: str, as_json: bool) -> None:
    """Show the snapshot NAME: where in the log, who took it, each root's digest."""
    from . import snapshots

    require_log(log_dir)
    with located(log=log_dir):
        snap = snapshots.find(log_dir, name)
    if as_json:
        _json(snap.as_dict())
        return
    click.echo(f"snapshot {snap.name}")
    click.echo(f"  at seq {snap.at_seq}, head {snap.at_hash}")
    click.echo(f"  recorded seq {snap.seq} (wal_id {snap.wal_id}), completed seq {snap.completed_seq}")
    click.echo(f"  taken {snap.timestamp} by {snap.actor.get('type')}:{snap.actor.get('id')}")
    click.echo(f"  state {snap.state_hash}")
    for line in _roots_lines(snap):
        click.echo(line)


__all__ = ["snapshot_create", "snapshot_group", "snapshot_list", "snapshot_show"]
