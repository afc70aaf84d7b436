"""The inputs of a golden vector case (data/vectors/README.md): its keyring (its own
`keyring.json`, else the shared one) and the receipt it starts from (`receipt.json`, if any)."""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "data" / "vectors"
SHARED_KEYRING = VECTORS / "keyring.json"
VALID = sorted(p.name for p in (VECTORS / "valid").iterdir())
INVALID = sorted(p.name for p in (VECTORS / "invalid").iterdir())
REFUSED = sorted(p.name for p in (VECTORS / "refused").iterdir())


def keyring_of(case: Path) -> Path:
    own = case / "keyring.json"
    return own if own.exists() else SHARED_KEYRING


def receipt_of(case: Path) -> Path | None:
    own = case / "receipt.json"
    return own if own.exists() else None
