"""The tail of a segment (FORMAT.md 6.5): what follows its last valid seal, classified as unsealed,
torn, a missing seal (not the last segment), or not a recoverable tail at all."""

from __future__ import annotations

_TORN_CODES = ("record.malformed", "record.hash", "record.kind")


def classify_tail(tail_lines: list, codes: list, is_last: bool):
    """The one tail finding's code, or None (the tail's line findings are then reported as they are)."""
    if not codes:
        return "tail.unsealed" if is_last else "seal.missing"
    if not is_last or any(c not in _TORN_CODES for c in codes):
        return None
    first_bad = next((i for i, ln in enumerate(tail_lines) if not ln.hash_ok), None)
    if first_bad is not None and any(ln.hash_ok for ln in tail_lines[first_bad + 1 :]):
        return None
    return "tail.torn"
