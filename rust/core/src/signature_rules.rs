//! The Ed25519 rules of docs/FORMAT.md section 5, in one place, so that batch verification
//! (`batch_verify`) and single verification (`verify_one`) accept exactly the same signatures.
//!
//! - Points (a public key `A`, a signature's `R`) are decoded as RFC 8032 5.1.3 says, strictly: the
//!   255-bit `y` must be below p (no non-canonical encoding), `x = 0` must not carry a sign bit, the
//!   point must be on the curve; and it must not be of small order (its [8] multiple is not the
//!   identity). A point of mixed order (a prime-order part plus torsion) is accepted.
//! - `S` must be canonical: below the group order L.
//! - The equation is the cofactored one, `[8][S]B = [8]R + [8][k]A`, `k = SHA-512(R || A || M)`.
//!
//! Why cofactored: a batch checks one random combination of the equations. With the cofactorless
//! equation, a signature whose `R` carries torsion fails alone but passes a batch whenever its
//! random coefficient happens to kill the torsion (1 time in 8, and a signer can grind for it): the
//! two paths would disagree. Multiplied by the cofactor, every equation only sees the prime-order
//! subgroup, where a random combination is zero only if every term is (up to 2^-128).

use std::sync::LazyLock;

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest as _, Sha512};

/// p - 1 = 2^255 - 20 and 1, little-endian without the sign bit: the two `y` whose `x` is 0.
const Y_ONE: [u8; 32] = {
    let mut y = [0u8; 32];
    y[0] = 1;
    y
};
const Y_MINUS_ONE: [u8; 32] = {
    let mut y = [0xffu8; 32];
    y[0] = 0xec;
    y[31] = 0x7f;
    y
};

/// Whether `bytes` is the canonical encoding of some `y` (below p = 2^255 - 19) and does not put a
/// sign bit on `x = 0` (RFC 8032 5.1.3). Says nothing about the curve: see [`decode_point`].
#[must_use]
pub fn is_canonical_encoding(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    let sign = y[31] >> 7;
    y[31] &= 0x7f;
    // y >= p iff y is one of p .. 2^255 - 1: 0x7fff..ff with the low byte >= 0xed.
    let at_least_p = y[31] == 0x7f && y[1..31].iter().all(|b| *b == 0xff) && y[0] >= 0xed;
    let negative_zero = sign == 1 && (y == Y_ONE || y == Y_MINUS_ONE);
    !at_least_p && !negative_zero
}

/// The canonical encodings of the eight points of small order. Once an encoding is known to be
/// canonical, a point is of small order iff its bytes are one of these: a comparison instead of
/// three doublings per signature.
static SMALL_ORDER_ENCODINGS: LazyLock<[[u8; 32]; 8]> =
    LazyLock::new(|| EIGHT_TORSION.map(|t| t.compress().to_bytes()));

/// A point as the format accepts it (`A` or `R`): canonical, on the curve, not of small order.
#[must_use]
pub fn decode_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    if !is_canonical_encoding(bytes) || SMALL_ORDER_ENCODINGS.contains(bytes) {
        return None;
    }
    CompressedEdwardsY(*bytes).decompress()
}

/// `S` below the group order.
#[must_use]
pub fn decode_scalar(bytes: &[u8; 32]) -> Option<Scalar> {
    Option::<Scalar>::from(Scalar::from_canonical_bytes(*bytes))
}

/// `k = SHA-512(R || A || M)` reduced modulo L.
#[must_use]
pub fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let hram = Sha512::new().chain_update(r).chain_update(a).chain_update(message).finalize();
    Scalar::from_bytes_mod_order_wide(&hram.into())
}

/// One signature under the rules above.
#[must_use]
pub fn verify_one(message: &[u8], signature: &Signature, key: &VerifyingKey) -> bool {
    let (Some(a), Some(r), Some(s)) =
        (decode_point(key.as_bytes()), decode_point(signature.r_bytes()), decode_scalar(signature.s_bytes()))
    else {
        return false;
    };
    let k = challenge(signature.r_bytes(), key.as_bytes(), message);
    let residual = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-a, &s) - r;
    residual.mul_by_cofactor().is_identity()
}

/// The base point, for callers that build the batch equation.
pub const BASEPOINT: EdwardsPoint = ED25519_BASEPOINT_POINT;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_encodings() {
        assert!(is_canonical_encoding(&Y_ONE));
        assert!(is_canonical_encoding(&[0u8; 32]));
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(!is_canonical_encoding(&p), "y = p");
        let mut p_minus_1 = p;
        p_minus_1[0] = 0xec;
        assert!(is_canonical_encoding(&p_minus_1));
        let mut top = [0xffu8; 32];
        top[31] = 0x7f;
        assert!(!is_canonical_encoding(&top), "y = 2^255 - 1");
        let mut neg_zero = Y_ONE;
        neg_zero[31] |= 0x80;
        assert!(!is_canonical_encoding(&neg_zero), "x = 0 with a sign bit");
        // curve25519-dalek itself decodes y = p + 1 as the identity: the check above is needed.
        let mut p_plus_1 = p;
        p_plus_1[0] = 0xee;
        assert!(CompressedEdwardsY(p_plus_1).decompress().is_some());
        assert!(decode_point(&p_plus_1).is_none());
    }

    #[test]
    fn the_small_order_list_is_exactly_the_small_order_points() {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..2000 {
            let mut bytes = [0u8; 32];
            rng.fill(&mut bytes);
            if let Some(p) = CompressedEdwardsY(bytes).decompress().filter(|_| is_canonical_encoding(&bytes)) {
                assert_eq!(decode_point(&bytes).is_none(), p.is_small_order());
            }
        }
        for (i, t) in EIGHT_TORSION.iter().enumerate() {
            assert!(t.is_small_order());
            for u in &EIGHT_TORSION[..i] {
                assert_ne!(t.compress(), u.compress(), "eight distinct encodings");
            }
        }
    }

    #[test]
    fn small_order_points_are_refused_mixed_order_accepted() {
        for t in EIGHT_TORSION {
            assert!(decode_point(t.compress().as_bytes()).is_none());
            let mixed = BASEPOINT * Scalar::from(5u8) + t;
            assert!(decode_point(mixed.compress().as_bytes()).is_some());
        }
    }
}
