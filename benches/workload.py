"""Seed-shaped intent entries for the benchmarks.

Every entry carries all eleven members of python/kfm_wal/schemas/wal-entry-v1.json (wal_id,
operation, actor, pre_state_hash, post_state_expected, payload, reversal, tier, governance,
lineage_links, telemetry) and encodes (orjson, compact) to about 800 bytes.

Entries are deterministic: entry `i` of seed `s` is the same whatever slice it is built in, so a
100 MB log can be built chunk by chunk and a benchmark can be rerun on identical input. Entries are
built up front, before any timed section; every entry has its own wal_id (a log refuses a
duplicate), so a pool of `n` entries fills exactly one log of `n` intents.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import orjson

DEFAULT_SEED = 20240611
# Bump when make_entry / make_tiny_entry change what they build: cached archives built from the
# old entries (benches/archives.py, keyed by this) are then rebuilt instead of reused.
WORKLOAD_VERSION = 1
TARGET_BYTES = 800  # aimed-for mean encoded size
_PAD_TO = 775  # entries below this (+-30) get a payload note; the rest are larger by themselves

# (operation, tier) mix of a pipeline: mostly ETL and STAC work, some graph and ledger writes, the
# odd hotfix or rollback. Tier 4 is reserved for rollback (schema `if`/`then`).
_OPERATIONS = (
    [("etl_step", 1)] * 8
    + [("stac_item", 1)] * 6
    + [("stac_collection", 2)] * 2
    + [("stac_build", 2)] * 2
    + [("graph_write", 2)] * 3
    + [("lineage_update", 1)] * 2
    + [("ledger_update", 3)]
    + [("checkpoint", 0)]
    + [("snapshot", 0)]
    + [("retry", 1)]
    + [("hotfix", 3)]
    + [("rollback", 4)]
)
_DATASETS = (
    "hydrology/gauges",
    "landcover/nlcd",
    "soils/ssurgo",
    "climate/prism",
    "archives/plats",
    "treaties/boundaries",
    "railroads/1890",
    "census/blocks",
)
_ACTOR_IDS = {
    "ci": ("github-actions:kfm-pipeline", "github-actions:stac-nightly"),
    "system": ("scheduler:airflow", "watcher:ingest"),
    "developer": ("dev:ahanson", "dev:mlopez", "dev:jchen"),
}
_ACTIONS = ("write_parquet", "write_cog", "upsert_rows", "update_index", "emit_stac_item", "merge_edges")


def _hex(rng: random.Random, nbytes: int = 32) -> str:
    return rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()


def _sha(rng: random.Random) -> str:
    return "sha256:" + _hex(rng)


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_entry(seed: int, index: int) -> dict[str, Any]:
    """Entry `index` of the stream `seed`: a valid intent of about TARGET_BYTES encoded."""
    rng = random.Random((seed << 40) ^ index)
    operation, tier = rng.choice(_OPERATIONS)
    dataset = rng.choice(_DATASETS)
    part = f"part-{rng.randrange(10_000):05d}"
    actor_type = rng.choice(("ci", "ci", "ci", "system", "developer"))
    run = rng.randrange(1, 100_000)
    n_actions = rng.choice((1, 1, 1, 1, 2))
    actions = []
    for k in range(n_actions):
        actions.append(
            {
                "op": rng.choice(_ACTIONS),
                "path": f"{dataset}/{part}.{k}.parquet",
                "sha256": _sha(rng) if k == 0 else _hex(rng, 8),
            }
        )
    entry: dict[str, Any] = {
        "wal_id": _uuid4(rng),
        "operation": operation,
        "actor": {"type": actor_type, "id": rng.choice(_ACTOR_IDS[actor_type]), "run": run},
        "pre_state_hash": _sha(rng),
        "post_state_expected": _sha(rng),
        "payload": {"actions": actions},
        "reversal": {"steps": [{"op": "restore", "path": a["path"]} for a in actions]},
        "tier": tier,
        "governance": {
            "care": rng.choice(("public", "public", "sensitive", "restricted")),
            "approvals": [{"by": "steward:kfm", "rule": f"tier{tier}"}] if tier >= 2 else [],
        },
        "lineage_links": [f"wal:{_uuid4(rng)}"],
        "telemetry": {"id": f"tel-{_hex(rng, 8)}", "span": _hex(rng, 4)},
    }
    # Pad the payload so the stream averages ~TARGET_BYTES (single entries range ~750-1000).
    target = _PAD_TO + rng.randrange(-30, 31)
    pad = target - len(encode(entry)) - len(',"note":""')
    if pad > 0:
        entry["payload"]["note"] = _note(rng, pad)
    return entry


def _note(rng: random.Random, n: int) -> str:
    words = (
        "reprojected",
        "tiles",
        "validated",
        "against",
        "catalog",
        "schema",
        "checksum",
        "rows",
        "county",
        "parcel",
        "merged",
        "window",
        "nodata",
        "mask",
    )
    out: list[str] = []
    size = 0
    while size < n:
        w = rng.choice(words)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


def make_entries(n: int, seed: int = DEFAULT_SEED, start: int = 0) -> list[dict[str, Any]]:
    """Entries start .. start+n-1 of the stream `seed`."""
    return [make_entry(seed, i) for i in range(start, start + n)]


_ZERO_HASH = "sha256:" + "0" * 64


def make_tiny_entry(index: int = 0) -> dict[str, Any]:
    """The smallest kind of valid intent (about 300 bytes encoded, no wal_id: the writer assigns
    one), for logs whose cost is dominated by their seals (one per tiny commit)."""
    return {
        "operation": "noop",
        "actor": {"type": "ci", "id": "bench"},
        "pre_state_hash": _ZERO_HASH,
        "post_state_expected": _ZERO_HASH,
        "payload": {"i": index},
        "reversal": {"irreversible": True, "reason": "benchmark"},
        "tier": 0,
        "governance": {"care": "public"},
        "lineage_links": [],
        "telemetry": {"id": "t"},
    }


def encode(entry: dict[str, Any]) -> bytes:
    """Compact JSON, as kfm-wal encodes bodies (key order does not change the size)."""
    return orjson.dumps(entry, option=orjson.OPT_STRICT_INTEGER)


def describe(entries: list[dict[str, Any]]) -> dict[str, float]:
    sizes = sorted(len(encode(e)) for e in entries)
    return {"n": len(sizes), "min": sizes[0], "mean": sum(sizes) / len(sizes), "max": sizes[-1]}


if __name__ == "__main__":
    import sys

    from kfm_wal import schema

    sample = make_entries(2000)
    assert all(schema.is_valid(e) for e in sample[:200])
    assert make_entries(3, start=7) == sample[7:10]
    assert schema.is_valid(make_tiny_entry(3))
    print(describe(sample))
    sys.stdout.buffer.write(encode(sample[0]) + b"\n")
