"""Keys and signatures (FORMAT.md sections 4 and 5): Ed25519 key ids, strict base64, the seal
message, and the trusted keys of a keyring file."""

from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from ref_ed25519 import decode_point


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
    return raw is not None and is_public_key(raw) and key_id_of(raw) == key_id


def is_public_key(raw: bytes) -> bool:
    """FORMAT.md section 5, "Public keys": a strict point encoding of a point not of small order."""
    return decode_point(raw) is not None


def _load_keyring(keyring):
    """keyring: a keyring file's path, its parsed dict or its list of entries -> {key_id: public key}.

    FORMAT.md section 5, "Keyring file": every listed key is trusted (roles are not consulted); a
    keyring with an entry that is not as specified is refused (ValueError), never partly used."""
    if keyring is None:
        return None
    if isinstance(keyring, (str, os.PathLike)):
        with open(keyring, encoding="utf-8") as f:
            keyring = json.load(f)
    entries = keyring["keys"] if isinstance(keyring, dict) else keyring
    trusted = {}
    for e in entries:
        pub = b64decode(e.get("public_key"), 32)
        if pub is None or not is_public_key(pub):
            raise ValueError(f"keyring entry {e!r}: public_key is not a valid Ed25519 public key")
        if e.get("key_id", key_id_of(pub)) != key_id_of(pub):
            raise ValueError(f"keyring entry {e!r}: key_id is not the key id of public_key")
        roles = e.get("roles", [])
        if not (isinstance(roles, list) and all(isinstance(x, str) for x in roles)):
            raise ValueError(f"keyring entry {e!r}: roles must be a list of strings")
        trusted[key_id_of(pub)] = pub
    return trusted
