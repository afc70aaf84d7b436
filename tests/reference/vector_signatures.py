"""The Ed25519 and base64 rules of FORMAT.md section 5 as vectors: seals whose signature a signer
who knows the private key crafted around the edges (torsion in R, a small-order R, S + L, R
written non-canonically), signatures and keys in base64 a lenient decoder would accept, and a
header key that decodes only when y is reduced modulo p. Each a small log: intent 1 sealed, then
intent 2 whose seal (or the header) holds the edge."""

from __future__ import annotations

import hashlib
import os

import kfm_wal_ref as ref
import ref_ed25519 as ed
from vector_bodies import LOG_ID, StepClock, fixed_uuid, intent
from vector_expectations import expect, expected_valid, write_json
from vector_logs import BASIC_MAX_SEGMENT_BYTES, KEY_SEED, InvalidCases

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _nonce(message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(b"vector nonce" + message).digest(), "little") % ed.L


def _signature(r_bytes: bytes, s: int) -> bytes:
    return r_bytes + s.to_bytes(32, "little")


def mixed_order_r(seed: bytes, public: bytes, message: bytes) -> bytes:
    """R = rB + T (T of order 8), S = r + k a: the cofactored equation holds, the cofactorless not."""
    a, r = ed.secret_scalar(seed), _nonce(message)
    r_bytes = ed.encode(ed.add(ed.mul(r, ed.BASE), ed.TORSION8))
    return _signature(r_bytes, (r + ed.challenge(r_bytes, public, message) * a) % ed.L)


def small_order_r(seed: bytes, public: bytes, message: bytes) -> bytes:
    """R = T (order 8), S = k a: the cofactored equation holds, R is of small order."""
    r_bytes = ed.encode(ed.TORSION8)
    return _signature(r_bytes, ed.challenge(r_bytes, public, message) * ed.secret_scalar(seed) % ed.L)


def non_canonical_r(seed: bytes, public: bytes, message: bytes) -> bytes:
    """R = the identity written as y = p + 1, S = k a: the cofactored equation holds."""
    r_bytes = (ed.P + 1).to_bytes(32, "little")
    return _signature(r_bytes, ed.challenge(r_bytes, public, message) * ed.secret_scalar(seed) % ed.L)


def non_canonical_s(seed: bytes, public: bytes, message: bytes) -> bytes:
    """An honest signature with S + L instead of S."""
    a, r = ed.secret_scalar(seed), _nonce(message)
    r_bytes = ed.encode(ed.mul(r, ed.BASE))
    return _signature(r_bytes, (r + ed.challenge(r_bytes, public, message) * a) % ed.L + ed.L)


def trailing_bits(text: str) -> str:
    """The same bytes in base64 whose unused bits before the padding are not zero."""
    at = len(text.rstrip("=")) - 1
    return text[:at] + B64[B64.index(text[at]) | 1] + text[at + 1 :]


class CraftingWriter(ref.RefWriter):
    """A RefWriter whose next seal carries `craft(seed, public, message) -> 64 bytes` or whose next
    seal's base64 goes through `spell(text) -> text`; `header_key` replaces the headers'
    (public_key, key_id)."""

    craft = spell = header_key = None

    def _seal(self, closes, key=None, bad_signature=False):
        craft, spell, self.craft, self.spell = self.craft, self.spell, None, None
        if craft is None and spell is None:
            return super()._seal(closes, key, bad_signature)
        seq, ts = self.seq + 1, self._timestamp()
        message = ref.seal_message(self.log_id, seq, ts, "sha256:" + self.prev, closes)
        sig = craft(KEY_SEED, self.public_key, message) if craft else self._key.sign(message)
        text = ref.b64encode(sig)
        body = {"closes": closes, "key_id": self.key_id, "signature": spell(text) if spell else text}
        return self._line("seal", body, timestamp=ts)

    def _header_body(self):
        body = super()._header_body()
        if self.header_key is not None:
            body["public_key"], body["key_id"] = self.header_key
        return body


def _small(d, *, craft=None, spell=None, header_key=None):
    CraftingWriter.header_key = header_key
    try:
        w = CraftingWriter(d, KEY_SEED, LOG_ID, StepClock(), max_segment_bytes=BASIC_MAX_SEGMENT_BYTES, journal=True)
    finally:
        CraftingWriter.header_key = None
    w.append_many([intent(1, "etl_step")])
    w.craft, w.spell = craft, spell
    w.append_many([intent(2, "etl_step")])
    w.close()
    return w.journal


def write_signature_cases(cases: InvalidCases) -> None:
    crafted = {
        "seal-small-order-r": (
            small_order_r,
            "R is a point of order 8 and S = k a, so [8]-multiplied the "
            "equation holds: a small-order R is refused all the same",
        ),
        "seal-non-canonical-s": (non_canonical_s, "an honest signature with S + L in place of S (S must be below L)"),
        "seal-non-canonical-r": (
            non_canonical_r,
            "R is the identity written as y = p + 1 and S = k a: not a canonical encoding (and of small order)",
        ),
    }
    for name, (craft, note) in crafted.items():
        d = cases.case(name)
        j = _small(d, craft=craft)
        expect(d, j[-1], error="seal.signature", sole=True, note=note)

    d = cases.case("seal-signature-trailing-bits")
    j = _small(d, spell=trailing_bits)
    expect(
        d,
        j[-1],
        error="seal.signature",
        sole=True,
        note="the last seal's base64 has non-zero unused bits before `==` (the same 64 bytes to a lenient decoder)",
    )

    def url_safe(text):
        assert "+" in text or "/" in text, text
        return text.replace("+", "-").replace("/", "_")

    d = cases.case("seal-signature-url-safe")
    j = _small(d, spell=url_safe)
    expect(
        d,
        j[-1],
        error="seal.signature",
        sole=True,
        note="the last seal's signature in the URL-safe alphabet (`-_` for `+/`)",
    )

    public = ed.encode(ed.mul(ed.secret_scalar(KEY_SEED), ed.BASE))
    d = cases.case("header-key-base64-trailing-bits")
    j = _small(d, header_key=(trailing_bits(ref.b64encode(public)), ref.key_id_of(public)))
    expect(
        d,
        j[0],
        error="chain.segment",
        sole=False,
        note="the header's public key in base64 with non-zero "
        "unused bits before `=`: the header is invalid (its seals are then seal.untrusted_key)",
    )

    odd = (ed.P + 3).to_bytes(32, "little")  # y = 3 written as p + 3: a point of large order
    d = cases.case("header-non-canonical-key")
    j = _small(d, header_key=(ref.b64encode(odd), ref.key_id_of(odd)))
    expect(
        d,
        j[0],
        error="chain.segment",
        sole=False,
        note="the header's public key is y = 3 written as "
        "p + 3 (decodes only if y is reduced modulo p), its key_id that of those bytes: the header is invalid",
    )


def write_signature_valid(valid) -> None:
    """valid/seal-mixed-order-r: a seal whose R has a torsion part (cofactored equation)."""
    d = os.path.join(valid, "seal-mixed-order-r")
    journal = _small(d, craft=mixed_order_r)
    pending = [fixed_uuid("intent-1"), fixed_uuid("intent-2")]
    write_json(os.path.join(d, "expected.json"), expected_valid(journal, pending))
