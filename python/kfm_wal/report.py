"""Verification of a whole log and the report it gives (docs/FORMAT.md section 6)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import _core
from .keys import Keyring, load_keyring


@dataclass(frozen=True)
class Finding:
    code: str
    segment: str
    offset: int
    seq: int | None
    wal_id: str | None
    message: str

    @property
    def recoverable(self) -> bool:
        return self.code in ("tail.torn", "tail.unsealed")

    def location(self) -> str:
        where = f"{self.segment} @ {self.offset}" if self.segment else "log"
        return where + (f" (seq {self.seq})" if self.seq is not None else "")


@dataclass(frozen=True)
class VerifyReport:
    path: str
    findings: list[Finding]
    segments: list[str]
    records: int
    bytes: int
    intents: int
    completions: int
    pending: int
    log_id: str | None
    head_seq: int | None
    head_hash: str | None
    keys_seen: list[str]
    key_in_force: str | None
    trust: str
    elapsed: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def errors(self) -> list[Finding]:
        return self.findings

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def verify(
    path: str | os.PathLike[str],
    keyring: Keyring | str | os.PathLike[str] | Sequence[str] | None = None,
    *,
    check_bodies: bool = True,
) -> VerifyReport:
    """Verify every byte of the log at `path`: hashes, chain, segment links, seals and their
    signatures, timestamps, record schemas, intent/completion pairing.

    `keyring`: a Keyring, a keyring file, or base64 public keys to trust. Without one the keys the
    log declares are trusted, and the report says so (`trust == "self-declared"`).
    """
    if isinstance(keyring, str | os.PathLike):
        keyring = load_keyring(keyring)
    public = keyring.public_keys() if isinstance(keyring, Keyring) else (None if keyring is None else list(keyring))
    raw = _core.verify_log(Path(path), public, check_bodies)
    findings = [Finding(**f) for f in raw.pop("findings")]
    return VerifyReport(path=str(path), findings=findings, **raw)


__all__ = ["Finding", "VerifyReport", "verify"]
