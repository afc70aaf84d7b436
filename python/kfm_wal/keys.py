"""Ed25519 keys: the writer's signing key (PKCS#8 PEM, mode 0600) and keyrings of trusted public
keys with roles (docs/FORMAT.md section 5).

`cryptography` is imported by the functions that generate, save, load or sign with a key, not
here: reading or verifying a log (the Rust core checks the seals) and loading a keyring never
import it, which keeps `kfm-wal validate` and `--help` fast to start."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from . import _core
from .errors import UsageError


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key. `seed` is the raw 32-byte RFC 8032 private key."""

    seed: bytes = field(repr=False)
    key_id: str
    public_key: str

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        key_id, public = _core.public_key(seed)
        return cls(seed=seed, key_id=key_id, public_key=public)

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def generate() -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return SigningKey.from_seed(raw)


def save(key: SigningKey, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write the key as PKCS#8 PEM readable by its owner only (created 0600, never widened)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    pem = Ed25519PrivateKey.from_private_bytes(key.seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UsageError(f"{path}: a key file already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o600)
    return path


def load(path: str | os.PathLike[str]) -> SigningKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read key: {e.strerror}") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{path}: not an unencrypted PKCS#8 PEM private key ({e})") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise UsageError(f"{path}: not an Ed25519 key")
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return SigningKey.from_seed(raw)


@dataclass(frozen=True)
class TrustedKey:
    key_id: str
    public_key: str
    roles: tuple[str, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class Keyring:
    keys: tuple[TrustedKey, ...]

    def public_keys(self) -> list[str]:
        return [k.public_key for k in self.keys]

    def get(self, key_id: str) -> TrustedKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def with_key(self, key: SigningKey, roles: tuple[str, ...] = ("writer",), name: str = "") -> Keyring:
        others = tuple(k for k in self.keys if k.key_id != key.key_id)
        return Keyring(others + (TrustedKey(key.key_id, key.public_key, roles, name),))

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "keys": [
                    {"key_id": k.key_id, "public_key": k.public_key, "roles": list(k.roles), "name": k.name}
                    for k in self.keys
                ]
            },
            option=orjson.OPT_INDENT_2,
        )


def load_keyring(path: str | os.PathLike[str]) -> Keyring:
    """Parse a keyring file; every key's id is recomputed from its public key and must match."""
    path = Path(path)
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as e:
        raise UsageError(f"{path}: cannot read keyring: {e.strerror}") from None
    except orjson.JSONDecodeError as e:
        raise UsageError(f"{path}: keyring is not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise UsageError(f'{path}: keyring must be {{"keys": [...]}}')
    keys = []
    for i, k in enumerate(doc["keys"]):
        if not isinstance(k, dict) or not isinstance(k.get("public_key"), str):
            raise UsageError(f"{path}: keys[{i}]: needs a public_key string")
        try:
            raw = base64.b64decode(k["public_key"], validate=True)
        except ValueError:
            raise UsageError(f"{path}: keys[{i}].public_key: not base64") from None
        key_id = key_id_of(raw)
        if k.get("key_id", key_id) != key_id:
            raise UsageError(f"{path}: keys[{i}].key_id {k.get('key_id')} does not match its public key ({key_id})")
        roles = k.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise UsageError(f"{path}: keys[{i}].roles: must be a list of strings")
        keys.append(TrustedKey(key_id, k["public_key"], tuple(roles), str(k.get("name", ""))))
    return Keyring(tuple(keys))


def save_keyring(ring: Keyring, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(ring.to_json())
    os.replace(tmp, path)
    return path


def key_id_of(public_raw: bytes) -> str:
    import hashlib

    if len(public_raw) != 32:
        raise UsageError(f"public key must be 32 bytes, got {len(public_raw)}")
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


__all__ = [
    "Keyring",
    "SigningKey",
    "TrustedKey",
    "generate",
    "key_id_of",
    "load",
    "load_keyring",
    "save",
    "save_keyring",
]
