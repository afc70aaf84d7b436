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
    return raw is not None and is_public_key(raw) and key_id_of(raw) == key_id


# Ed25519 public keys (FORMAT.md section 5, "Public keys"): the encoding must decompress to a point
# of the curve (y is read as 255 bits, reduced modulo p; the top bit is the sign of x), and that
# point must not have small order ([8]P is not the identity).
_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _decompress(raw: bytes):
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    y %= _P
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    if (x & 1) != raw[31] >> 7:
        x = (_P - x) % _P
    return (x, y, 1, x * y % _P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % _P, (y1 + x1) * (y2 + x2) % _P
    cc, dd = t1 * 2 * _D * t2 % _P, z1 * 2 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def is_public_key(raw: bytes) -> bool:
    """A 32-byte encoding that decompresses to a point of the curve that is not of small order."""
    point = _decompress(raw)
    if point is None:
        return False
    for _ in range(3):
        point = _add(point, point)
    x, y, z, _ = point
    return not (x % _P == 0 and (y - z) % _P == 0)


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
