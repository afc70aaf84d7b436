"""The demo's governance: its operations are tier 1 (tier 2 for the graph), so the policy (the
shipped one) decides each and the governance ledger (data/governance/ledger, signed by the demo's
writer key) records each decision and outcome. The approvals the policy asks for come from the
demo's reviewer key (data/keys/demo-maintainer.pem, role "maintainer" in data/keys/keyring.json,
created on the first run), which signs each operation's request as the pipeline plans it: an
automated reviewer standing in for the people who approve a real pipeline's runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from . import keys
from .governance import Ledger, approve, ledger
from .governance.gate import Governor, ledger_path_for
from .keys import Keyring, SigningKey

REVIEWER_FILE = "demo-maintainer.pem"  # under data/keys/
REVIEWER_NAME = "kfm-demo maintainer"
REVIEWER_ROLE = "maintainer"  # counts at tiers 1 and 2 of the shipped policy


def reviewer(data: Path) -> SigningKey:
    """The demo's reviewer key, created and trusted (role maintainer) on the first run."""
    key_path, ring_path = data / "keys" / REVIEWER_FILE, data / "keys" / "keyring.json"
    key = keys.load(key_path) if key_path.exists() else None
    if key is None:
        key = keys.generate()
        keys.save(key, key_path)
    ring = keys.load_keyring(ring_path) if ring_path.exists() else Keyring(())
    trusted = ring.get(key.key_id)
    if trusted is None or REVIEWER_ROLE not in trusted.roles:
        keys.save_keyring(ring.with_key(key, (REVIEWER_ROLE,), REVIEWER_NAME), ring_path)
    return key


def governor(data: Path, writer: SigningKey, open_ledger: Ledger) -> Governor:
    """The demo's governor: the shipped policy, the demo keyring, the reviewer's approvals."""
    key = reviewer(data)

    def sign(request: dict[str, Any]) -> list[dict[str, str]]:
        return [approve(request, key, REVIEWER_ROLE)]

    return Governor.for_log(data / "wal", key=writer, approver=sign, ledger=open_ledger)


def open_ledger(data: Path, writer: SigningKey) -> Ledger:
    return Ledger.open(ledger_path_for(data / "wal"), writer)


def ledger_summary(data: Path, wal_ids: set[str]) -> dict[str, Any]:
    """Counts over the governance ledger: every decision, by outcome, and this run's."""
    path = ledger_path_for(data / "wal")
    facts = [f for _, _, f in ledger.read(path)] if path.exists() else []
    decided = Counter(f["decision"] for f in facts)
    return {
        "path": str(path),
        "decisions": len(facts),
        "allowed": decided["allowed"],
        "refused": decided["refused"],
        "this_run": sum(1 for f in facts if f["wal_id"] in wal_ids),
    }


__all__ = ["governor", "ledger_summary", "open_ledger", "reviewer"]
