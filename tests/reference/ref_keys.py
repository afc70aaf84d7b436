"""Keys and signatures (FORMAT.md sections 4 and 5): Ed25519 key ids, strict base64, the seal
message, and the trusted keys of a keyring file."""

from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def key_id_of(public_key32: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_key32).hexdigest()[:16]


def public_key_of(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def b64decode(text, size: int):
    """Strict standard base64 with padding of exactly `size` bytes, else None."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    return raw if len(raw) == size and b64encode(raw) == text else None


def seal_message(log_id: str, seq: int, timestamp: str, prev: str, closes: bool) -> bytes:
    """FORMAT.md section 4; `prev` includes the "sha256:" prefix."""
    return f"kfm-wal/1 seal\n{log_id}\n{seq}\n{timestamp}\n{prev}\n{1 if closes else 0}\n".encode()


def _key_matches(public_key, key_id) -> bool:
    raw = b64decode(public_key, 32)
    return raw is not None and key_id_of(raw) == key_id


def _load_keyring(keyring):
    """keyring: a keyring file's path, its parsed dict or its list of entries -> {key_id: public key}."""
    if keyring is None:
        return None
    if isinstance(keyring, (str, os.PathLike)):
        with open(keyring, encoding="utf-8") as f:
            keyring = json.load(f)
    entries = keyring["keys"] if isinstance(keyring, dict) else keyring
    trusted = {}
    for e in entries:
        pub = b64decode(e.get("public_key"), 32)
        # CHOICE: an entry counts only if its key_id matches its key and (if roles are given) it is a writer.
        if pub is not None and e.get("key_id") == key_id_of(pub) and "writer" in e.get("roles", ["writer"]):
            trusted[e["key_id"]] = pub
    return trusted
