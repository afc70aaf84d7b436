"""`kfm-wal approve`, `ledger`, `lineage`, `repair` and `demo`: governance (approvals and the
governance ledger), lineage export, recovery of a damaged log and the demo pipeline. Their
operation layers are imported by the commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from . import cli_render as render
from . import provision
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_errors import INVALID_LOG, CliError, located, shown
from .reader import records
from .report import verify
from .wal import Wal, salvage

# -- governance and lineage --------------------------------------------------------------------


@cli.command()
@click.argument("request_file", metavar="REQUEST_FILE", type=FILE)
@click.option("--key", "key_file", type=FILE, required=True, help="The approver's key (PEM).")
@click.option("--role", required=True, help="The role approved under (the keyring must give it to the key).")
@click.option("--out", "out_file", type=FILE, help="Write the approval here instead of stdout.")
def approve(request_file: Path, key_file: Path, role: str, out_file: Path | None) -> None:
    """Sign an operation's approval request (JSON from `kfm-wal request SPEC.json`, `undo --request`
    or `retry --request`): prints the approval {key_id, role, signature}, which the operation is
    given with --approvals (or in its spec's "approvals")."""
    from . import governance

    with located(file=request_file):
        try:
            request = orjson.loads(request_file.read_bytes())
        except orjson.JSONDecodeError as e:
            raise CliError(f"not JSON: {e}", f"file {shown(request_file)}") from None
    key = load_key(key_file)
    approval = governance.approve(request, key, role)
    click.echo(
        f"approving {request.get('operation')} (tier {request.get('tier')}) "
        f"request {governance.request_digest(request)} as {role}",
        err=True,
    )
    data = orjson.dumps(approval, option=orjson.OPT_INDENT_2) + b"\n"
    if out_file is not None:
        out_file.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


@cli.command()
@click.argument("ledger_dir", metavar="[DIR]", type=LOG_DIR, default=Path("data/governance/ledger"))
@click.option("--json", "as_json", is_flag=True, help="Print each decision's facts as a JSON line.")
def ledger(ledger_dir: Path, as_json: bool) -> None:
    """Show the governance ledger in DIR (default data/governance/ledger): one row per governed
    operation or refusal, with its tier, CARE label, decision, approvals and reasons."""
    from .governance import ledger as governance_ledger

    if not ledger_dir.exists():
        raise CliError(
            f"no governance ledger at {shown(ledger_dir)}: the first governed operation (tier >= 1, or a "
            "hotfix) creates it next to its log, in <parent of the log>/governance/ledger",
            f"log {shown(ledger_dir)}",
        )
    require_log(ledger_dir)
    with located(log=ledger_dir):
        entries = list(governance_ledger.read(ledger_dir))
        if not entries:
            _not_an_operations_log(ledger_dir)
        if as_json:
            out = sys.stdout.buffer
            for seq, stamp, facts in entries:
                out.write(orjson.dumps({"seq": seq, "timestamp": stamp, **facts}) + b"\n")
            out.flush()
            return
        table, n = render.ledger_table(entries)
    console = render.console()
    console.print(table)
    console.print(f"{n} decision(s)", style="dim")


def _not_an_operations_log(log_dir: Path) -> None:
    """An empty ledger is shown as such; the operations log given for its ledger is an error."""
    from .governance.gate import ledger_path_for
    from .governance.ledger import LEDGER_OPERATION

    if any(r.body.get("operation") != LEDGER_OPERATION for r in records(log_dir, kind="intent")):
        raise CliError(
            f"{shown(log_dir)} is an operations log, not a governance ledger; its ledger is "
            f"{shown(ledger_path_for(log_dir))}",
            f"log {shown(log_dir)}",
        )


@cli.group("lineage")
def lineage_group() -> None:
    """Lineage of the operations in a log: OpenLineage run events, W3C PROV."""


@lineage_group.command("export")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["openlineage", "prov-json", "prov-n"]),
    default="openlineage",
    show_default=True,
)
@click.option("--from-seq", type=click.IntRange(min=1))
@click.option("--to-seq", type=click.IntRange(min=1))
def lineage_export(log_dir: Path, fmt: str, from_seq: int | None, to_seq: int | None) -> None:
    """Print the lineage of the log in DIR (or a seq range of it)."""
    from . import lineage

    require_log(log_dir)
    with located(log=log_dir):
        text = lineage.export(log_dir, fmt, from_seq, to_seq)
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


@lineage_group.command("emit")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--out", "out_dir", type=LOG_DIR, help="Lineage directory. Default: <parent of DIR>/lineage.")
@click.option(
    "--format",
    "formats",
    type=click.Choice(["openlineage", "prov-json", "prov-n"]),
    multiple=True,
    help="Files to derive (repeatable): events.jsonl, prov.json, prov.provn. Default: those the "
    "directory lists already, else openlineage.",
)
def lineage_emit(log_dir: Path, out_dir: Path | None, formats: tuple[str, ...]) -> None:
    """Derive the log's lineage files (rewritten only when they changed) and their manifest
    lineage.json, which names the records each derives from; `validate --operations` checks them."""
    from .lineage import derived

    require_log(log_dir)
    where = out_dir if out_dir is not None else derived.default_dir(log_dir)
    with located(log=log_dir):
        manifest = derived.emit(log_dir, where, formats or None)
    for name, listed in sorted(manifest.files.items()):
        click.echo(f"{where / name}\tseq {listed.from_seq}-{listed.to_seq}\t{listed.head_hash}")


# -- repair / tail ---------------------------------------------------------------------------


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--apply", "apply_", is_flag=True, help="Do it. Without this flag, only say what would be done.")
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@click.option("--salvage-to", type=LOG_DIR, help="Where a salvaged copy goes. Default: DIR.salvaged next to DIR.")
def repair(log_dir: Path, apply_: bool, key_file: Path | None, salvage_to: Path | None) -> int:
    """Repair the log in DIR: cut a torn or unsealed tail (keeping a copy in DIR/recovered/), or,
    when sealed history is damaged, salvage every verifiable record before the damage into a new
    log. Nothing is ever deleted: the cut bytes are kept and a damaged log is left as it is.
    Exit 0 when the log is (or now has a) valid log, 1 when damage is left unrepaired."""
    require_log(log_dir)
    with located(log=log_dir):
        report = verify(log_dir)
    out = render.console()
    if report.ok:
        out.print(f"{shown(log_dir)} is valid: nothing to repair")
        return 0
    damage = [f for f in report.findings if not f.recoverable]
    target = salvage_to or log_dir.with_name(log_dir.name + ".salvaged")
    if not damage:
        tail = report.findings[0]
        out.print(f"{tail.code} at {tail.location()}: {tail.message}")
        out.print(f"would cut it, keeping the cut bytes in {shown(log_dir / 'recovered')}")
        if not apply_:
            out.print("dry run: nothing changed (use --apply)")
            return INVALID_LOG
        key = load_key(key_file or provision.default_key_path(log_dir))
        with located(log=log_dir), Wal.open(log_dir, key) as wal:
            for note in wal.recovery:
                out.print(
                    f"done: {note['action']} in {note['segment']} at offset {note['offset']}"
                    + (f", copy in {note['saved_to']}" if note["saved_to"] else "")
                )
        return 0
    first = damage[0]
    out.print(f"sealed history is damaged: {first.code} at {first.location()}: {first.message}")
    out.print(f"  ({len(damage)} finding(s) of damage; a damaged log is never changed in place)")
    out.print(f"would salvage every verifiable record before it into {shown(target)}")
    if not apply_:
        out.print("dry run: nothing changed (use --apply)")
        return INVALID_LOG
    with located(log=log_dir):
        result = salvage(log_dir, target)
    out.print(
        f"done: {result['segments']} segment(s), {result['bytes']} bytes, records through seq "
        f"{result['last_seq']} copied to {shown(target)}; {shown(log_dir)} is unchanged"
    )
    return 0


# -- demo ------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--data",
    "data_dir",
    type=LOG_DIR,
    default=Path("data"),
    show_default=True,
    help="Data directory: samples/ in, wal/ keys/ processed/ stac/ graph/ out.",
)
def demo(data_dir: Path) -> int:
    """Run the demo pipeline (Kansas counties: ETL, STAC items, graph) logged through the WAL."""
    from . import demo as demo_job

    # A bad sample names its file; anything else is about the log.
    sample = (data_dir / "samples" / demo_job.SAMPLE).absolute()
    with located(log=data_dir / "wal", file=sample):
        summary = demo_job.run(data_dir, echo=click.echo)
    return 0 if summary["valid"] and summary["replay"]["ok"] else INVALID_LOG
