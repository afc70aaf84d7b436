"""Independent reference implementation of the kfm-wal/1 on-disk format.

Written from docs/FORMAT.md alone; it shares no code with rust/ or python/kfm_wal/.
Dependencies: the standard library and `cryptography` (Ed25519 signing, and a shortcut for
signatures its cofactorless check accepts; FORMAT.md's verification is ref_ed25519's).

    RefWriter(dir, key32, log_id, clock)   create a log and append group commits
    verify(dir, keyring=None, receipt=None) -> Report
                                            check everything FORMAT.md specifies (from a receipt:
                                            only what follows it; a refused receipt: ValueError)
    read(dir)                               iterate the sealed records of a log

This module is the facade: it re-exports the names of its parts, one concern each,

    ref_grammar    format constants, the envelope grammar, segment names, timestamps
    ref_json       strict RFC 8259 JSON without recursion (no nesting limit), repeated names kept
    ref_ed25519    FORMAT.md's Ed25519: strict points, small order refused, the cofactored equation
    ref_keys       key ids, strict base64, the seal message, keyrings
    ref_receipts   verification receipts: reading one, its signed bytes, the line it vouches for
    ref_keystate   the key in force of a segment and the checks of one seal
    ref_bodies     the body rules of each record kind
    ref_writer     RefWriter
    ref_lines      splitting a segment into lines and parsing one line
    ref_segments   finding and ordering the segments of a log
    ref_tail       classifying a segment's tail after its last valid seal
    ref_report     Error, Report, VerifyError
    ref_verify     the verifier: verify() and read()

Every rule comes from FORMAT.md's words; where the code marks a "CHOICE", FORMAT.md decides it too.
"""

from __future__ import annotations

import os
import sys

# The parts are this file's neighbours; make them importable however this file was loaded (by
# path, as benches/peers.py does, or as tests/reference's package).
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from ref_bodies import (  # noqa: E402
    _COMPLETION_OPTIONAL,
    _HEADER_MEMBERS,
    _INTENT_MEMBERS,
    _is_int,
    _is_sha,
    _nonempty_str,
    _reversal_ok,
    check_body,
)
from ref_grammar import (  # noqa: E402
    _KEY_ID,
    _OPERATION,
    _PREFIX,
    _SEG_NAME,
    _SHA,
    _SUFFIX,
    _TIMESTAMP,
    _UUID4,
    DEFAULT_MAX_RECORD_BYTES,
    DEFAULT_MAX_SEGMENT_BYTES,
    ENVELOPE,
    FORMAT,
    FORMAT_V2,
    KINDS,
    SUFFIX_LEN,
    TAIL_CODES,
    ZERO,
    _valid_timestamp,
    segment_name,
    utc_timestamp,
)
from ref_keys import _key_matches, _load_keyring, b64decode, b64encode, key_id_of, public_key_of, seal_message  # noqa: E402
from ref_lines import _known_seq, _Line, _no_constant, _parse_line, _split, _unique_pairs  # noqa: E402
from ref_report import Error, Report, VerifyError  # noqa: E402
from ref_segments import _Segment  # noqa: E402
from ref_verify import _scan, read, verify  # noqa: E402
from ref_writer import RefWriter, _body_text, _fsync_dir, _write_all  # noqa: E402

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "DEFAULT_MAX_SEGMENT_BYTES",
    "ENVELOPE",
    "FORMAT",
    "FORMAT_V2",
    "KINDS",
    "SUFFIX_LEN",
    "TAIL_CODES",
    "ZERO",
    "Error",
    "RefWriter",
    "Report",
    "VerifyError",
    "b64decode",
    "b64encode",
    "check_body",
    "key_id_of",
    "public_key_of",
    "read",
    "seal_message",
    "segment_name",
    "utc_timestamp",
    "verify",
    # internals the tests reach into, re-exported under their old names
    "_COMPLETION_OPTIONAL",
    "_HEADER_MEMBERS",
    "_INTENT_MEMBERS",
    "_KEY_ID",
    "_OPERATION",
    "_PREFIX",
    "_SEG_NAME",
    "_SHA",
    "_SUFFIX",
    "_TIMESTAMP",
    "_UUID4",
    "_Line",
    "_Segment",
    "_body_text",
    "_fsync_dir",
    "_is_int",
    "_is_sha",
    "_key_matches",
    "_known_seq",
    "_load_keyring",
    "_no_constant",
    "_nonempty_str",
    "_parse_line",
    "_reversal_ok",
    "_scan",
    "_split",
    "_unique_pairs",
    "_valid_timestamp",
    "_write_all",
]
