//! SHA-256 as the format writes it: `sha256:<64 lowercase hex>`. The sha2 crate picks the
//! SHA-NI / AVX2 implementation at run time where the CPU has it.

pub type Digest = [u8; 32];
pub const ZERO: Digest = [0u8; 32];
pub const PREFIX: &str = "sha256:";

#[must_use]
pub fn sha256(bytes: &[u8]) -> Digest {
    // The verifier hashes every line on its own: the whole blocks go straight from the input to
    // the compression function and only the tail is padded here (FIPS 180-4 5.1.1), where the
    // hasher's block buffer would copy and track every line. Same digest as `Sha256::digest`,
    // property-tested against it.
    let whole = bytes.len() / 64 * 64;
    let mut state = H0;
    compress(&mut state, &bytes[..whole]);
    let (tail, tail_len) = padded_tail(bytes);
    compress(&mut state, &tail[..tail_len]);
    digest_of(state)
}

pub(crate) const H0: [u32; 8] =
    [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19];

/// The last one or two blocks of the message `bytes`: the bytes after its whole blocks, the
/// `0x80` marker, zeros, and the message's length in bits (FIPS 180-4 5.1.1); and their length
/// (64 or 128).
pub(crate) fn padded_tail(bytes: &[u8]) -> ([u8; 128], usize) {
    let rest = &bytes[bytes.len() / 64 * 64..];
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let tail_len = if rest.len() < 56 { 64 } else { 128 };
    tail[tail_len - 8..tail_len].copy_from_slice(&(bytes.len() as u64 * 8).to_be_bytes());
    (tail, tail_len)
}

/// The digest of a final state: its words, big-endian.
pub(crate) fn digest_of(state: [u32; 8]) -> Digest {
    let mut out = ZERO;
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// SHA-256 compression of whole 64-byte blocks (sha2's, SHA-NI where the CPU has it).
pub(crate) fn compress(state: &mut [u32; 8], blocks: &[u8]) {
    use sha2::digest::{consts::U64, generic_array::GenericArray};
    debug_assert_eq!(blocks.len() % 64, 0);
    // SAFETY: GenericArray<u8, U64> is #[repr(transparent)] over [u8; 64] (size 64, align 1),
    // and `blocks` holds exactly len / 64 of them.
    let blocks: &[GenericArray<u8, U64>] =
        unsafe { std::slice::from_raw_parts(blocks.as_ptr().cast(), blocks.len() / 64) };
    sha2::compress256(state, blocks);
}

/// Append the 64 lowercase hex digits of `digest` to `out`. Twice per record the writer builds
/// (`prev` and `hash`): 16 bytes a step with SSE2 (part of every x86-64 CPU), a few times faster
/// than a table lookup per nibble; elsewhere the hex crate.
pub fn push_hex(out: &mut Vec<u8>, digest: &Digest) {
    #[cfg(target_arch = "x86_64")]
    out.extend_from_slice(&hex_sse2(digest));
    #[cfg(not(target_arch = "x86_64"))]
    out.extend_from_slice(hex::encode(digest).as_bytes());
}

/// The 64 lowercase hex digits of `digest`: each nibble `n` becomes `'0' + n`, plus 39 (the
/// distance from `'9' + 1` to `'a'`) where `n > 9`, the high and low nibbles then interleaved.
#[cfg(target_arch = "x86_64")]
fn hex_sse2(digest: &Digest) -> [u8; 64] {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_set1_epi8, _mm_srli_epi16,
        _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
    };
    let mut out = [0u8; 64];
    // SAFETY: SSE2 is in the x86-64 baseline; each load reads 16 bytes inside `digest`, each
    // store writes 16 bytes inside `out`.
    unsafe {
        let ascii = |n: __m128i| {
            let letter = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8(39));
            _mm_add_epi8(_mm_add_epi8(n, _mm_set1_epi8(b'0'.cast_signed())), letter)
        };
        for half in 0..2 {
            let v = _mm_loadu_si128(digest.as_ptr().add(16 * half).cast());
            let low = _mm_set1_epi8(0x0F);
            let (high, low) = (ascii(_mm_and_si128(_mm_srli_epi16(v, 4), low)), ascii(_mm_and_si128(v, low)));
            let at = out.as_mut_ptr().add(32 * half);
            _mm_storeu_si128(at.cast(), _mm_unpacklo_epi8(high, low));
            _mm_storeu_si128(at.add(16).cast(), _mm_unpackhi_epi8(high, low));
        }
    }
    out
}

#[must_use]
pub fn to_prefixed(digest: &Digest) -> String {
    format!("{PREFIX}{}", hex::encode(digest))
}

/// Value of each byte as a lowercase hex digit; 0xFF for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0u8;
    while i < 10 {
        t[(b'0' + i) as usize] = i;
        i += 1;
    }
    let mut i = 0u8;
    while i < 6 {
        t[(b'a' + i) as usize] = 10 + i;
        i += 1;
    }
    t
};

/// Parse exactly 64 lowercase hex digits. Uppercase is refused so that every hash has a
/// single spelling (a verifier compares bytes).
///
/// Two of these run for every record a verifier reads (`prev` and `hash`), so validation and
/// decoding are one branch-free pass: 32 digits a step with AVX2 where the CPU has it, else 16
/// with SSE2 (part of every x86-64 CPU), elsewhere a table lookup per digit where any invalid
/// digit sets the high bits of `bad`.
#[must_use]
pub fn parse_hex(text: &[u8]) -> Option<Digest> {
    let text: &[u8; 64] = text.try_into().ok()?;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { parse_hex_avx2(text) };
    }
    #[cfg(target_arch = "x86_64")]
    return parse_hex_sse2(text);
    #[cfg(not(target_arch = "x86_64"))]
    return parse_hex_table(text);
}

/// `parse_hex_sse2` on 32 digits at a time. Written without closures: a closure would not
/// inherit this function's AVX2, and its intrinsics would become calls. Calling it (unsafe: it
/// enables a target feature) needs a CPU with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn parse_hex_avx2(text: &[u8; 64]) -> Option<Digest> {
    use std::arch::x86_64::{
        _mm256_add_epi8, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_packus_epi16, _mm256_permute4x64_epi64, _mm256_set1_epi16,
        _mm256_set1_epi8, _mm256_setzero_si256, _mm256_slli_epi16, _mm256_srli_epi16, _mm256_storeu_si256,
    };
    let mut out = ZERO;
    // SAFETY: the loads read 32 bytes each inside `text`; the store writes the 32 of `out`.
    let (a, b) =
        unsafe { (_mm256_loadu_si256(text.as_ptr().cast()), _mm256_loadu_si256(text.as_ptr().add(32).cast())) };
    let (zero, low_nibble) = (_mm256_setzero_si256(), _mm256_set1_epi8(0x0F));
    let (before_0, after_9) = (_mm256_set1_epi8(b'0'.cast_signed() - 1), _mm256_set1_epi8(b'9'.cast_signed() + 1));
    let (before_a, after_f) = (_mm256_set1_epi8(b'a'.cast_signed() - 1), _mm256_set1_epi8(b'f'.cast_signed() + 1));
    // Signed compares, as in `parse_hex_sse2`: bytes >= 0x80 are negative and fail both ranges.
    let digit_a = _mm256_and_si256(_mm256_cmpgt_epi8(a, before_0), _mm256_cmpgt_epi8(after_9, a));
    let letter_a = _mm256_and_si256(_mm256_cmpgt_epi8(a, before_a), _mm256_cmpgt_epi8(after_f, a));
    let digit_b = _mm256_and_si256(_mm256_cmpgt_epi8(b, before_0), _mm256_cmpgt_epi8(after_9, b));
    let letter_b = _mm256_and_si256(_mm256_cmpgt_epi8(b, before_a), _mm256_cmpgt_epi8(after_f, b));
    let invalid = _mm256_or_si256(
        _mm256_cmpeq_epi8(_mm256_or_si256(digit_a, letter_a), zero),
        _mm256_cmpeq_epi8(_mm256_or_si256(digit_b, letter_b), zero),
    );
    let nibbles_a = _mm256_add_epi8(_mm256_and_si256(a, low_nibble), _mm256_and_si256(letter_a, _mm256_set1_epi8(9)));
    let nibbles_b = _mm256_add_epi8(_mm256_and_si256(b, low_nibble), _mm256_and_si256(letter_b, _mm256_set1_epi8(9)));
    // 16-bit lanes hold (first digit, second digit) as (low, high) byte: byte = first << 4 | second.
    let low_byte = _mm256_set1_epi16(0x00FF);
    let pairs_a =
        _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(nibbles_a, low_byte), 4), _mm256_srli_epi16(nibbles_a, 8));
    let pairs_b =
        _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(nibbles_b, low_byte), 4), _mm256_srli_epi16(nibbles_b, 8));
    // packus works within 128-bit lanes, giving quarters (a0, b0, a1, b1): put them in order.
    let bytes = _mm256_permute4x64_epi64(_mm256_packus_epi16(pairs_a, pairs_b), 0b11_01_10_00);
    // SAFETY: the unaligned store writes exactly the 32 bytes of `out`.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), bytes) };
    (_mm256_movemask_epi8(invalid) == 0).then_some(out)
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))] // the tests compare both on x86-64
fn parse_hex_table(text: &[u8; 64]) -> Option<Digest> {
    let mut out = ZERO;
    let mut bad = 0u8;
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        bad |= hi | lo;
        *byte = (hi << 4) | (lo & 0x0F);
    }
    (bad & 0xF0 == 0).then_some(out)
}

#[cfg(target_arch = "x86_64")]
fn parse_hex_sse2(text: &[u8; 64]) -> Option<Digest> {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_packus_epi16, _mm_set1_epi16, _mm_set1_epi8, _mm_setzero_si128,
        _mm_slli_epi16, _mm_srli_epi16, _mm_storeu_si128,
    };
    let mut out = ZERO;
    // SAFETY: SSE2 is in the x86-64 baseline; loads read 16 bytes inside `text`, stores write
    // 16 bytes inside `out`.
    let valid = unsafe {
        let mut invalid = _mm_setzero_si128();
        // Nibble values of 16 digits: ASCII signed compares (bytes >= 0x80 are negative, so
        // they fail both ranges); 'a'-'f' have low nibble 1-6, so +9.
        let nibbles = |v: __m128i, invalid: &mut __m128i| {
            let digit = _mm_and_si128(
                _mm_cmpgt_epi8(v, _mm_set1_epi8(b'0'.cast_signed() - 1)),
                _mm_cmplt_epi8(v, _mm_set1_epi8(b'9'.cast_signed() + 1)),
            );
            let letter = _mm_and_si128(
                _mm_cmpgt_epi8(v, _mm_set1_epi8(b'a'.cast_signed() - 1)),
                _mm_cmplt_epi8(v, _mm_set1_epi8(b'f'.cast_signed() + 1)),
            );
            *invalid = _mm_or_si128(*invalid, _mm_cmpeq_epi8(_mm_or_si128(digit, letter), _mm_setzero_si128()));
            _mm_add_epi8(_mm_and_si128(v, _mm_set1_epi8(0x0F)), _mm_and_si128(letter, _mm_set1_epi8(9)))
        };
        // 16-bit lanes hold (first digit, second digit) as (low, high) byte: byte = first << 4 | second.
        let pairs = |n: __m128i| {
            _mm_or_si128(_mm_slli_epi16(_mm_and_si128(n, _mm_set1_epi16(0x00FF)), 4), _mm_srli_epi16(n, 8))
        };
        for half in 0..2 {
            let at = text.as_ptr().add(32 * half);
            let a = nibbles(_mm_loadu_si128(at.cast()), &mut invalid);
            let b = nibbles(_mm_loadu_si128(at.add(16).cast()), &mut invalid);
            _mm_storeu_si128(out.as_mut_ptr().add(16 * half).cast(), _mm_packus_epi16(pairs(a), pairs(b)));
        }
        _mm_movemask_epi8(invalid) == 0
    };
    valid.then_some(out)
}

/// Whether `text` is `sha256:` + 64 lowercase hex digits (a check, no decoding).
#[must_use]
pub fn is_prefixed(text: &str) -> bool {
    is_prefixed_bytes(text.as_bytes())
}

/// `is_prefixed` on bytes.
#[must_use]
pub fn is_prefixed_bytes(b: &[u8]) -> bool {
    b.len() == PREFIX.len() + 64 && b.starts_with(PREFIX.as_bytes()) && parse_hex(&b[PREFIX.len()..]).is_some()
}

/// Parse `sha256:<hex>`.
#[must_use]
pub fn parse_prefixed(text: &str) -> Option<Digest> {
    text.strip_prefix(PREFIX).and_then(|h| parse_hex(h.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    #[test]
    fn digest_of_every_length_class_matches_sha2() {
        let mut rng = fastrand::Rng::with_seed(21);
        let data: Vec<u8> = (0..5000).map(|_| rng.u8(..)).collect();
        for len in (0..300).chain((0..200).map(|_| rng.usize(0..5000))) {
            let m = &data[..len];
            assert_eq!(sha256(m), <[u8; 32]>::from(Sha256::digest(m)), "length {len}");
        }
    }

    #[test]
    fn known_answer() {
        // FIPS 180-2 "abc"
        assert_eq!(hex::encode(sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn push_hex_writes_what_the_hex_crate_does() {
        let mut rng = fastrand::Rng::with_seed(22);
        let mut digests = vec![ZERO, [0xFF; 32], core::array::from_fn(|i| u8::try_from(i * 8).unwrap())];
        digests.extend((0..2000).map(|_| core::array::from_fn(|_| rng.u8(..))));
        for d in digests {
            let mut v = b"x".to_vec();
            push_hex(&mut v, &d);
            assert_eq!(v, [b"x".as_slice(), hex::encode(d).as_bytes()].concat());
        }
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
        for bad in [b'g', b'G', b'A', b'/', b':', b'`', b' ', 0x00, 0xFF] {
            for at in [0, 31, 63] {
                let mut w = v.clone();
                w[at] = bad;
                assert_eq!(parse_hex(&w), None, "byte {bad:#x} at {at}");
            }
        }
        assert!(
            is_prefixed(&to_prefixed(&d)) && !is_prefixed("sha256:00") && !is_prefixed(&to_prefixed(&d).to_uppercase())
        );
    }

    proptest::proptest! {
        /// The table decoder agrees with the `hex` crate plus a lowercase check: on the hex of
        /// any digest, and on it with any one byte replaced by any other.
        #[test]
        fn parse_hex_matches_the_hex_crate(digest in proptest::array::uniform32(0u8..), at in 0usize..64,
                                           with in proptest::option::of(0u8..)) {
            let mut text = hex::encode(digest).into_bytes();
            if let Some(b) = with {
                text[at] = b;
            }
            let lowercase = text.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            let mut want = ZERO;
            let want = (lowercase && hex::decode_to_slice(&text, &mut want).is_ok()).then_some(want);
            proptest::prop_assert_eq!(parse_hex(&text), want);
            proptest::prop_assert_eq!(parse_hex_table(&text.as_slice().try_into().unwrap()), want);
            proptest::prop_assert_eq!(parse_hex_sse2(&text.as_slice().try_into().unwrap()), want);
        }
    }
}
