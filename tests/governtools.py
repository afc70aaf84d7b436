"""Helpers for the governed-operation tests (no tests here): a log with its writer key and keyring
where `kfm-wal init` puts them, reviewer keys with roles in that keyring, and approvers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfm_wal import Wal, keys, provision
from kfm_wal.governance import approve, ledger
from kfm_wal.governance.gate import Approver, Governor, ledger_path_for

ACTOR = {"type": "developer", "id": "ana"}
REVIEWERS = {"bo": ("maintainer",), "cy": ("data-steward",), "di": ("maintainer",)}


@dataclass
class Governed:
    """A log at base/wal, writer key base/keys/writer.pem, keyring base/keys/keyring.json trusting
    the writer and the reviewers (bo, di: maintainer; cy: data-steward); root base/processed."""

    base: Path
    reviewers: dict[str, keys.SigningKey] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.base / "wal"

    @property
    def root(self) -> Path:
        return self.base / "processed"

    @property
    def ledger(self) -> Path:
        return ledger_path_for(self.log)

    def open(self) -> Wal:
        return Wal.open(self.log, keys.load(provision.default_key_path(self.log)))

    def approver(self, *who: str) -> Approver:
        """Signs every request it is shown with the named reviewers, each under its first role."""

        def sign(request: dict[str, Any]) -> list[dict[str, str]]:
            return [approve(request, self.reviewers[w], REVIEWERS[w][0]) for w in who]

        return sign

    def governor(self, *who: str) -> Governor:
        return Governor.for_log(self.log, approver=self.approver(*who) if who else None)

    def decisions(self) -> list[dict[str, Any]]:
        return [facts for _, _, facts in ledger.read(self.ledger)] if self.ledger.exists() else []


def governed_log(base: Path) -> Governed:
    g = Governed(base)
    wal, _ = provision.create_with_new_key(
        g.log, provision.default_key_path(g.log), provision.default_keyring_path(g.log)
    )
    wal.close()
    ring = keys.load_keyring(provision.default_keyring_path(g.log))
    for name, roles in REVIEWERS.items():
        g.reviewers[name] = keys.generate()
        ring = ring.with_key(g.reviewers[name], roles, name)
    keys.save_keyring(ring, provision.default_keyring_path(g.log))
    return g


def meta(tier: int, **over: Any) -> dict[str, Any]:
    return {"actor": ACTOR, "tier": tier, "governance": {"care": "public"}, "telemetry": {"id": "gov-test"}, **over}


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def statuses(decisions: Sequence[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(d["decision"], d["status"]) for d in decisions]
