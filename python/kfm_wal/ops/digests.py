"""The hashes the file operations record, defined once so anyone can recompute them.

- content digest: "sha256:" + SHA-256 of a file's bytes; "absent" for a missing file.
- canonical JSON: sorted keys, no whitespace, UTF-8, no NaN (the same bytes for the same data
  whatever the key order it was built or decoded with).
- state hash of a set of paths: digest of the canonical JSON of the sorted [path, content
  digest] pairs, paths relative to the data root in POSIX form.
- actions digest: digest of the canonical JSON of the list of action objects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

ABSENT = "absent"
PREFIX = "sha256:"


def content_digest(data: bytes) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def state_hash(files: Mapping[str, str]) -> str:
    """`files` maps relative path -> content digest or ABSENT."""
    return content_digest(canonical_json(sorted([path, digest] for path, digest in files.items())))


def actions_digest(actions: Any) -> str:
    return content_digest(canonical_json(actions))


def first_difference(expected: Mapping[str, str], actual: Mapping[str, str]) -> tuple[str, str] | None:
    """(path, one-line description) of the first path (sorted) whose state differs, or None."""
    for path in sorted(set(expected) | set(actual)):
        want, got = expected.get(path, ABSENT), actual.get(path, ABSENT)
        if want != got:
            return path, f"{path}: expected {want}, found {got}"
    return None


__all__ = ["ABSENT", "actions_digest", "canonical_json", "content_digest", "first_difference", "state_hash"]
