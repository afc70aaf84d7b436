"""The expected.json files: what a verifier must find in a valid log or report first for an invalid one."""

from __future__ import annotations

import json
import os


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def expect(case_dir, entry_or_seg, offset=None, seq=None, *, error, sole, note):
    if isinstance(entry_or_seg, dict):
        seg, offset, seq = entry_or_seg["segment"], entry_or_seg["offset"], entry_or_seg["seq"]
    else:
        seg = entry_or_seg
    write_json(
        os.path.join(case_dir, "expected.json"),
        {"error": error, "segment": seg, "offset": offset, "seq": seq, "sole_error": sole, "note": note},
    )


def expected_valid(journal, pending):
    head = journal[-1]
    return {
        "ok": True,
        "records": [
            {
                "seq": e["seq"],
                "kind": e["kind"],
                "hash": e["hash"],
                "segment": e["segment"],
                "offset": e["offset"],
            }
            for e in journal
        ],
        "head_seq": head["seq"],
        "head_hash": head["hash"],
        "pending": pending,
    }
