"""A writer to be killed: appends random batches from random threads and prints every receipt
it gets ("ACK seq hash wal_id") the moment it gets it. Run by tests/crash/harness.py.

Most batches are small (`append_many` of 1-39 entries); one in eight is large (512-700 entries,
so it goes over in chunks encoded as JSON arrays) and is handed over with `submit`, its receipts
printed once its handle resolves."""

from __future__ import annotations

import hashlib
import random
import sys
import threading

from kfm_wal import Wal, keys


def entry(rng: random.Random, n: int) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(str(n).encode()).hexdigest()
    return {
        "operation": "etl_step",
        "actor": {"type": "system", "id": "crash-writer"},
        "pre_state_hash": digest,
        "post_state_expected": digest,
        # any seed: no 2^53 limit; a null now and then (the encoder walks the entries holding one)
        "payload": {"n": str(n), "pad": "x" * rng.randrange(0, 600), "note": None if n % 7 == 0 else "-"},
        "reversal": {"steps": [{"type": "noop"}]},
        "tier": 0,
        "governance": {"care": "public"},
        "lineage_links": [],
        "telemetry": {"id": f"crash-{n}"},
    }


def main() -> None:
    path, key_path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    key = keys.load(key_path)
    wal = Wal.open(path, key)
    out = threading.Lock()
    print("READY", flush=True)

    def work(t: int) -> None:
        local = random.Random(seed * 100 + t)
        n = 0
        while True:
            large = local.randrange(8) == 0
            size = local.randrange(512, 700) if large else local.randrange(1, 40)
            batch = [entry(local, seed * 10**9 + t * 10**7 + n + i) for i in range(size)]
            n += len(batch)
            receipts = wal.submit(batch).result() if large else wal.append_many(batch)
            with out:
                sys.stdout.write("".join(f"ACK {r.seq} {r.hash} {r.wal_id}\n" for r in receipts))
                sys.stdout.flush()

    threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(rng.randrange(1, 9))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
