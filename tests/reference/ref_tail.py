"""The tail of a log (FORMAT.md section 6): what follows the last valid seal of the last segment,
classified as torn, unsealed, or (when a good line follows a bad one) not a tail at all."""

from __future__ import annotations


def _classify_tail(tail_lines: list):
    """(index of the last valid seal or -1, indices of the torn lines, tail error or None); the tail
    error is (line index, code, message)."""
    seal_at = max((i for i, ln in enumerate(tail_lines) if ln.status == "good" and ln.kind == "seal"), default=-1)
    last_hash_ok = max((i for i, ln in enumerate(tail_lines) if ln.hash_ok), default=-1)
    torn = [i for i, ln in enumerate(tail_lines) if ln.status != "good" and i > last_hash_ok]
    tail_corrupt = any(ln.status != "good" and i not in torn for i, ln in enumerate(tail_lines) if i > seal_at)
    tail_error = None  # (line index, code, message)
    if torn:
        # CHOICE: a torn tail is reported once, at the start of the tail (the recovery cut point),
        # unless a corrupted line precedes the torn part in the tail.
        at = torn[0] if tail_corrupt else seal_at + 1
        tail_error = (at, "tail.torn", f"torn tail: {tail_lines[torn[0]].problem}")
    elif seal_at + 1 < len(tail_lines) and not tail_corrupt:
        count = len(tail_lines) - seal_at - 1
        tail_error = (seal_at + 1, "tail.unsealed", f"{count} record(s) after the last seal")
    return seal_at, torn, tail_error
