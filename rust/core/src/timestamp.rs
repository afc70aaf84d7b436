//! The one timestamp spelling of the format: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, UTC, 27 bytes.
//! Fixed width means byte order is time order, so the verifier compares bytes.

use std::time::{SystemTime, UNIX_EPOCH};

pub const LEN: usize = 27;
pub type Timestamp = [u8; LEN];

/// The writer's clock, now.
#[must_use]
pub fn now() -> Timestamp {
    let micros =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    from_unix_micros(micros)
}

/// Format microseconds since the Unix epoch. Days-to-civil conversion after H. Hinnant's
/// public-domain algorithm (proleptic Gregorian), so no date crate is needed for one format.
#[must_use]
pub fn from_unix_micros(micros: i64) -> Timestamp {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let text =
        format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", y, m, d, sod / 3600, (sod % 3600) / 60, sod % 60, frac);
    let mut out = [0u8; LEN];
    out.copy_from_slice(&text.as_bytes()[..LEN]);
    out
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Check the fixed shape and field ranges (month 1-12, day 1-31, hour < 24, minute and second
/// < 60). Day-of-month against the calendar is not checked: ordering is what the log relies on.
#[must_use]
#[allow(clippy::needless_bitwise_bool, reason = "branchless: this runs for every line of a log")]
pub fn is_valid(ts: &[u8]) -> bool {
    // Every line's timestamp is checked, so the shape is one bytewise range compare against
    // two templates (tens digits already capped: month 0-1, day 0-3, hour 0-2, minutes and
    // seconds 0-5), and only the pairs whose ones digit depends on the tens are left.
    const LOW: &[u8; 32] = b"0000-00-00T00:00:00.000000Z     ";
    const HIGH: &[u8; 32] = b"9999-19-39T29:59:59.999999Z     ";
    let Ok(t) = <&Timestamp>::try_from(ts) else { return false };
    let mut padded = *LOW;
    padded[..LEN].copy_from_slice(t);
    let shape = within(&padded, LOW, HIGH);
    let (month, day, hour) = ([t[5], t[6]], [t[8], t[9]], [t[11], t[12]]);
    shape
        & (month != *b"00")
        & (month[0] == b'0' || month[1] <= b'2')
        & (day != *b"00")
        & (day[0] != b'3' || day[1] <= b'1')
        & (hour[0] != b'2' || hour[1] <= b'3')
}

/// `low[i] <= b[i] <= high[i]` for all 32 bytes (unsigned).
#[cfg(target_arch = "x86_64")]
fn within(b: &[u8; 32], low: &[u8; 32], high: &[u8; 32]) -> bool {
    use std::arch::x86_64::{
        _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_min_epu8, _mm_movemask_epi8, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is in the x86-64 baseline; every load reads 16 bytes inside a 32-byte array.
    unsafe {
        let mut inside = _mm_set1_epi8(-1);
        for half in [0, 16] {
            let load = |a: &[u8; 32]| _mm_loadu_si128(a.as_ptr().add(half).cast());
            let (v, lo, hi) = (load(b), load(low), load(high));
            // max(v, lo) == v iff v >= lo; min(v, hi) == v iff v <= hi.
            let ok = _mm_and_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, lo), v), _mm_cmpeq_epi8(_mm_min_epu8(v, hi), v));
            inside = _mm_and_si128(inside, ok);
        }
        _mm_movemask_epi8(inside) == 0xFFFF
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn within(b: &[u8; 32], low: &[u8; 32], high: &[u8; 32]) -> bool {
    b.iter().zip(low).zip(high).all(|((&b, &lo), &hi)| lo <= b && b <= hi)
}

/// `a < b` in byte order (= time order for the fixed-width spelling), as two overlapping 16-byte
/// big-endian words: this runs for every line, where an array compare is a `memcmp` call.
#[must_use]
#[inline]
pub(crate) fn earlier(a: &Timestamp, b: &Timestamp) -> bool {
    let word = |t: &Timestamp, at: usize| u128::from_be_bytes(t[at..at + 16].try_into().expect("16 bytes"));
    (word(a, 0), word(a, LEN - 16)) < (word(b, 0), word(b, LEN - 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(&from_unix_micros(0), b"1970-01-01T00:00:00.000000Z");
        // 2026-01-01T00:00:00Z = 1767225600 s
        assert_eq!(&from_unix_micros(1_767_225_600_000_001), b"2026-01-01T00:00:00.000001Z");
        assert_eq!(&from_unix_micros(951_782_400_000_000), b"2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn validity() {
        assert!(is_valid(&now()));
        assert!(!is_valid(b"2026-13-01T00:00:00.000000Z"));
        assert!(!is_valid(b"2026-01-01 00:00:00.000000Z"));
        assert!(!is_valid(b"2026-01-01T00:00:00Z"));
    }

    /// The rule as written in FORMAT.md, character by character: the reference for `is_valid`.
    fn spec(ts: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(ts) else { return false };
        let shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
        if text.len() != shape.len()
            || !text.chars().zip(shape.chars()).all(|(c, s)| if s == 'd' { c.is_ascii_digit() } else { c == s })
        {
            return false;
        }
        let n = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap();
        (1..=12).contains(&n(5..7))
            && (1..=31).contains(&n(8..10))
            && n(11..13) < 24
            && n(14..16) < 60
            && n(17..19) < 60
    }

    #[test]
    fn agrees_with_the_spelled_out_rule_on_mutations() {
        let mut rng = fastrand::Rng::with_seed(3);
        let alphabet = b"0123456789-T:.Z /9\x80";
        for _ in 0..100_000 {
            let mut ts = from_unix_micros(rng.i64(0..4_102_444_800_000_000)).to_vec();
            for _ in 0..rng.usize(0..3) {
                let i = rng.usize(0..ts.len());
                ts[i] = alphabet[rng.usize(0..alphabet.len())];
            }
            if rng.u8(..) < 10 {
                ts.truncate(rng.usize(0..ts.len()));
            }
            assert_eq!(is_valid(&ts), spec(&ts), "{:?}", String::from_utf8_lossy(&ts));
        }
    }

    #[test]
    fn earlier_is_byte_order() {
        let mut rng = fastrand::Rng::with_seed(4);
        let base = *b"2026-01-01T00:00:00.000000Z";
        for _ in 0..20_000 {
            let (mut a, mut b) = (base, base);
            for t in [&mut a, &mut b] {
                for _ in 0..rng.usize(0..3) {
                    t[rng.usize(0..LEN)] = rng.u8(b'0'..=b'9');
                }
            }
            assert_eq!(earlier(&a, &b), a < b, "{} {}", String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        }
    }
}
