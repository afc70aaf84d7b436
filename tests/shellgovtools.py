"""Helpers for the tests of governed operations run from the shell (no tests here): a log made by
`kfm-wal init` whose keyring also trusts a maintainer (bo) and a data steward (cy), approval
files made by `kfm-wal approve`, and the governance ledger read by `kfm-wal ledger --json`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clitools import init_log, run
from kfm_wal import keys, provision
from kfm_wal.ops import canonical_json

SIGNED = ("operation", "actor", "tier", "governance", "lineage_links", "actions_digest")


@dataclass
class Shell:
    """tmp/wal with tmp/keys/{writer.pem,keyring.json}; reviewer keys tmp/<name>.pem; spec roots
    tmp/processed, tmp/stac, tmp/graph."""

    base: Path

    @property
    def log(self) -> Path:
        return self.base / "wal"

    @property
    def ledger(self) -> Path:
        return self.base / "governance" / "ledger"

    def key(self, name: str) -> Path:
        return self.base / f"{name}.pem"

    def approve(self, request_file: Path, signer: str, role: str) -> Path:
        """`kfm-wal approve REQUEST --key <signer>.pem --role ROLE --out`; returns the approval file."""
        out = request_file.with_name(f"{request_file.stem}.{signer}.approval.json")
        signed = run("approve", request_file, "--key", self.key(signer), "--role", role, "--out", out)
        assert signed.exit_code == 0, signed.output
        return out

    def decisions(self) -> list[dict[str, Any]]:
        shown = run("ledger", self.ledger, "--json")
        assert shown.exit_code == 0, shown.output
        return [json.loads(line) for line in shown.stdout.splitlines()]


def shell_log(base: Path) -> Shell:
    """A log as a new user makes it, plus reviewers bo (maintainer), cy (data-steward) trusted in
    the default keyring and mallory, whose key no keyring trusts."""
    shell = Shell(base)
    init_log(base)
    ring_file = provision.default_keyring_path(shell.log)
    ring = keys.load_keyring(ring_file)
    for name, roles in (("bo", ("maintainer",)), ("cy", ("data-steward",)), ("mallory", ())):
        key = keys.generate()
        keys.save(key, shell.key(name))
        if roles:
            ring = ring.with_key(key, roles, name)
    keys.save_keyring(ring, ring_file)
    return shell


def digest_of(request_file: Path) -> str:
    """The request digest as approvals.request_digest defines it, from the file's signed members."""
    request = json.loads(request_file.read_bytes())
    return "sha256:" + hashlib.sha256(canonical_json({m: request[m] for m in SIGNED})).hexdigest()
