"""The key in force and the checks of one seal (FORMAT.md section 5, "Checking one seal")."""

from __future__ import annotations

import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from ref_ed25519 import L, decode_point, verify
from ref_keys import b64decode, seal_message


@functools.lru_cache(maxsize=4096)
def signature_verifies(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """FORMAT.md section 5's verification (ref_ed25519.verify). OpenSSL's check (cofactorless,
    stricter) is only a shortcut: what it accepts, with R and A decoded by the format's rules and S
    below L, the cofactored equation accepts too; everything else takes the plain-integer path."""
    if decode_point(signature[:32]) is None or decode_point(public_key) is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return verify(public_key, signature, message)
    return int.from_bytes(signature[32:], "little") < L


class KeyState:
    """What the seals of one segment are judged against: the key in force (None: none), the keys
    revoked in earlier segments (key id -> seq of the seal that made the revoke take effect), the
    keyring (None: self-declared trust), and the segment's own log_id."""

    def __init__(self, trusted, revoked_before: dict, kid, pub, log_id):
        self.trusted, self.revoked_before = trusted, revoked_before
        self.kid, self.pub, self.log_id = kid, pub, log_id
        self.revoked_here, self.pending, self.reported, self.reported_j10 = {}, [], set(), set()

    def check(self, ln, body):
        """(L12 finding or None, L14 finding or None, J10 finding or None) for a valid seal."""
        kid = body["key_id"]
        if self.kid is None:
            l12, l14 = ("seal.untrusted_key", f"seal by {kid}: no key in force in this segment"), None
        else:
            l12, l14 = self._steps(ln, body, kid)
        j10 = None
        if kid in self.revoked_before and ln.seq > self.revoked_before[kid] and kid not in self.reported_j10:
            self.reported_j10.add(kid)
            j10 = ("seal.untrusted_key", f"seal by {kid}, revoked in an earlier segment")
        self._take_effect(ln.seq)
        return l12, l14, j10

    def _steps(self, ln, body, kid):
        why = []
        if kid != self.kid:
            why.append(f"key in force is {self.kid}")
        if kid in self.revoked_here:
            why.append("key was revoked")
        if self.trusted is not None and self.trusted.get(kid) != self.pub:
            why.append("key is not in the keyring")
        if why:  # step 2: reported at the first seal of the segment by this key id; never checked
            if kid in self.reported:
                return None, None
            self.reported.add(kid)
            return ("seal.untrusted_key", f"seal signed by {kid}: " + ", ".join(why)), None
        signature = b64decode(body["signature"], 64)
        if signature is None:  # step 3
            return ("seal.signature", "signature is not 64 bytes of strict base64"), None
        if self.log_id is None:  # a rotate in a segment whose header is invalid: not checked
            return None, None
        msg = seal_message(self.log_id, ln.seq, ln.ts, "sha256:" + ln.prev, body["closes"])
        if not signature_verifies(self.pub, signature, msg):  # step 4
            return None, ("seal.signature", f"signature by {kid} does not verify")
        return None, None

    def _take_effect(self, seq: int):
        """Key records covered by this seal take effect, in line order, after its own check."""
        for kb in self.pending:
            if kb["action"] == "rotate":
                self.kid, self.pub = kb["key_id"], b64decode(kb["public_key"], 32)
            else:
                self.revoked_here.setdefault(kb["key_id"], seq)
        self.pending = []
