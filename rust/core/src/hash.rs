//! SHA-256 as the format writes it: `sha256:<64 lowercase hex>`. The sha2 crate picks the
//! SHA-NI / AVX2 implementation at run time where the CPU has it.

use sha2::{Digest as _, Sha256};

pub type Digest = [u8; 32];
pub const ZERO: Digest = [0u8; 32];
pub const PREFIX: &str = "sha256:";

pub fn sha256(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// Append the 64 lowercase hex digits of `digest` to `out`.
pub fn push_hex(out: &mut Vec<u8>, digest: &Digest) {
    let start = out.len();
    out.resize(start + 64, 0);
    hex::encode_to_slice(digest, &mut out[start..]).expect("64-byte buffer for 32-byte digest");
}

pub fn to_prefixed(digest: &Digest) -> String {
    format!("{PREFIX}{}", hex::encode(digest))
}

/// Parse exactly 64 lowercase hex digits. Uppercase is refused so that every hash has a
/// single spelling (a verifier compares bytes).
pub fn parse_hex(text: &[u8]) -> Option<Digest> {
    if text.len() != 64 || !text.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = ZERO;
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Whether `text` is `sha256:` + 64 lowercase hex digits (a check, no decoding).
pub fn is_prefixed(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == PREFIX.len() + 64 && text.starts_with(PREFIX) && b[PREFIX.len()..].iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parse `sha256:<hex>`.
pub fn parse_prefixed(text: &str) -> Option<Digest> {
    text.strip_prefix(PREFIX).and_then(|h| parse_hex(h.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // FIPS 180-2 "abc"
        assert_eq!(hex::encode(sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn hex_round_trip_and_case() {
        let d = sha256(b"x");
        let mut v = Vec::new();
        push_hex(&mut v, &d);
        assert_eq!(parse_hex(&v), Some(d));
        assert_eq!(parse_hex(v.to_ascii_uppercase().as_slice()), None);
        assert_eq!(parse_prefixed(&to_prefixed(&d)), Some(d));
        assert_eq!(parse_prefixed("sha256:00"), None);
        assert!(is_prefixed(&to_prefixed(&d)) && !is_prefixed("sha256:00") && !is_prefixed(&to_prefixed(&d).to_uppercase()));
    }
}
