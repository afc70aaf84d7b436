"""FORMAT.md section 5's Ed25519 rules, the core (kfm_wal._core.verify_signature: the single
check a failed batch falls back to) against the reference (tests/reference/ref_ed25519.py), over
random messages and the signatures a key holder can craft: torsion in R (valid: cofactored
equation), a small-order or non-canonical R, S + L, and base64 spellings a lenient decoder
accepts. The batch path is covered by the vectors built from the same crafts (a log's seals are
verified in batches)."""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kfm_wal import _core

sys.path.insert(0, str(Path(__file__).resolve().parent / "reference"))
import ref_ed25519 as ed  # noqa: E402
import vector_signatures as crafts  # noqa: E402

SEED = hashlib.sha256(b"kfm-wal signature rules test key").digest()
PUBLIC = ed.encode(ed.mul(ed.secret_scalar(SEED), ed.BASE))


def honest(seed: bytes, public: bytes, message: bytes) -> bytes:
    a, r = ed.secret_scalar(seed), crafts._nonce(message)
    r_bytes = ed.encode(ed.mul(r, ed.BASE))
    return r_bytes + ((r + ed.challenge(r_bytes, public, message) * a) % ed.L).to_bytes(32, "little")


CRAFTS = {  # name: (signer, valid by FORMAT.md section 5)
    "honest": (honest, True),
    "mixed-order R": (crafts.mixed_order_r, True),
    "small-order R": (crafts.small_order_r, False),
    "non-canonical R": (crafts.non_canonical_r, False),
    "S + L": (crafts.non_canonical_s, False),
}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(CRAFTS)), st.binary(max_size=64))
def test_core_and_reference_agree_on_crafted_signatures(name: str, message: bytes) -> None:
    sign, valid = CRAFTS[name]
    signature = sign(SEED, PUBLIC, message)
    assert ed.verify(PUBLIC, signature, message) is valid
    assert _core.verify_signature(b64(PUBLIC), message, b64(signature)) is valid
    assert _core.verify_signature(b64(PUBLIC), message + b"!", b64(signature)) is False


def test_small_order_and_non_canonical_keys_verify_nothing() -> None:
    message = b"m"
    small = ed.encode(ed.TORSION8)
    r_bytes = ed.encode(ed.mul(7, ed.BASE))
    signature = r_bytes + (7).to_bytes(32, "little")  # [7]B = R + [k]T up to torsion: passes unless refused
    assert not ed.verify(small, signature, message)
    assert not _core.verify_signature(b64(small), message, b64(signature))
    odd = (ed.P + 3).to_bytes(32, "little")  # y = 3 written as p + 3
    assert ed.decompress(odd, strict=False) is not None and ed.decode_point(odd) is None
    assert not _core.verify_signature(b64(odd), message, b64(honest(SEED, odd, message)))


@pytest.mark.parametrize(
    "spell",
    [
        crafts.trailing_bits,
        lambda t: t.rstrip("="),
        lambda t: t.replace("+", "-").replace("/", "_") if ("+" in t or "/" in t) else t[:-3] + "-==",
        lambda t: " " + t,
    ],
    ids=["trailing bits", "no padding", "url-safe", "whitespace"],
)
def test_only_canonical_standard_base64_is_read(spell) -> None:
    message = b"base64"
    signature = b64(honest(SEED, PUBLIC, message))
    assert _core.verify_signature(b64(PUBLIC), message, signature)
    assert not _core.verify_signature(b64(PUBLIC), message, spell(signature))
    assert not _core.verify_signature(spell(b64(PUBLIC)), message, signature)
