#!/usr/bin/env python3
"""Deterministically (re)generate the kfm-wal/1 golden test vectors.

    python tests/reference/make_vectors.py [OUT_DIR]      (default: data/vectors/)

OUT_DIR is removed and rewritten from scratch; every run produces identical bytes.
Expected results are derived from what the generator wrote (the writer's journal and the
defect it applied), never from running the verifier.

This is the entry point; the parts, one concern each:

    vector_bodies          fixed UUIDs, the clock, the bodies of the basic log
    vector_logs            writer keys and sizes, building the basic log, byte edits, the case registry
    vector_expectations    the expected.json files
    vector_valid_logs      keyring.json and valid/*
    vector_byte_defects    invalid cases made by editing a copy of valid/basic
    vector_writer_defects  invalid cases written by the writer with one step replaced
    vector_edges           small logs for the edge rules (JSON, timestamps, last valid seal, tails)
    vector_signatures      crafted Ed25519 signatures, base64 spellings and key encodings
    vector_receipts        cases with their own keyring or a receipt; refused/ cases
    vector_decisions       time order, raw kinds, a header-only last segment, segment placement
    vector_zstd            compressed archived segments (.jsonl.zst)
    vector_padding         kfm-wal/2 segments: zero padding and torn lines
    vector_streams         the header's optional stream id
    vector_open_state      a clean-close state beside a log (ignored by verifiers)
    vector_checkpoint      compacted logs anchored by a checkpoint (and not)
    vector_readme          README.md
"""

from __future__ import annotations

import os
import shutil
import sys

# Imported first: the facade puts tests/reference on sys.path, so the vector_* parts below import
# however this file was loaded (as a script, with tests/reference on sys.path, or as a package).
try:
    from . import kfm_wal_ref as ref
except ImportError:  # run as a script, or imported with tests/reference on sys.path
    import kfm_wal_ref as ref

from vector_bodies import (
    LOG_ID,
    OTHER_LOG_ID,
    StepClock,
    basic_steps,
    completion,
    fixed_uuid,
    h,
    intent,
)
from vector_byte_defects import write_byte_defects
from vector_checkpoint import write_checkpoint_invalid, write_checkpoint_valid
from vector_decisions import write_decision_cases, write_decision_valid
from vector_edges import write_edge_cases, write_edge_valid
from vector_expectations import expect, expected_valid, write_json
from vector_logs import (
    BASIC_MAX_SEGMENT_BYTES,
    KEY2_SEED,
    KEY_SEED,
    SMALL_MAX_RECORD_BYTES,
    UNTRUSTED_SEED,
    InvalidCases,
    _commit_start,
    build_basic,
    copy_log,
    edit,
    new_writer,
    records_of,
    replace_in_line,
    seg_path,
)
from vector_open_state import write_open_state_valid
from vector_padding import write_padding_invalid, write_padding_valid
from vector_readme import write_readme
from vector_receipts import pending_of, write_receipt_cases
from vector_signatures import write_signature_cases, write_signature_valid
from vector_snapshot import write_snapshot_valid
from vector_streams import write_streams_invalid, write_streams_valid
from vector_valid_logs import write_keyring, write_valid_logs
from vector_writer_defects import write_writer_defects
from vector_zstd import write_zstd_invalid, write_zstd_valid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "data", "vectors")

__all__ = [
    "BASIC_MAX_SEGMENT_BYTES",
    "DEFAULT_OUT",
    "KEY2_SEED",
    "KEY_SEED",
    "LOG_ID",
    "OTHER_LOG_ID",
    "REPO",
    "SMALL_MAX_RECORD_BYTES",
    "UNTRUSTED_SEED",
    "StepClock",
    "_commit_start",
    "basic_steps",
    "build_basic",
    "completion",
    "copy_log",
    "edit",
    "expect",
    "expected_valid",
    "fixed_uuid",
    "generate",
    "h",
    "intent",
    "new_writer",
    "ref",
    "records_of",
    "replace_in_line",
    "seg_path",
    "write_json",
    "write_readme",
]


def generate(out=DEFAULT_OUT):
    out = os.path.abspath(out)
    if os.path.isdir(out) and os.listdir(out) and not os.path.exists(os.path.join(out, "keyring.json")):
        raise SystemExit(f"refusing to wipe {out}: not empty and not a vectors directory")
    shutil.rmtree(out, ignore_errors=True)
    valid, invalid = os.path.join(out, "valid"), os.path.join(out, "invalid")
    os.makedirs(valid)
    os.makedirs(invalid)
    os.makedirs(os.path.join(out, "refused"))

    write_keyring(out)
    cases = InvalidCases(invalid, write_valid_logs(valid))
    write_byte_defects(cases, out)
    write_writer_defects(cases)
    write_edge_cases(cases)
    write_edge_valid(valid)
    write_snapshot_valid(valid)
    write_signature_cases(cases)
    write_signature_valid(valid)
    write_receipt_cases(cases, valid, out)
    write_decision_cases(cases)
    basic = cases.basic
    write_decision_valid(valid, basic.dir, basic.journal, pending_of(basic))
    write_zstd_valid(valid, cases.basic, [fixed_uuid("intent-10")])
    write_zstd_invalid(cases)
    write_streams_valid(valid)
    write_streams_invalid(cases)
    write_open_state_valid(valid, cases.basic, [fixed_uuid("intent-10")])
    write_checkpoint_valid(valid)
    write_checkpoint_invalid(cases)
    write_padding_valid(valid)
    write_padding_invalid(cases)

    write_readme(out, sorted(cases.made))
    return cases.made


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    made = generate(target)
    print(f"wrote {len(made)} invalid cases and the valid logs to {target}")
