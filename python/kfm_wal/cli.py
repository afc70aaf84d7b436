"""`kfm-wal`: create, append to, read and verify kfm-wal logs from the shell.

Every failure ends as one line on stderr and exit code 2 (cli_errors.py); `validate` exits 1 when
the log is invalid. Output for people goes through rich (cli_render.py); --json output is exact.

Start-up is kept short (`--help` and `validate` of a small log in well under 100 ms): this module
imports only click and the light core of kfm_wal. rich is loaded when rich output is rendered,
cryptography when a key is loaded or a receipt signed, jsonschema when a refused entry is
explained, and the operation layers (ops, governance, audit, lineage, demo) by their commands.
tests/test_startup.py holds it to that. A command whose operation layer needs an extra that is not
installed says which (kfm_wal.extras)."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click
import orjson

from . import cli_render as render
from . import keys, provision, schema
from .cli_errors import INTERRUPTED, INVALID_LOG, CliError, describe, located, shown
from .cli_input import Entries, parse
from .extras import needs
from .reader import follow as follow_log
from .reader import is_log, records
from .report import verify
from .wal import DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_SEGMENT_BYTES, Status, Wal, salvage

if TYPE_CHECKING:
    from .verify_rules import Rule

LOG_DIR = click.Path(path_type=Path, file_okay=False)
FILE = click.Path(path_type=Path, dir_okay=False)
BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer
KINDS = ("header", "intent", "completion", "seal", "key")


class _ReaderGone(Exception):
    """stdout's reader closed the pipe (`kfm-wal log --json | head`)."""


class _Command(click.Command):
    """A command: an operation layer it imports without its extra is named in the error, with
    the extra to install (`kfm-wal lineage export needs the 'lineage' extra: ...`)."""

    def invoke(self, ctx: click.Context) -> Any:
        with needs(ctx.command_path):
            return super().invoke(ctx)


class _Group(click.Group):
    command_class = _Command


_Group.group_class = _Group


class _Cli(_Group):
    """The root group; its `main` is where every error becomes one line (also under CliRunner)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # Raised past click, which would exit 1: the code `validate` uses for an invalid log.
            raise _ReaderGone() from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        line, code = None, 0
        try:
            rv = super().main(args, prog_name or "kfm-wal", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help())
        except _ReaderGone:
            _silence_stdout()  # nothing to tell anyone, and the final flush must not fail again
            code = BROKEN_PIPE
        except (click.exceptions.Abort, KeyboardInterrupt):
            line, code = CliError("interrupted").line(), INTERRUPTED
        except Exception as e:  # noqa: BLE001 - the promise is: never a traceback
            err = describe(e)
            line, code = err.line(), err.exit_code
        # Printed after the except blocks end, so that no exception (nor the frames of the failed
        # command it references) outlives its handling.
        if line:
            click.echo(line, err=True)
        if standalone_mode:
            sys.exit(code)
        return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter flushes it once more at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


@click.group("kfm-wal", cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """kfm-wal: a signed, hash-chained, append-only write-ahead log for data pipelines."""


def _load_key(path: Path) -> keys.SigningKey:
    with located(file=path):
        if not path.exists():
            raise CliError("key file not found; create one with 'kfm-wal init' or pass --key", f"file {shown(path)}")
        return keys.load(path)


# -- init ------------------------------------------------------------------------------------


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--key", "key_file", type=FILE, help="Existing writer key (PEM). Default: generate one.")
@click.option(
    "--max-segment-bytes",
    type=click.IntRange(min=4096),
    default=DEFAULT_MAX_SEGMENT_BYTES,
    show_default=True,
    help="Rotate segments at this size (records are limited to min(1 MiB, this)).",
)
@click.option("--durability", type=click.Choice(["fsync", "os", "none"]), default="fsync", show_default=True)
def init(log_dir: Path, key_file: Path | None, max_segment_bytes: int, durability: str) -> None:
    """Create a new log in DIR.

    Without --key a writer key is generated and saved to <parent of DIR>/keys/writer.pem (mode 0600),
    and its public key is added to <parent of DIR>/keys/keyring.json with role "writer"."""
    options: dict[str, Any] = {
        "max_segment_bytes": max_segment_bytes,
        "max_record_bytes": min(DEFAULT_MAX_RECORD_BYTES, max_segment_bytes),
        "durability": durability,
    }
    out = render.console()
    if _holds_log(log_dir):
        raise CliError(f"{shown(log_dir)} already holds a kfm-wal log", f"log {shown(log_dir)}")
    if key_file is not None:
        key = _load_key(key_file)
        with located(log=log_dir):
            wal = Wal.create(log_dir, key, **options)
        key_note, ring_note = f"{shown(key_file)} (given)", "not changed (--key given)"
    else:
        key_path, ring_path = provision.default_key_path(log_dir), provision.default_keyring_path(log_dir)
        if key_path.exists():
            raise CliError(
                "a key file already exists; refusing to overwrite it (pass --key to use it)",
                f"file {shown(key_path)}",
            )
        with located(log=log_dir, file=ring_path):
            wal, key = provision.create_with_new_key(log_dir, key_path, ring_path, key_name="writer", **options)
        key_note, ring_note = (
            f"{shown(key_path)} (new, mode 0600)",
            f"{shown(ring_path)} (writer key trusted)",
        )
    log_id = wal.log_id
    wal.close()
    out.print(f"created log {shown(log_dir)}")
    out.print(f"  log id   {log_id}")
    out.print(f"  key id   {key.key_id}")
    out.print(f"  key      {key_note}")
    out.print(f"  keyring  {ring_note}")


def _holds_log(log_dir: Path) -> bool:
    """Checked first so that the user hears about the log, not about the key file next to it."""
    return is_log(log_dir)


def _require_log(log_dir: Path) -> None:
    """Checked before the key so that a mistyped DIR is reported as such, not as a missing key."""
    if not _holds_log(log_dir):
        raise CliError(
            f"{shown(log_dir)} is not a kfm-wal log (no segment files in it or in archive/)",
            f"log {shown(log_dir)}",
        )


# -- keys ------------------------------------------------------------------------------------


@cli.group("keys")
def keys_group() -> None:
    """Generate writer keys and list trusted or declared keys."""


@keys_group.command("generate")
@click.option("--out", "out_file", type=FILE, required=True, help="Where to save the private key (mode 0600).")
def keys_generate(out_file: Path) -> None:
    """Generate an Ed25519 writer key."""
    key = keys.generate()
    with located(file=out_file):
        keys.save(key, out_file)
    click.echo(f"key_id      {key.key_id}")
    click.echo(f"public_key  {key.public_key}")
    click.echo(f"saved to    {shown(out_file)} (mode 0600)")


@keys_group.command("list")
@click.option("--keyring", "keyring_file", type=FILE, help="A keyring file to list.")
@click.argument("log_dir", metavar="[DIR]", type=LOG_DIR, required=False)
def keys_list(keyring_file: Path | None, log_dir: Path | None) -> None:
    """List the keys of a keyring file, or the key ids the log in DIR declares (or both)."""
    if keyring_file is None and log_dir is None:
        raise click.UsageError("give a log directory, --keyring FILE, or both")
    out = render.console()
    ring = None
    if keyring_file is not None:
        with located(file=keyring_file):
            ring = keys.load_keyring(keyring_file)
        out.print(render.keyring_table(ring, shown(keyring_file)))
    if log_dir is not None:
        with located(log=log_dir):
            report = verify(log_dir)
        out.print(render.log_keys_table(report, ring))
        if not report.ok:
            n = len(report.findings)
            out.print(f"note: the log has {n} finding(s); run 'kfm-wal validate {shown(log_dir)}'")


# -- append / complete -----------------------------------------------------------------------


def _read_entries(source: str) -> Entries:
    if source == "-":
        data, name = sys.stdin.buffer.read(), "stdin"
    else:
        with located(file=Path(source)):
            data, name = Path(source).read_bytes(), f"file {shown(source)}"
    entries = parse(data, name)
    # Checked in full before the log is opened, so bad input writes nothing.
    for i, item in enumerate(entries.items):
        refused = schema.check(item)
        if refused:
            field, message = refused
            raise CliError(message, entries.where(i, field or None))
    return entries


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("source", metavar="[FILE|-]", default="-")
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
@click.option("--json", "as_json", is_flag=True, help="Print receipts as JSON lines.")
def append(log_dir: Path, source: str, key_file: Path | None, as_json: bool) -> None:
    """Record intents from FILE (or stdin): a JSON object, an array of objects, or JSONL.

    All entries are appended as one group commit: all of them or none."""
    entries = _read_entries(source)
    _require_log(log_dir)
    key = _load_key(key_file or provision.default_key_path(log_dir))
    with located(log=log_dir, entries=entries), Wal.open(log_dir, key) as wal:
        _note_recovery(wal)
        receipts = wal.append_many(entries.items)
    for r in receipts:
        if as_json:
            sys.stdout.buffer.write(render.receipt_json(r))
        else:
            click.echo(render.receipt_line(r))


def _note_recovery(wal: Wal) -> None:
    """Opening repairs a torn or unsealed tail; say so, since it cut bytes off the log."""
    for step in wal.recovery:
        saved = step.get("saved_to")
        click.echo(
            f"kfm-wal: note: {step.get('action')} at {step.get('segment')} offset {step.get('offset')}"
            + (f", {step.get('bytes')} bytes saved to {saved}" if saved else ""),
            err=True,
        )


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.argument("wal_id")
@click.option(
    "--status",
    type=click.Choice(["succeeded", "failed", "refused", "reversed"]),
    default="succeeded",
    show_default=True,
)
@click.option("--error", "error_text", help="What went wrong (for failed/refused).")
@click.option("--post-state-hash", help="sha256:<hex> of the state the operation produced.")
@click.option("--key", "key_file", type=FILE, help="Writer key. Default: <parent of DIR>/keys/writer.pem.")
def complete(
    log_dir: Path,
    wal_id: str,
    status: str,
    error_text: str | None,
    post_state_hash: str | None,
    key_file: Path | None,
) -> None:
    """Record the outcome of the intent WAL_ID."""
    _require_log(log_dir)
    key = _load_key(key_file or provision.default_key_path(log_dir))
    with located(log=log_dir), Wal.open(log_dir, key) as wal:
        _note_recovery(wal)
        receipt = wal.complete(wal_id, cast(Status, status), error=error_text, post_state_hash=post_state_hash)
    click.echo(render.receipt_line(receipt))


# -- log / validate --------------------------------------------------------------------------


@cli.command("log")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--json", "as_json", is_flag=True, help="Print the exact record lines (JSONL).")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--operation", help="Only intents of this operation.")
@click.option("--wal-id", help="Only the intent and completion of this wal_id.")
@click.option("--from-seq", type=click.IntRange(min=1))
@click.option("--to-seq", type=click.IntRange(min=1))
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N records (the first N from --from-seq).")
def log_cmd(
    log_dir: Path,
    as_json: bool,
    kind: str | None,
    operation: str | None,
    wal_id: str | None,
    from_seq: int | None,
    to_seq: int | None,
    limit: int | None,
) -> None:
    """Show the sealed records of the log in DIR."""
    _require_log(log_dir)
    if from_seq is not None and to_seq is not None and from_seq > to_seq:
        raise click.BadParameter(f"--from-seq {from_seq} is after --to-seq {to_seq}", param_hint="'--from-seq'")
    with located(log=log_dir):
        found = records(log_dir, start_seq=from_seq, end_seq=to_seq, kind=kind, operation=operation, wal_id=wal_id)
        chosen = islice(found, limit)
        if as_json:
            out = sys.stdout.buffer
            for rec in chosen:
                out.write(rec.line)
            out.flush()
            return
        table, n = render.log_table(chosen)
    console = render.console()
    console.print(table)
    console.print(f"{n} record(s)", style="dim")


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--keyring", "keyring_file", type=FILE, help="Trust only these keys (default: the log's own).")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option(
    "--receipt",
    "receipt_file",
    type=FILE,
    help="Verification receipt: if it exists, check the log still holds the history it vouches for and "
    "verify only what is new; after a valid run, write the new receipt there.",
)
@click.option(
    "--receipt-key",
    "receipt_key_file",
    type=FILE,
    help="Sign the receipt with this key (PEM); a receipt read back must then be signed by it.",
)
@click.option(
    "--quarantine",
    "quarantine_",
    is_flag=True,
    help="Copy corrupted segments and the bytes at fault into DIR/quarantine/ (the log is not changed).",
)
@click.option(
    "--max-errors",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Findings listed in the JSON report (counts always cover all).",
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first finding.")
@click.option(
    "--operations",
    "op_rules",
    is_flag=True,
    help="Also run the operation-level rules: reversal steps present, executed action = intended "
    "action, CARE metadata, irreversible operations declared at the policy's tier (implied by "
    "--policy and --tree).",
)
@click.option(
    "--policy",
    "policy_file",
    type=FILE,
    help="Governance policy (TOML): approvals valid for each tier (needs --keyring with roles).",
)
@click.option(
    "--tree",
    "tree_root",
    type=LOG_DIR,
    help="Data root: every file there must have the state the log says, none may be unlogged.",
)
def validate(
    log_dir: Path,
    keyring_file: Path | None,
    as_json: bool,
    receipt_file: Path | None,
    receipt_key_file: Path | None,
    quarantine_: bool,
    max_errors: int,
    fail_fast: bool,
    op_rules: bool,
    policy_file: Path | None,
    tree_root: Path | None,
) -> int:
    """Verify every byte of the log in DIR. Exit 0 if valid, 1 if not, 2 on usage errors."""
    ring = None
    if keyring_file is not None:
        with located(file=keyring_file):
            ring = keys.load_keyring(keyring_file)
    rules = _operation_rules(op_rules, policy_file, ring, tree_root)
    signer = _load_key(receipt_key_file) if receipt_key_file else None
    previous = None
    if receipt_file is not None and receipt_file.exists():
        from . import verification_receipts as receipts  # and with it cryptography: only with --receipt

        with located(file=receipt_file):
            previous = receipts.load(receipt_file, signer.public_key if signer else None)
    _require_log(log_dir)
    with located(log=log_dir), render.progress(enabled=not as_json) as advance:
        report = verify(
            log_dir,
            ring,
            receipt=previous,
            fail_fast=fail_fast,
            progress=advance,
            keep_pending=receipt_file is not None,
            rules=rules,
        )
    written: list[Path] = []
    if quarantine_ and not report.ok:
        from .quarantine import quarantine

        written = quarantine(log_dir, report)
    if receipt_file is not None and report.ok:
        from .verification_receipts import VerificationReceipt

        VerificationReceipt.from_report(report, signer).save(receipt_file)
    if as_json:
        doc = report.to_dict(max_errors)
        doc["quarantined"] = [str(p) for p in written]
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        trust = f"keyring {shown(keyring_file)}" if keyring_file else "self-declared (no --keyring given)"
        console = render.console()
        for part in render.report_summary(report, trust):
            console.print(part)
        if written:
            console.print(f"quarantined: {len(written)} file(s) in {shown(written[0].parent)}")
        if receipt_file is not None and report.ok:
            console.print(f"receipt: {shown(receipt_file)} now vouches for seq {report.head_seq}")
    return 0 if report.ok else INVALID_LOG


def _operation_rules(
    wanted: bool, policy_file: Path | None, ring: keys.Keyring | None, tree_root: Path | None
) -> list[Rule]:
    if not (wanted or policy_file or tree_root):
        return []
    from . import audit, governance
    from .ops import ExecutedMatchesIntent
    from .verify_rules import ReversalStepsPresent

    policy = governance.default_policy()
    if policy_file is not None:
        with located(file=policy_file):
            policy = governance.load_policy(policy_file)
    rules: list[Rule] = [
        ReversalStepsPresent(),
        ExecutedMatchesIntent(),
        governance.CareMetadataValid(policy),
        governance.IrreversibleDeclared(policy),
    ]
    if policy_file is not None:
        if ring is None:
            raise CliError("--policy checks approvals against trusted keys: give --keyring too", "option --policy")
        rules.append(governance.ApprovalsValid(policy, ring))
    if tree_root is not None:
        rules.append(audit.TreeMatchesLog(tree_root))
    return rules


# -- governance and lineage --------------------------------------------------------------------


@cli.command()
@click.argument("request_file", metavar="REQUEST_FILE", type=FILE)
@click.option("--key", "key_file", type=FILE, required=True, help="The approver's key (PEM).")
@click.option("--role", required=True, help="The role approved under (the keyring must give it to the key).")
@click.option("--out", "out_file", type=FILE, help="Write the approval here instead of stdout.")
def approve(request_file: Path, key_file: Path, role: str, out_file: Path | None) -> None:
    """Sign an operation request (JSON, from kfm_wal.governance.build_request): prints the approval
    {key_id, role, signature} to attach to the operation's governance.approvals."""
    from . import governance

    with located(file=request_file):
        try:
            request = orjson.loads(request_file.read_bytes())
        except orjson.JSONDecodeError as e:
            raise CliError(f"not JSON: {e}", f"file {shown(request_file)}") from None
    key = _load_key(key_file)
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

    _require_log(log_dir)
    with located(log=log_dir):
        text = lineage.export(log_dir, fmt, from_seq, to_seq)
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


@lineage_group.command("emit")
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option("--out", "out_dir", type=LOG_DIR, help="Directory for events.jsonl. Default: <parent of DIR>/lineage.")
def lineage_emit(log_dir: Path, out_dir: Path | None) -> None:
    """Write the log's OpenLineage events to events.jsonl (rewritten only when they changed)."""
    from . import lineage

    _require_log(log_dir)
    with located(log=log_dir):
        path = lineage.emit(log_dir, out_dir)
    click.echo(str(path))


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
    _require_log(log_dir)
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
        key = _load_key(key_file or provision.default_key_path(log_dir))
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


@cli.command()
@click.argument("log_dir", metavar="DIR", type=LOG_DIR)
@click.option(
    "-n",
    "--lines",
    "count",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the last records to show first.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new sealed records as they land.")
@click.option("--json", "as_json", is_flag=True, help="Print the exact record lines (JSONL).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=0.2,
    show_default=True,
    help="Polling interval in seconds, with --follow.",
)
def tail(log_dir: Path, count: int, follow: bool, as_json: bool, interval: float) -> None:
    """Show the last sealed records of the log in DIR; with -f, follow it across rotations."""
    _require_log(log_dir)
    with located(log=log_dir):
        head = verify(log_dir, check_bodies=False).head_seq or 0
        start = max(1, head - count + 1)
        shown_records = records(log_dir, start_seq=start) if count else iter(())
        stream = follow_log(log_dir, start_seq=head + 1, poll_interval=interval) if follow else iter(())
        for rec in chain(shown_records, stream):
            if as_json:
                sys.stdout.buffer.write(rec.line)
            else:
                sys.stdout.write(render.record_line(rec) + "\n")
            sys.stdout.flush()


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
    return 0 if summary["valid"] else INVALID_LOG


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="kfm-wal")


__all__ = ["cli", "main"]
