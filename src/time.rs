//! Time as the engine sees it: passed in with each packet, never read
//! from a clock here, so replays are deterministic and tests set it.

use std::fmt;

/// Microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Ts(pub u64);

impl Ts {
    pub const fn from_secs(s: u64) -> Ts {
        Ts(s * 1_000_000)
    }

    pub fn now() -> Ts {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ts(d.as_micros() as u64)
    }

    pub fn secs(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Whole seconds elapsed since `earlier` (0 if `earlier` is later).
    pub fn secs_since(self, earlier: Ts) -> u64 {
        self.0.saturating_sub(earlier.0) / 1_000_000
    }
}

/// `2026-12-04T16:04:59.123456+0000`, the form EVE uses (always UTC).
impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000;
        let micros = self.0 % 1_000_000;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+0000",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// well-known days-to-civil algorithm, rewritten here).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eve_timestamp_format() {
        assert_eq!(Ts(0).to_string(), "1970-01-01T00:00:00.000000+0000");
        // 2000-02-29 (a leap day) 12:34:56.000789
        let t = Ts(951_827_696 * 1_000_000 + 789);
        assert_eq!(t.to_string(), "2000-02-29T12:34:56.000789+0000");
    }
}
