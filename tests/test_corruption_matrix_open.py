"""Corruption matrix, opening for writing: what `Wal.open` makes of one defect at a time in a
multi-segment log written by the Rust writer (corruption_matrix_cases): recoverable tails cut or
refused, anything else refused with nothing changed (docs/FORMAT.md section 6)."""

from __future__ import annotations

from pathlib import Path

import kfm_wal
import pytest
from corruption_matrix_cases import CASES, damaged
from corruption_matrix_log import KEY, OTHER_KEY, Pristine, locations, make_pristine
from kfm_wal import CorruptionError, KeyMismatchError, Wal, keys
from waltools import findings, make_entry, ref, snapshot


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    return make_pristine(tmp_path_factory.mktemp("matrix"))


def check_still_writable(log: Path, key: keys.SigningKey, keyring: Path | None) -> None:
    """Append after opening; both verifiers accept the result."""
    with Wal.open(log, key, recovery="strict", durability="none") as w:
        r = w.append(make_entry(99))
        w.complete(r.wal_id)
    assert findings(kfm_wal.verify(log, keyring)) == []
    assert findings(ref.verify(log, None if keyring is None else str(keyring))) == []


@pytest.mark.parametrize("name", list(CASES))
def test_wal_open(name: str, pristine: Pristine, tmp_path: Path) -> None:
    """Opening the damaged log for writing: recoverable tails are cut (tolerate-tail) or refused
    (strict); anything else is refused with CorruptionError and leaves every file as it was."""
    log, exp = damaged(name, pristine, tmp_path)
    files = snapshot(log)
    before = locations(pristine.log)

    if exp.cls == "valid":
        # Nothing to repair (or, for a deleted live segment, a rotation to finish): opens in strict
        # mode and keeps every record the verifiers accept.
        with Wal.open(log, KEY, recovery="strict", durability="none") as w:
            assert w.head[0] >= (exp.head_seq or 0)
        assert [r for r in locations(log) if r[2] <= (exp.head_seq or 0)] == [
            r for r in before if r[2] <= (exp.head_seq or 0)
        ]
        check_still_writable(log, KEY, pristine.keyring)
        return

    if exp.cls == "trust":
        # Wal.open takes no keyring: a log trusts the key its first header declares (self-declared
        # trust), so its own writer opens it; any other key is refused as not the writer key.
        with pytest.raises(KeyMismatchError):
            Wal.open(log, KEY, durability="none")
        assert snapshot(log) == files
        assert findings(kfm_wal.verify(log)) == [] and findings(ref.verify(log)) == []
        check_still_writable(log, OTHER_KEY, None)
        return

    want = (exp.code, exp.segment, exp.offset, exp.seq)
    if exp.cls == "corruption":
        # verify="all": after a clean close, a closed segment changed in place (same name and size)
        # is trusted by the default open (FORMAT.md section 7) and caught by validate.
        for mode in ("tolerate-tail", "strict"):
            with pytest.raises(CorruptionError) as err:
                Wal.open(log, KEY, recovery=mode, durability="none", verify="all")  # type: ignore[arg-type]
            got = err.value.finding
            assert got is not None and (got["code"], got["segment"], got["offset"], got["seq"]) == want
            assert snapshot(log) == files
        return

    assert exp.cls == "recoverable"
    with pytest.raises(CorruptionError) as err:
        Wal.open(log, KEY, recovery="strict", durability="none")
    got = err.value.finding
    assert got is not None and (got["code"], got["segment"], got["offset"], got["seq"]) == want
    assert snapshot(log) == files
    live = log / exp.segment
    data = live.read_bytes()
    with Wal.open(log, KEY, durability="none") as w:
        (note,) = w.recovery
        assert (note["segment"], note["offset"], note["bytes"]) == (exp.segment, exp.offset, len(data) - exp.offset)
        # The copy leaves out the torn line's final zeros (FORMAT.md 6.9); the note counts them.
        assert Path(note["saved_to"]).read_bytes() == data[exp.offset :].rstrip(b"\0")
        assert Path(note["saved_to"]).name == f"{exp.segment}.{exp.offset}.tail"
    assert live.read_bytes() == data[: exp.offset]
    assert findings(kfm_wal.verify(log, pristine.keyring)) == []
    assert findings(ref.verify(log, str(pristine.keyring))) == []
    # every sealed record before the cut is intact, and nothing after it survives
    kept = [r for r in before if (r[0] != exp.segment or r[1] < exp.offset)]
    assert locations(log) == kept
    assert [(r["seq"], r["hash"]) for r in ref.read(log)] == [(r[2], r[3]) for r in kept]
    # ... and the cut is exactly the end of the last sealed record, a seal
    last = list(kfm_wal.records(log))[-1]
    assert (last.kind, last.segment, last.offset + len(last.line)) == ("seal", exp.segment, exp.offset)
    check_still_writable(log, KEY, pristine.keyring)
