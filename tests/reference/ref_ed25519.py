"""Ed25519 as FORMAT.md section 5 defines it, in plain integers: strict point decoding (RFC 8032
5.1.3: y below p, no sign bit on x = 0), small-order points refused, S below L, and the cofactored
equation [8][S]B = [8]R + [8][k]A. Also the point arithmetic the vector generator crafts
signatures with (torsion in R or A, small-order points, S + L)."""

from __future__ import annotations

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
_SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z


def add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = t1 * 2 * D * t2 % P, z1 * 2 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def neg(a):
    x, y, z, t = a
    return (-x % P, y, z, -t % P)


def mul(k: int, point):
    result = IDENTITY
    while k:
        if k & 1:
            result = add(result, point)
        point = add(point, point)
        k >>= 1
    return result


def is_identity(point) -> bool:
    x, y, z, _ = point
    return x % P == 0 and (y - z) % P == 0


def encode(point) -> bytes:
    x, y, z, _ = point
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decompress(raw: bytes, strict: bool = True):
    """The point `raw` encodes, or None. strict: RFC 8032's decoding (y >= p and a sign bit on
    x = 0 fail); not strict: y is reduced modulo p, as some libraries do."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    sign = raw[31] >> 7
    if y >= P:
        if strict:
            return None
        y -= P
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * _SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x == 0 and sign and strict:
        return None
    if (x & 1) != sign:
        x = (P - x) % P
    return (x, y, 1, x * y % P)


def is_small_order(point) -> bool:
    return is_identity(mul(8, point))


def decode_point(raw: bytes):
    """A point as the format accepts it (a public key A, a signature's R): 32 bytes, decoded
    strictly, not of small order (mixed order is accepted). None otherwise."""
    if len(raw) != 32:
        return None
    point = decompress(raw)
    return None if point is None or is_small_order(point) else point


BASE = decompress((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))
# A point of order 8 (x chosen with the even root): its multiples are the whole torsion subgroup.
TORSION8 = decompress(bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))


def challenge(r: bytes, a: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + a + message).digest(), "little") % L


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """FORMAT.md section 5, "Signature verification"."""
    a, r = decode_point(public_key), decode_point(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or len(signature) != 64 or s >= L:
        return False
    k = challenge(signature[:32], public_key, message)
    residual = add(add(mul(s, BASE), neg(mul(k, a))), neg(r))
    return is_small_order(residual)


def secret_scalar(seed: bytes) -> int:
    """The private scalar a of an RFC 8032 seed (SHA-512, low half, clamped)."""
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")
