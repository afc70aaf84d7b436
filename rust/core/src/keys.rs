//! Ed25519 for seals: key ids, the signed message (domain-separated, bound to one log), signing,
//! and verification in batches (`batch_verify`) with a per-signature fallback that names the bad one.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::batch_verify;
use crate::error::{Result, WalError};
use crate::hash::{self, Digest};
use crate::signature_rules;

/// `ed25519:` + first 16 hex digits of SHA-256 of the raw public key.
#[must_use]
pub fn key_id(public: &VerifyingKey) -> String {
    let digest = hash::sha256(public.as_bytes());
    format!("ed25519:{}", &hex::encode(digest)[..16])
}

/// A public key as the format writes it: id plus base64 of the raw 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub key_id: String,
    pub key: VerifyingKey,
}

impl PublicKey {
    #[must_use]
    pub fn new(key: VerifyingKey) -> Self {
        PublicKey { key_id: key_id(&key), key }
    }

    /// Decode strict base64 (standard alphabet, padding, zero trailing bits); the point rules are
    /// `signature_rules::decode_point`'s (FORMAT.md section 5).
    ///
    /// # Errors
    /// `WalError::Key` when `text` is not base64 or the bytes are not an acceptable key
    /// (see [`PublicKey::from_raw`]).
    pub fn from_base64(text: &str) -> Result<Self> {
        let raw = B64.decode(text).map_err(|e| WalError::Key(format!("public key is not base64: {e}")))?;
        Self::from_raw(&raw)
    }

    /// The raw 32 bytes of an Ed25519 public key.
    ///
    /// # Errors
    /// `WalError::Key` when `raw` is not 32 bytes, not a canonical encoding of a point of the
    /// curve, or a weak (small-order) key.
    pub fn from_raw(raw: &[u8]) -> Result<Self> {
        let bytes: [u8; 32] =
            raw.try_into().map_err(|_| WalError::Key(format!("public key must be 32 bytes, got {}", raw.len())))?;
        if !signature_rules::is_canonical_encoding(&bytes) {
            return Err(WalError::Key("public key is not a canonical Ed25519 point encoding".to_owned()));
        }
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| WalError::Key("public key is not a valid Ed25519 point".to_owned()))?;
        if signature_rules::decode_point(&bytes).is_none() {
            return Err(WalError::Key("public key is a weak (small-order) key".to_owned()));
        }
        Ok(Self::new(key))
    }

    #[must_use]
    pub fn to_base64(&self) -> String {
        B64.encode(self.key.as_bytes())
    }
}

/// The writer's signing key.
pub struct WriterKey {
    signing: SigningKey,
    pub public: PublicKey,
}

impl WriterKey {
    /// From the 32-byte Ed25519 seed (RFC 8032 private key).
    ///
    /// # Errors
    /// `WalError::Key` when `seed` is not 32 bytes.
    pub fn from_seed(seed: &[u8]) -> Result<Self> {
        let seed: [u8; 32] =
            seed.try_into().map_err(|_| WalError::Key(format!("private key must be 32 bytes, got {}", seed.len())))?;
        let signing = SigningKey::from_bytes(&seed);
        let public = PublicKey::new(signing.verifying_key());
        Ok(WriterKey { signing, public })
    }

    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// docs/FORMAT.md section 4, "seal".
#[must_use]
pub fn seal_message(log_id: &str, seq: u64, timestamp: &[u8], prev: &Digest, closes: bool) -> Vec<u8> {
    let mut m = Vec::with_capacity(160);
    m.extend_from_slice(b"kfm-wal/1 seal\n");
    m.extend_from_slice(log_id.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    m.push(b'\n');
    m.extend_from_slice(timestamp);
    m.push(b'\n');
    m.extend_from_slice(hash::PREFIX.as_bytes());
    hash::push_hex(&mut m, prev);
    m.push(b'\n');
    m.push(if closes { b'1' } else { b'0' });
    m.push(b'\n');
    m
}

#[must_use]
pub fn decode_signature(text: &str) -> Option<Signature> {
    let raw = B64.decode(text).ok()?;
    let bytes: [u8; 64] = raw.as_slice().try_into().ok()?;
    Some(Signature::from_bytes(&bytes))
}

#[must_use]
pub fn encode_signature(sig: &[u8; 64]) -> String {
    B64.encode(sig)
}

/// Signatures per batch: the per-signature cost falls with the batch (7.0 us at 256, 6.3 us at
/// 1,024 on one core), a failed batch costs one strict verification per member (~40 us each), and
/// a segment of a log seals about a thousand commits.
const BATCH: usize = 1024;

/// One signature to check, with the caller's tag to report it by.
pub struct PendingSignature<T> {
    pub message: Vec<u8>,
    pub signature: Signature,
    pub key: VerifyingKey,
    pub tag: T,
}

/// Verify all, in batches of up to `BATCH` (`batch_verify`); when a batch fails, fall back to
/// single verification (`signature_rules::verify_one`, the same rules) inside it to name every
/// bad signature. Returns the tags of the
/// signatures that do not verify.
#[must_use]
pub fn verify_all<T>(items: Vec<PendingSignature<T>>) -> Vec<T> {
    let mut bad = Vec::new();
    let mut items = items;
    while !items.is_empty() {
        let rest = items.split_off(items.len().min(BATCH));
        let chunk = std::mem::replace(&mut items, rest);
        let messages: Vec<&[u8]> = chunk.iter().map(|p| p.message.as_slice()).collect();
        let signatures: Vec<Signature> = chunk.iter().map(|p| p.signature).collect();
        let keys: Vec<VerifyingKey> = chunk.iter().map(|p| p.key).collect();
        if batch_verify::verify_batch(&messages, &signatures, &keys) {
            continue;
        }
        for p in chunk {
            if !signature_rules::verify_one(&p.message, &p.signature, &p.key) {
                bad.push(p.tag);
            }
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_batch_verify_names_the_bad_one() {
        let k = WriterKey::from_seed(&[7u8; 32]).unwrap();
        let mut items = Vec::new();
        for i in 0..300u64 {
            let msg = seal_message("log", i, b"2026-01-01T00:00:00.000000Z", &hash::ZERO, false);
            let mut sig = k.sign(&msg);
            if i == 257 {
                sig[0] ^= 1;
            }
            items.push(PendingSignature {
                message: msg,
                signature: Signature::from_bytes(&sig),
                key: k.public.key,
                tag: i,
            });
        }
        assert_eq!(verify_all(items), vec![257]);
    }

    #[test]
    fn key_id_and_base64_round_trip() {
        let k = WriterKey::from_seed(&[1u8; 32]).unwrap();
        let back = PublicKey::from_base64(&k.public.to_base64()).unwrap();
        assert_eq!(back, k.public);
        assert!(k.public.key_id.starts_with("ed25519:") && k.public.key_id.len() == 24);
        assert!(PublicKey::from_raw(&[0u8; 31]).is_err());
    }
}
