//! Ed25519 batch verification for many signatures by few keys: a log's seals are nearly all
//! signed by one writer key.
//!
//! A batch checks one random linear combination of the signatures' equations,
//!
//! ```text
//! [-Σ z_i s_i] B + Σ [z_i] R_i + Σ [z_i k_i] A_i = 0,    k_i = SHA-512(R_i || A_i || M_i)
//! ```
//!
//! in one multiscalar multiplication. `ed25519_dalek::verify_batch` gives it one point per
//! signature for `A_i`; here the signatures by the same key share one term, [Σ `z_i` `k_i`] A, so the
//! multiplication has n + keys + 1 points instead of 2n + 1: about half the work.
//!
//! It accepts exactly what `signature_rules::verify_one` accepts, signature by signature (up to a
//! 2^-128 chance): every s canonical, every R and A decoded by `signature_rules::decode_point`
//! (canonical, not of small order), and the equation multiplied by the cofactor 8, so torsion in
//! an R or A cancels in the batch exactly as it does alone (FORMAT.md section 5). The `z_i` are 128-bit
//! coefficients derived from every key, message and signature in the batch, as ed25519-dalek
//! derives them with its transcript: a forger cannot pick signatures whose errors cancel
//! without knowing the `z_i`, and any change to the batch changes them all.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest as _, Sha512};

use crate::signature_rules::{decode_point, decode_scalar, BASEPOINT};

const DOMAIN: &[u8] = b"kfm-wal/1 ed25519 batch coefficients\n";

/// True when every signature verifies (in the batch sense above) under its key.
pub fn verify_batch(messages: &[&[u8]], signatures: &[Signature], keys: &[VerifyingKey]) -> bool {
    assert!(messages.len() == signatures.len() && keys.len() == signatures.len(), "one message and key per signature");
    let n = signatures.len();
    let mut seed = Sha512::new_with_prefix(DOMAIN);
    let mut hrams = Vec::with_capacity(n);
    for ((message, signature), key) in messages.iter().zip(signatures).zip(keys) {
        let hram = Sha512::new()
            .chain_update(signature.r_bytes())
            .chain_update(key.as_bytes())
            .chain_update(message)
            .finalize();
        seed.update(hram);
        seed.update(signature.s_bytes());
        hrams.push(Scalar::from_bytes_mod_order_wide(&hram.into()));
    }
    let seed = seed.finalize();
    let coefficients = Coefficients { seed: seed.into(), block: [0; 64], next: 0, used: 4 };

    let mut scalars = Vec::with_capacity(n + 3);
    let mut points = Vec::with_capacity(n + 3);
    let mut base = Scalar::ZERO;
    // (key, Σ z_i k_i over its signatures): a handful of keys at most, so a list.
    let mut key_terms: Vec<(&VerifyingKey, Scalar)> = Vec::new();
    for (((signature, key), hram), z) in signatures.iter().zip(keys).zip(&hrams).zip(coefficients) {
        let Some(s) = decode_scalar(signature.s_bytes()) else { return false };
        let Some(r) = decode_point(signature.r_bytes()) else { return false };
        base += z * s;
        scalars.push(z);
        points.push(r);
        match key_terms.iter_mut().find(|(k, _)| *k == key) {
            Some((_, sum)) => *sum += z * hram,
            None => key_terms.push((key, z * hram)),
        }
    }
    scalars.push(-base);
    points.push(BASEPOINT);
    for (key, sum) in key_terms {
        let Some(a) = decode_point(key.as_bytes()) else { return false };
        scalars.push(sum);
        points.push(a);
    }
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).mul_by_cofactor().is_identity()
}

/// `z_1`, `z_2`, ...: 128-bit scalars, four from each SHA-512(seed || block number).
struct Coefficients {
    seed: [u8; 64],
    block: [u8; 64],
    next: u64,
    used: usize,
}

impl Iterator for Coefficients {
    type Item = Scalar;

    fn next(&mut self) -> Option<Scalar> {
        if self.used == 4 {
            self.block = Sha512::new_with_prefix(self.seed).chain_update(self.next.to_le_bytes()).finalize().into();
            self.next += 1;
            self.used = 0;
        }
        let at = 16 * self.used;
        self.used += 1;
        let z = u128::from_le_bytes(self.block[at..at + 16].try_into().expect("16 bytes"));
        Some(Scalar::from(z))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};

    fn signed(keys: &[SigningKey], n: usize, seed: u64) -> (Vec<Vec<u8>>, Vec<Signature>, Vec<VerifyingKey>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let key = &keys[rng.usize(0..keys.len())];
            let message: Vec<u8> = (0..rng.usize(0..200)).map(|_| rng.u8(..)).chain(i.to_le_bytes()).collect();
            out.1.push(key.sign(&message));
            out.0.push(message);
            out.2.push(key.verifying_key());
        }
        out
    }

    fn check(messages: &[Vec<u8>], signatures: &[Signature], keys: &[VerifyingKey]) -> (bool, bool) {
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        (verify_batch(&refs, signatures, keys), ed25519_dalek::verify_batch(&refs, signatures, keys).is_ok())
    }

    #[test]
    fn agrees_with_ed25519_dalek_on_valid_and_damaged_batches() {
        let keys: Vec<SigningKey> = (1..=3u8).map(|b| SigningKey::from_bytes(&[b; 32])).collect();
        let mut rng = fastrand::Rng::with_seed(9);
        for case in 0..120 {
            let n = [0, 1, 2, 7, 64, 300][case % 6];
            let key_count = 1 + case % 3;
            let (mut messages, mut signatures, mut vks) = signed(&keys[..key_count], n, case as u64);
            assert_eq!(check(&messages, &signatures, &vks), (true, true), "valid case {case}");
            if n == 0 {
                continue;
            }
            let i = rng.usize(0..n);
            match case % 5 {
                0 => messages[i].push(b'!'),
                1 => {
                    let mut raw = signatures[i].to_bytes();
                    raw[rng.usize(0..64)] ^= 1 << rng.u8(0..8);
                    signatures[i] = Signature::from_bytes(&raw);
                }
                2 => vks[i] = SigningKey::from_bytes(&[99; 32]).verifying_key(),
                3 => {
                    // s + L: the same point equation, but not canonical.
                    let mut raw = signatures[i].to_bytes();
                    let s = Scalar::from_canonical_bytes(raw[32..].try_into().unwrap()).unwrap();
                    let l_minus_1 = -Scalar::ONE;
                    // s + (L - 1) + 1 = s + L < 2^254: still 32 bytes.
                    let mut carry = 1u16;
                    for (k, (a, b)) in s.as_bytes().iter().zip(l_minus_1.as_bytes()).enumerate() {
                        let sum = u16::from(*a) + u16::from(*b) + carry;
                        raw[32 + k] = sum.to_le_bytes()[0];
                        carry = sum >> 8;
                    }
                    signatures[i] = Signature::from_bytes(&raw);
                }
                _ if n > 1 => signatures.swap(i, (i + 1) % n),
                _ => continue,
            }
            let (ours, theirs) = check(&messages, &signatures, &vks);
            assert_eq!(ours, theirs, "damaged case {case}");
            assert!(!ours, "damage accepted, case {case}");
        }
    }

    #[test]
    fn coefficients_depend_on_the_whole_batch() {
        let a = Coefficients { seed: [1; 64], block: [0; 64], next: 0, used: 4 };
        let b = Coefficients { seed: [2; 64], block: [0; 64], next: 0, used: 4 };
        let (za, zb): (Vec<Scalar>, Vec<Scalar>) = (a.take(9).collect(), b.take(9).collect());
        assert!(za.iter().zip(&zb).all(|(x, y)| x != y));
        let distinct: std::collections::HashSet<[u8; 32]> = za.iter().map(Scalar::to_bytes).collect();
        assert_eq!(distinct.len(), 9);
        assert!(za.iter().all(|z| z.as_bytes()[16..] == [0; 16]), "128-bit coefficients");
    }
}

#[cfg(test)]
#[path = "batch_verify_crafted_tests.rs"]
mod crafted_tests;
