"""`kfm-wal validate`: verify a log (and, on request, its operations, data tree and receipts)
and report every finding; exit 0 valid, 1 invalid, 2 usage or input error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from . import cli_render as render
from . import keys
from .cli_app import FILE, LOG_DIR, cli, load_key, require_log
from .cli_archive import LOG_OR_URL, validate_url
from .cli_errors import INVALID_LOG, CliError, located, shown
from .report import verify

if TYPE_CHECKING:
    from .verify_rules import Rule


# `--tree` given without a value: every root the log names.
ALL_ROOTS = ""

# -- validate ------------------------------------------------------------------------------------


@cli.command()
@click.argument("log_dir", metavar="DIR|URL|SET.json", type=LOG_OR_URL)
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
    "action, CARE metadata, irreversible operations declared at the policy's tier, a real snapshot "
    "recorded first where the tier requires one (implied by --policy and --tree).",
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
    type=str,
    is_flag=False,
    flag_value=ALL_ROOTS,
    metavar="[ROOTS]",
    help="Audit every data root, STAC catalog and graph store the log writes (or those at or under "
    "ROOTS): each file and triple must have the state the log says, none may be unlogged.",
)
@click.option(
    "--lineage",
    "lineage_dir",
    type=LOG_DIR,
    help="Lineage directory to check against the log (implies --operations; default with "
    "--operations: <parent of DIR>/lineage when it exists).",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    help="With a URL: verify its segments on this Dask cluster (tcp://scheduler:8786), one task per segment.",
)
@click.option(
    "--piece-mb",
    "piece_mb",
    type=click.IntRange(min=0),
    metavar="N",
    help="With --dask: verify a segment larger than N MiB in pieces of N MiB, one task each, so a worker "
    "holds about one piece (default 64; 0: one task per segment).",
)
def validate(
    log_dir: Path | str,
    keyring_file: Path | None,
    as_json: bool,
    receipt_file: Path | None,
    receipt_key_file: Path | None,
    quarantine_: bool,
    max_errors: int,
    fail_fast: bool,
    op_rules: bool,
    policy_file: Path | None,
    tree_root: str | None,
    lineage_dir: Path | None,
    dask_address: str | None,
    piece_mb: int | None,
) -> int:
    """Verify every byte of the log in DIR, or of the archive at URL (s3://, gs://, az://, file://,
    memory://), or of every stream of the log set a manifest SET.json names (and the links between
    them). Exit 0 if valid, 1 if not, 2 on usage errors."""
    if piece_mb is not None and dask_address is None:
        raise CliError("--piece-mb sets the pieces of a --dask run: give --dask ADDRESS too", "option --piece-mb")
    if isinstance(log_dir, Path) and log_dir.is_file():
        from .cli_logset import validate_set

        refused = {"--receipt": bool(receipt_file), "--quarantine": quarantine_, "--operations": op_rules}
        refused |= {"--policy": bool(policy_file), "--tree": bool(tree_root), "--lineage": bool(lineage_dir)}
        refused |= {"--dask": bool(dask_address), "--fail-fast": fail_fast}
        return validate_set(log_dir, keyring_file=keyring_file, as_json=as_json, refused=refused)
    if isinstance(log_dir, str):
        refused = {"--quarantine": quarantine_, "--operations": op_rules}
        refused |= {"--policy": bool(policy_file), "--tree": bool(tree_root), "--lineage": bool(lineage_dir)}
        return validate_url(
            log_dir,
            keyring_file=keyring_file,
            receipt_file=receipt_file,
            receipt_key_file=receipt_key_file,
            as_json=as_json,
            max_errors=max_errors,
            fail_fast=fail_fast,
            dask_address=dask_address,
            piece_mb=piece_mb,
            refused=refused,
        )
    if dask_address is not None:
        raise CliError("--dask verifies an archive at a URL; DIR is verified here", "option --dask")
    ring = None
    if keyring_file is not None:
        with located(file=keyring_file):
            ring = keys.load_keyring(keyring_file)
    rules = _operation_rules(op_rules, policy_file, ring, tree_root, _lineage(log_dir, op_rules, lineage_dir))
    signer = load_key(receipt_key_file) if receipt_key_file else None
    previous = None
    if receipt_file is not None and receipt_file.exists():
        from . import verification_receipts as receipts  # and with it cryptography: only with --receipt

        with located(file=receipt_file):
            previous = receipts.load(receipt_file, signer.public_key if signer else None)
    require_log(log_dir)
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


def _lineage(log_dir: Path, op_rules: bool, given: Path | None) -> Path | None:
    """The lineage directory checked: the one given, or with --operations the log's default."""
    if given is not None:
        if not given.is_dir():
            raise CliError("not a directory", f"option --lineage {shown(given)}")
        return given
    if not op_rules:
        return None
    default = log_dir.absolute().parent / "lineage"
    return default if default.is_dir() else None


def _operation_rules(
    wanted: bool,
    policy_file: Path | None,
    ring: keys.Keyring | None,
    tree_root: str | None,
    lineage_dir: Path | None = None,
) -> list[Rule]:
    if not (wanted or policy_file or tree_root is not None or lineage_dir):
        return []
    from . import audit, governance
    from .governance.snapshot_required import SnapshotTaken
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
        SnapshotTaken(policy),
    ]
    if policy_file is not None:
        if ring is None:
            raise CliError("--policy checks approvals against trusted keys: give --keyring too", "option --policy")
        rules.append(governance.ApprovalsValid(policy, ring))
    if tree_root is not None:
        rules.append(audit.TreeMatchesLog(None if tree_root == ALL_ROOTS else Path(tree_root)))
    if lineage_dir is not None:
        from .audit_lineage import LineageMatchesLog

        rules.append(LineageMatchesLog(lineage_dir))
    return rules
