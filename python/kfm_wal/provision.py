"""Creating a log together with its writer key and keyring entry, shared by `kfm-wal init` and the
demo. The key file is written before the log so that a log never exists without its key; if the log
cannot be created the key file written here is removed again, so a refusal leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import keys
from .keys import Keyring, SigningKey
from .wal import Wal


def keys_dir(log_dir: str | os.PathLike[str]) -> Path:
    """`<parent of the log directory>/keys`: `data/wal` keeps its keys in `data/keys`."""
    return Path(os.path.abspath(log_dir)).parent / "keys"


def default_key_path(log_dir: str | os.PathLike[str]) -> Path:
    return keys_dir(log_dir) / "writer.pem"


def default_keyring_path(log_dir: str | os.PathLike[str]) -> Path:
    return keys_dir(log_dir) / "keyring.json"


def create_with_new_key(
    log_dir: str | os.PathLike[str],
    key_path: str | os.PathLike[str],
    keyring_path: str | os.PathLike[str],
    *,
    key_name: str = "",
    **create_options: Any,
) -> tuple[Wal, SigningKey]:
    """Generate a writer key, save it (refusing an existing file), create the log, then trust the
    key in the keyring file (created if missing). The keyring is read first: a broken keyring
    refuses the whole operation before anything is written."""
    keyring_path = Path(keyring_path)
    ring = keys.load_keyring(keyring_path) if keyring_path.exists() else Keyring(())
    key = keys.generate()
    saved = keys.save(key, key_path)
    try:
        wal = Wal.create(log_dir, key, **create_options)
    except BaseException:
        saved.unlink(missing_ok=True)
        raise
    keys.save_keyring(ring.with_key(key, ("writer",), key_name), keyring_path)
    return wal, key


def trust_key(key: SigningKey, keyring_path: str | os.PathLike[str], key_name: str = "") -> Path:
    """Add (or refresh) `key` as a writer in the keyring file, creating the file if missing."""
    keyring_path = Path(keyring_path)
    ring = keys.load_keyring(keyring_path) if keyring_path.exists() else Keyring(())
    return keys.save_keyring(ring.with_key(key, ("writer",), key_name), keyring_path)


__all__ = ["create_with_new_key", "default_key_path", "default_keyring_path", "keys_dir", "trust_key"]
