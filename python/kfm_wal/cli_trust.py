"""`kfm-wal keys trust`: give a reviewer's public key roles in a keyring, so that the approvals it
signs (`kfm-wal approve`) count for governed operations; without it a keyring is edited by hand."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import click

from . import keys, provision
from .cli_app import FILE, LOG_DIR, require_log
from .cli_errors import CliError, located, shown
from .cli_write import keys_group


@keys_group.command("trust")
@click.argument("log_dir", metavar="[DIR]", type=LOG_DIR, required=False)
@click.option(
    "--public-key", required=True, help="The key's public key (base64), as `kfm-wal keys generate` prints it."
)
@click.option("--role", "roles", multiple=True, required=True, help="A role it is given (repeatable): maintainer, ...")
@click.option("--name", default="", help="Who holds it; an approval by the operation's author does not count.")
@click.option("--keyring", "keyring_file", type=FILE, help="The keyring. Default: <parent of DIR>/keys/keyring.json.")
def keys_trust(
    log_dir: Path | None, public_key: str, roles: tuple[str, ...], name: str, keyring_file: Path | None
) -> None:
    """Trust a key with roles in the keyring of the log in DIR (or --keyring FILE, created when
    missing); a key already there gets the roles and name given instead of its own."""
    if keyring_file is None:
        if log_dir is None:
            raise click.UsageError("give a log directory or --keyring FILE")
        require_log(log_dir)
        keyring_file = provision.default_keyring_path(log_dir)
    try:
        raw = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        raise CliError("not base64", "option --public-key") from None
    if len(raw) != 32:
        raise CliError(f"an Ed25519 public key is 32 bytes, got {len(raw)}", "option --public-key")
    if any(not r.strip() for r in roles):
        raise CliError("a role must be a non-empty name", "option --role")
    key_id = keys.key_id_of(raw)
    with located(file=keyring_file):
        ring = keys.load_keyring(keyring_file) if keyring_file.exists() else keys.Keyring(())
        others = tuple(k for k in ring.keys if k.key_id != key_id)
        trusted = keys.TrustedKey(key_id, base64.b64encode(raw).decode("ascii"), roles, name)
        keys.save_keyring(keys.Keyring((*others, trusted)), keyring_file)
    click.echo(f"trusted {key_id} ({', '.join(roles)}{', ' + name if name else ''}) in {shown(keyring_file)}")


__all__ = ["keys_trust"]
