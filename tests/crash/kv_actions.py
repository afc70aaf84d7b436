"""A custom action kind kept on disk (so it outlives a killed process): `kv_put` writes one value
file under params["dir"], durably; its reverse puts back params["previous"] (None: no file).
Importing this module registers it (`kfm-wal recover --actions kv_actions`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kfm_wal.ops import register_action
from kfm_wal.ops.digests import ABSENT, content_digest
from kfm_wal.ops.durable import unlink, write_atomic


def _path(p: Mapping[str, Any]) -> Path:
    return Path(p["dir"]) / f"{p['key']}.value"


def state(p: Mapping[str, Any]) -> dict[str, str]:
    try:
        return {p["key"]: content_digest(_path(p).read_bytes())}
    except FileNotFoundError:
        return {p["key"]: ABSENT}


def expect(p: Mapping[str, Any]) -> dict[str, str]:
    return {p["key"]: content_digest(p["value"].encode())}


def put(p: Mapping[str, Any]) -> None:
    os.makedirs(p["dir"], exist_ok=True)
    write_atomic(_path(p), p["value"].encode())


def restore(p: Mapping[str, Any]) -> None:
    if p.get("previous") is None:
        if _path(p).exists():
            unlink(_path(p))
    else:
        write_atomic(_path(p), p["previous"].encode())


register_action("kv_put", execute=put, state=state, expect=expect, reverse=restore)
