//! The elements of one compact JSON array, as byte ranges. The Python layer encodes a chunk of a
//! large batch with one encoder call (`[{..},{..},..]`) rather than one call and one buffer per
//! entry: that call is cheaper, and a thousand small buffers allocated and freed per batch made the
//! allocator give memory back to the system and fault it in again on every batch. The core then
//! finds where each element starts and ends and checks every element as the entry it is. (The
//! writer first tries `array_accept`, which does both in one walk; this split is for the arrays
//! that walk is unsure of.)
//!
//! The split reads 64 bytes at a time: which bytes are quotes, backslashes and structural
//! characters (`{ } [ ] ,`), which quotes are escaped, and, by a prefix XOR of the unescaped
//! quotes, which bytes are inside strings. Only the structural characters outside strings are
//! then visited one by one (a few dozen per entry), to follow the nesting depth.
//!
//! The split does not judge JSON: it only cuts at the top-level commas. Whatever lies between two
//! of them is one element, and every element is then checked strictly, as an entry of its own, so
//! a malformed array yields elements that fail their check (or no split at all), never an entry
//! that was not in it.

use std::ops::Range;

/// The byte ranges of the elements of the JSON array `data` (`[` first, `]` last, no whitespace
/// outside the elements), or None when `data` is not shaped as one array: unbalanced brackets, a
/// string left open, anything after the closing `]`.
#[must_use]
pub fn split_array(data: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut split = Split { elements: Vec::new(), depth: 0, start: 1, closed: false };
    let (mut in_string, mut escape_carry) = (0u64, false);
    let (blocks, rest) = data.as_chunks::<64>();
    let mut base = 0;
    for block in blocks {
        let marks = classify(block);
        split.visit(data, base, structural_outside_strings(marks, &mut in_string, &mut escape_carry))?;
        base += 64;
    }
    if !rest.is_empty() {
        // Padded with spaces: neither a quote, a backslash nor structural.
        let mut last = [b' '; 64];
        last[..rest.len()].copy_from_slice(rest);
        let marks = classify(&last);
        split.visit(data, base, structural_outside_strings(marks, &mut in_string, &mut escape_carry))?;
    }
    (split.closed && in_string == 0).then_some(split.elements)
}

/// Per 64 bytes, one bit per byte: quotes, backslashes, structural characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Marks {
    quotes: u64,
    backslashes: u64,
    structural: u64,
}

/// The structural characters of a block that are not inside a string. `in_string` is all ones
/// when the previous block ended inside a string (and is left so for the next); `escape_carry`
/// when the previous block ended with a backslash that escapes this block's first byte.
fn structural_outside_strings(marks: Marks, in_string: &mut u64, escape_carry: &mut bool) -> u64 {
    let escaped = if marks.backslashes == 0 && !*escape_carry { 0 } else { escaped(marks.backslashes, escape_carry) };
    let inside = prefix_xor(marks.quotes & !escaped) ^ *in_string;
    // Sign-extend the last byte's state into the next block's starting state.
    *in_string = 0u64.wrapping_sub(inside >> 63);
    marks.structural & !inside
}

/// Bits of the bytes a backslash escapes (the byte after each backslash that is not itself
/// escaped), a backslash run crossing the block's end carried in `carry`. Rare: only blocks with
/// a backslash come here.
fn escaped(backslashes: u64, carry: &mut bool) -> u64 {
    let (mut escaped, mut open) = (0u64, backslashes);
    if *carry {
        escaped |= 1;
        open &= !1;
    }
    *carry = false;
    while open != 0 {
        let i = open.trailing_zeros();
        open &= !(1u64 << i);
        if i == 63 {
            *carry = true;
        } else {
            escaped |= 1u64 << (i + 1);
            open &= !(1u64 << (i + 1));
        }
    }
    escaped
}

/// Bit i of the result is the XOR of bits 0..=i of `x`: set from an opening quote up to (not
/// including) its closing one.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// The nesting walk over the structural characters outside strings.
struct Split {
    elements: Vec<Range<usize>>,
    depth: usize,
    /// Where the current element starts.
    start: usize,
    /// The array's closing `]` was seen.
    closed: bool,
}

impl Split {
    fn visit(&mut self, data: &[u8], base: usize, mut bits: u64) -> Option<()> {
        while bits != 0 {
            let at = base + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if self.closed {
                return None;
            }
            match data[at] {
                b'[' | b'{' => {
                    if self.depth == 0 && (at != 0 || data[at] != b'[') {
                        return None;
                    }
                    self.depth += 1;
                }
                b']' | b'}' => match self.depth {
                    0 => return None,
                    1 => {
                        if data[at] != b']' || at + 1 != data.len() {
                            return None;
                        }
                        // `[]` holds no element; otherwise the last one ends here.
                        if at > 1 || !self.elements.is_empty() {
                            self.elements.push(self.start..at);
                        }
                        self.depth = 0;
                        self.closed = true;
                    }
                    _ => self.depth -= 1,
                },
                // A comma: ends an element at the top level; inside one it is the element's own.
                _ => match self.depth {
                    0 => return None,
                    1 => {
                        self.elements.push(self.start..at);
                        self.start = at + 1;
                    }
                    _ => {}
                },
            }
        }
        Some(())
    }
}

#[cfg(target_arch = "x86_64")]
fn classify(block: &[u8; 64]) -> Marks {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    let mut marks = Marks { quotes: 0, backslashes: 0, structural: 0 };
    // SAFETY: SSE2 is in the x86-64 baseline; each load reads 16 bytes inside `block`.
    unsafe {
        let byte = |b: u8| _mm_set1_epi8(b.cast_signed());
        let (quote, backslash, comma, case) = (byte(b'"'), byte(b'\\'), byte(b','), byte(0x20));
        // `[` and `]` differ from `{` and `}` only in bit 0x20: one compare each after OR-ing it in.
        let (open, close) = (byte(b'{'), byte(b'}'));
        for part in 0..4 {
            #[allow(clippy::cast_ptr_alignment, reason = "_mm_loadu_si128 is an unaligned load")]
            let v = _mm_loadu_si128(block.as_ptr().add(16 * part).cast::<__m128i>());
            let mask = |m: __m128i| u64::from(_mm_movemask_epi8(m).cast_unsigned()) << (16 * part);
            marks.quotes |= mask(_mm_cmpeq_epi8(v, quote));
            marks.backslashes |= mask(_mm_cmpeq_epi8(v, backslash));
            let folded = _mm_or_si128(v, case);
            let brackets = _mm_or_si128(_mm_cmpeq_epi8(folded, open), _mm_cmpeq_epi8(folded, close));
            marks.structural |= mask(_mm_or_si128(brackets, _mm_cmpeq_epi8(v, comma)));
        }
    }
    marks
}

#[cfg(not(target_arch = "x86_64"))]
fn classify(block: &[u8; 64]) -> Marks {
    classify_scalar(block)
}

/// `classify` a byte at a time: the other CPUs' version, and the SSE2 one's reference.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn classify_scalar(block: &[u8; 64]) -> Marks {
    let mut marks = Marks { quotes: 0, backslashes: 0, structural: 0 };
    for (i, &b) in block.iter().enumerate() {
        marks.quotes |= u64::from(b == b'"') << i;
        marks.backslashes |= u64::from(b == b'\\') << i;
        marks.structural |= u64::from(matches!(b, b'{' | b'}' | b'[' | b']' | b',')) << i;
    }
    marks
}

#[cfg(test)]
#[path = "entry_array_tests.rs"]
mod tests;
