//! Where the quotes and backslashes of a line are, one bit per byte, built in one pass before
//! the body is read. Finding where a string ends is then a shift and a trailing-zero count
//! instead of a search loop whose exit the CPU mispredicts on every string of another length
//! (that misprediction was most of the cost of reading a body). The same pass says whether the
//! bytes are all printable ASCII, so the common body needs no separate UTF-8 or control check.

/// Bit `i % 64` of word `i / 64` is set when byte `from + i` of the line is `"` or `\`.
#[derive(Default)]
pub struct QuoteIndex {
    words: Vec<u64>,
    from: usize,
}

impl QuoteIndex {
    /// Index `bytes[from..]`; true when every indexed byte is printable ASCII (0x20-0x7F).
    pub fn build(&mut self, bytes: &[u8], from: usize) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU has AVX-512BW (checked just above).
            return unsafe { self.build_avx512(bytes, from) };
        }
        self.build_with(bytes, from, block_marks)
    }

    /// `build` compiled for AVX-512BW, so `block_marks_avx512` inlines into its loop.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX-512BW (`is_x86_feature_detected!("avx512bw")`): run elsewhere, its
    /// instructions are undefined.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512bw")]
    unsafe fn build_avx512(&mut self, bytes: &[u8], from: usize) -> bool {
        self.build_with(bytes, from, |block| block_marks_avx512(block))
    }

    #[allow(
        clippy::inline_always,
        reason = "inlined into each #[target_feature] caller, so `marks` is compiled with its SIMD features"
    )]
    #[inline(always)]
    fn build_with(&mut self, bytes: &[u8], from: usize, marks: impl Fn(&[u8; 64]) -> (u64, bool)) -> bool {
        self.from = from;
        self.words.clear();
        let mut unusual = false;
        let mut blocks = bytes[from..].chunks_exact(64);
        for block in &mut blocks {
            let (word, odd) = marks(block.try_into().expect("64 bytes"));
            self.words.push(word);
            unusual |= odd;
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            // Padded with spaces: printable, and neither a quote nor a backslash.
            let mut last = [b' '; 64];
            last[..rest.len()].copy_from_slice(rest);
            let (word, odd) = marks(&last);
            self.words.push(word);
            unusual |= odd;
        }
        !unusual
    }

    /// The first `"` or `\` at or after `at` (which must not be before the indexed start).
    #[inline]
    pub fn next(&self, at: usize) -> Option<usize> {
        let rel = at.checked_sub(self.from)?;
        let (mut k, shift) = (rel / 64, rel % 64);
        // The 64 bits from `at` on, taken from two words: any string shorter than 64 bytes ends
        // without a loop. (`<< 1 << (63 - shift)` is `<< (64 - shift)` without overflowing at 0.)
        let (lo, hi) = (*self.words.get(k)?, self.words.get(k + 1).copied().unwrap_or(0));
        let ahead = lo >> shift | hi << 1 << (63 - shift);
        if ahead != 0 {
            return Some(at + ahead.trailing_zeros() as usize);
        }
        k += 1;
        loop {
            let word = *self.words.get(k)?;
            if word != 0 {
                return Some(self.from + k * 64 + word.trailing_zeros() as usize);
            }
            k += 1;
        }
    }
}

/// The quote/backslash bits of 64 bytes, and whether any byte is outside 0x20-0x7F.
#[cfg(target_arch = "x86_64")]
fn block_marks(block: &[u8; 64]) -> (u64, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    let mut marks = 0u64;
    // SAFETY: SSE2 is in the x86-64 baseline; each load reads 16 bytes inside `block`.
    let odd = unsafe {
        let (quote, backslash, space) =
            (_mm_set1_epi8(b'"'.cast_signed()), _mm_set1_epi8(b'\\'.cast_signed()), _mm_set1_epi8(0x20));
        let mut below = _mm_setzero_si128();
        for part in 0..4 {
            #[allow(clippy::cast_ptr_alignment, reason = "_mm_loadu_si128 is an unaligned load")]
            let v = _mm_loadu_si128(block.as_ptr().add(16 * part).cast::<__m128i>());
            let m = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
            marks |= u64::from(_mm_movemask_epi8(m).cast_unsigned()) << (16 * part);
            // Signed compare: bytes >= 0x80 are negative, so they count as below 0x20 too.
            below = _mm_or_si128(below, _mm_cmplt_epi8(v, space));
        }
        _mm_movemask_epi8(below) != 0
    };
    (marks, odd)
}

/// `block_marks` in three AVX-512 compares, each giving its 64-bit mask directly, for the CPUs
/// that have AVX-512BW. Calling it (unsafe: it enables a target feature) needs a CPU with
/// AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
#[inline]
fn block_marks_avx512(block: &[u8; 64]) -> (u64, bool) {
    use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_cmplt_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8};
    // SAFETY: the load reads the 64 bytes of `block`.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let marks = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'"'.cast_signed()))
        | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\\'.cast_signed()));
    // Signed compare, as in `block_marks`: bytes >= 0x80 count as below 0x20.
    (marks, _mm512_cmplt_epi8_mask(v, _mm512_set1_epi8(0x20)) != 0)
}

#[cfg(not(target_arch = "x86_64"))]
fn block_marks(block: &[u8; 64]) -> (u64, bool) {
    block_marks_scalar(block)
}

/// `block_marks` a byte at a time: the other CPUs' version, and the SSE2 one's reference.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn block_marks_scalar(block: &[u8; 64]) -> (u64, bool) {
    let mut marks = 0u64;
    let mut odd = false;
    for (i, &b) in block.iter().enumerate() {
        marks |= u64::from(b == b'"' || b == b'\\') << i;
        odd |= !(0x20..0x80).contains(&b);
    }
    (marks, odd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_mark_from_every_start() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut index = QuoteIndex::default();
        for len in [0usize, 1, 15, 63, 64, 65, 127, 128, 129, 300] {
            let bytes: Vec<u8> = (0..len).map(|_| [b'a', b'"', b'\\', b' ', b'~'][rng.usize(0..5)]).collect();
            let from = rng.usize(0..=len.min(7));
            assert!(index.build(&bytes, from));
            for at in from..=len {
                let want = bytes[at..].iter().position(|&c| c == b'"' || c == b'\\').map(|p| at + p);
                assert_eq!(index.next(at), want, "len {len} from {from} at {at}");
            }
        }
        // Long runs without a mark: the search crosses several words.
        let mut long = vec![b'x'; 1000];
        long[900] = b'"';
        assert!(index.build(&long, 3));
        assert_eq!(index.next(5), Some(900));
        assert_eq!(index.next(901), None);
    }

    #[test]
    fn simd_and_scalar_blocks_agree() {
        let mut rng = fastrand::Rng::with_seed(12);
        for _ in 0..5_000 {
            let mut block = [0u8; 64];
            let bytes: &[u8] =
                if rng.bool() { b"a\"\\ ~{}:," } else { &[b'a', b'"', 0x00, 0x1F, 0x20, 0x7F, 0x80, 0xFF] };
            for b in &mut block {
                *b = bytes[rng.usize(0..bytes.len())];
            }
            assert_eq!(block_marks(&block), block_marks_scalar(&block), "{block:?}");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512bw") {
                // SAFETY: the CPU has AVX-512BW.
                assert_eq!(unsafe { block_marks_avx512(&block) }, block_marks_scalar(&block), "{block:?}");
            }
        }
    }

    #[test]
    fn says_when_bytes_are_not_printable_ascii() {
        let mut index = QuoteIndex::default();
        for odd in [0x00u8, 0x0A, 0x1F, 0x80, 0xC3, 0xFF] {
            for at in [0usize, 17, 63, 64, 70] {
                let mut bytes = vec![b'a'; 71];
                bytes[at] = odd;
                assert!(!index.build(&bytes, 0), "{odd:#x} at {at}");
                assert!(index.build(&bytes, at + 1));
            }
        }
        assert!(index.build(b" ~\x7f", 0));
    }
}
