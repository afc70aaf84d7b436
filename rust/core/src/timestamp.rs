//! The one timestamp spelling of the format: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, UTC, 27 bytes.
//! Fixed width means byte order is time order, so the verifier compares bytes.

use std::time::{SystemTime, UNIX_EPOCH};

pub const LEN: usize = 27;
pub type Timestamp = [u8; LEN];

/// The writer's clock, now.
pub fn now() -> Timestamp {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    from_unix_micros(micros)
}

/// Format microseconds since the Unix epoch. Days-to-civil conversion after H. Hinnant's
/// public-domain algorithm (proleptic Gregorian), so no date crate is needed for one format.
pub fn from_unix_micros(micros: i64) -> Timestamp {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let text = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", y, m, d, sod / 3600, (sod % 3600) / 60, sod % 60, frac);
    let mut out = [0u8; LEN];
    out.copy_from_slice(&text.as_bytes()[..LEN]);
    out
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Check the fixed shape and field ranges (month 1-12, day 1-31, hour < 24, minute and second
/// < 60). Day-of-month against the calendar is not checked: ordering is what the log relies on.
pub fn is_valid(ts: &[u8]) -> bool {
    if ts.len() != LEN {
        return false;
    }
    const SHAPE: &[u8; LEN] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    let shape_ok = ts.iter().zip(SHAPE.iter()).all(|(&b, &s)| if s == b'd' { b.is_ascii_digit() } else { b == s });
    if !shape_ok {
        return false;
    }
    let num = |a: usize, b: usize| ts[a..b].iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    (1..=12).contains(&num(5, 7)) && (1..=31).contains(&num(8, 10)) && num(11, 13) < 24 && num(14, 16) < 60 && num(17, 19) < 60
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
}
