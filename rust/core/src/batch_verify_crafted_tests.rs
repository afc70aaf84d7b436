//! Batch and single verification accept exactly the same set, crafted signatures included: the
//! signatures a malicious signer (who knows the private scalar) can build around the edges of
//! FORMAT.md section 5: torsion in R or A, small-order R or A, S not below L, non-canonical R.

use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, VerifyingKey};

use super::verify_batch;
use crate::signature_rules::{challenge, verify_one, BASEPOINT};

/// What a crafted signature does differently from an honest one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Craft {
    Honest,
    /// R = rB + T, T of order 2, 4 or 8 (index into `EIGHT_TORSION`): valid (cofactored).
    MixedOrderR(usize),
    /// A = aB + T, signed honestly with a: valid (cofactored).
    MixedOrderA(usize),
    /// R = T, S = k a: the cofactored equation holds, but R is of small order: invalid.
    SmallOrderR(usize),
    /// A = T (weak key), R = rB, S = r: invalid.
    SmallOrderA(usize),
    /// S + L: invalid.
    NonCanonicalS,
    /// R = the identity written as y = p + 1, S = k a: invalid.
    NonCanonicalR,
    /// One bit of the message changed after signing: invalid.
    WrongMessage,
}

const ALL: [Craft; 8] = [
    Craft::Honest,
    Craft::MixedOrderR(1),
    Craft::MixedOrderA(4),
    Craft::SmallOrderR(3),
    Craft::SmallOrderA(2),
    Craft::NonCanonicalS,
    Craft::NonCanonicalR,
    Craft::WrongMessage,
];

fn expected_valid(craft: Craft) -> bool {
    matches!(craft, Craft::Honest | Craft::MixedOrderR(_) | Craft::MixedOrderA(_))
}

struct Crafted {
    message: Vec<u8>,
    signature: Signature,
    key: VerifyingKey,
}

fn scalar(rng: &mut fastrand::Rng) -> Scalar {
    let mut wide = [0u8; 64];
    rng.fill(&mut wide);
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn craft(craft: Craft, rng: &mut fastrand::Rng) -> Crafted {
    let (a, r) = (scalar(rng), scalar(rng));
    let torsion = |i: usize| EIGHT_TORSION[i % 8];
    let a_point: EdwardsPoint = match craft {
        Craft::MixedOrderA(i) => BASEPOINT * a + torsion(i),
        Craft::SmallOrderA(i) => torsion(i),
        _ => BASEPOINT * a,
    };
    let a_bytes = a_point.compress().to_bytes();
    let r_bytes = match craft {
        Craft::MixedOrderR(i) => (BASEPOINT * r + torsion(i)).compress().to_bytes(),
        Craft::SmallOrderR(i) => torsion(i).compress().to_bytes(),
        Craft::NonCanonicalR => {
            let mut y = [0xffu8; 32];
            y[0] = 0xee; // p + 1 = 1 (mod p): the identity
            y[31] = 0x7f;
            y
        }
        _ => (BASEPOINT * r).compress().to_bytes(),
    };
    let mut message: Vec<u8> = (0..rng.usize(0..80)).map(|_| rng.u8(..)).collect();
    let k = challenge(&r_bytes, &a_bytes, &message);
    let s = match craft {
        Craft::SmallOrderR(_) | Craft::NonCanonicalR => k * a,
        Craft::SmallOrderA(_) => r,
        _ => r + k * a,
    };
    let mut s_bytes = s.to_bytes();
    if craft == Craft::NonCanonicalS {
        s_bytes = add_group_order(&s_bytes);
    }
    if craft == Craft::WrongMessage {
        message.push(1);
    }
    let mut raw = [0u8; 64];
    raw[..32].copy_from_slice(&r_bytes);
    raw[32..].copy_from_slice(&s_bytes);
    let key = VerifyingKey::from_bytes(&a_bytes).expect("every crafted A decompresses");
    Crafted { message, signature: Signature::from_bytes(&raw), key }
}

/// s + L as 32 little-endian bytes (below 2^254 for any canonical s, so it fits).
fn add_group_order(s: &[u8; 32]) -> [u8; 32] {
    let l_minus_1 = (-Scalar::ONE).to_bytes();
    let mut out = [0u8; 32];
    let mut carry = 1u16;
    for (k, (a, b)) in s.iter().zip(l_minus_1.iter()).enumerate() {
        let sum = u16::from(*a) + u16::from(*b) + carry;
        out[k] = sum.to_le_bytes()[0];
        carry = sum >> 8;
    }
    out
}

fn batch(items: &[&Crafted]) -> bool {
    let messages: Vec<&[u8]> = items.iter().map(|c| c.message.as_slice()).collect();
    let signatures: Vec<Signature> = items.iter().map(|c| c.signature).collect();
    let keys: Vec<VerifyingKey> = items.iter().map(|c| c.key).collect();
    verify_batch(&messages, &signatures, &keys)
}

#[test]
fn each_crafted_signature_alone_gets_the_same_verdict_from_both_paths() {
    let mut rng = fastrand::Rng::with_seed(25519);
    for craft_kind in ALL {
        for torsion in 0..8 {
            let kind = match craft_kind {
                Craft::MixedOrderR(_) => Craft::MixedOrderR(torsion),
                Craft::MixedOrderA(_) => Craft::MixedOrderA(torsion),
                Craft::SmallOrderR(_) => Craft::SmallOrderR(torsion),
                Craft::SmallOrderA(_) => Craft::SmallOrderA(torsion),
                other => other,
            };
            let c = craft(kind, &mut rng);
            let single = verify_one(&c.message, &c.signature, &c.key);
            // T = EIGHT_TORSION[0] is the identity: "mixed order" is then honest.
            assert_eq!(single, expected_valid(kind), "{kind:?}");
            assert_eq!(batch(&[&c]), single, "{kind:?}");
        }
    }
}

#[test]
fn mixed_order_r_is_what_a_cofactorless_check_would_refuse() {
    // Why the choice matters: ed25519-dalek's verify_strict (cofactorless) refuses it, while a
    // cofactorless batch accepts it whenever its coefficient is a multiple of the torsion's order.
    let mut rng = fastrand::Rng::with_seed(8);
    let c = craft(Craft::MixedOrderR(1), &mut rng);
    assert!(c.key.verify_strict(&c.message, &c.signature).is_err());
    assert!(verify_one(&c.message, &c.signature, &c.key));
}

#[test]
fn non_canonical_r_decodes_in_curve25519_dalek_but_not_here() {
    let mut rng = fastrand::Rng::with_seed(3);
    let c = craft(Craft::NonCanonicalR, &mut rng);
    assert!(CompressedEdwardsY(*c.signature.r_bytes()).decompress().is_some());
    assert!(!verify_one(&c.message, &c.signature, &c.key));
}

/// Property: for random mixes of crafted signatures (one to a few keys, any order), the batch
/// passes iff every signature passes alone, and `keys::verify_all` names exactly those that fail.
#[test]
fn random_mixes_batch_iff_all_single_and_verify_all_names_the_failures() {
    let mut rng = fastrand::Rng::with_seed(2026);
    for round in 0..200 {
        let n = rng.usize(1..12);
        let items: Vec<Crafted> = (0..n)
            .map(|_| {
                let kind = if rng.u8(0..3) == 0 { ALL[rng.usize(1..ALL.len())] } else { Craft::Honest };
                let kind = match kind {
                    Craft::MixedOrderR(_) => Craft::MixedOrderR(rng.usize(1..8)),
                    Craft::MixedOrderA(_) => Craft::MixedOrderA(rng.usize(1..8)),
                    other => other,
                };
                craft(kind, &mut rng)
            })
            .collect();
        let singles: Vec<bool> = items.iter().map(|c| verify_one(&c.message, &c.signature, &c.key)).collect();
        let refs: Vec<&Crafted> = items.iter().collect();
        assert_eq!(batch(&refs), singles.iter().all(|ok| *ok), "round {round}");
        let pending = items
            .iter()
            .enumerate()
            .map(|(i, c)| crate::keys::PendingSignature {
                message: c.message.clone(),
                signature: c.signature,
                key: c.key,
                tag: i,
            })
            .collect();
        let bad: Vec<usize> = (0..n).filter(|i| !singles[*i]).collect();
        assert_eq!(crate::keys::verify_all(pending), bad, "round {round}");
    }
}
