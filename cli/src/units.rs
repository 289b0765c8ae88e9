//! How sizes and record times are shown to people and in JSON.

/// A byte count for people: `512 B`, `1.5 KiB`, `12.0 MiB` (binary units, as
/// the config file's sizes).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A record timestamp (nanoseconds since the Unix epoch) as RFC 3339 in UTC,
/// to the second: `2026-05-04T10:20:30Z`.
pub fn time(ns: u64) -> String {
    let (date, clock) = civil(ns);
    format!("{date}T{clock}Z")
}

/// As [`time`], with the nanoseconds: `2026-05-04T10:20:30.123456789Z`.
pub fn time_ns(ns: u64) -> String {
    let (date, clock) = civil(ns);
    format!("{date}T{clock}.{:09}Z", ns % 1_000_000_000)
}

/// `time(ns)` for a timestamp that may be absent, `-` then.
pub fn time_or_dash(ns: Option<u64>) -> String {
    ns.map_or_else(|| "-".to_owned(), time)
}

/// (`YYYY-MM-DD`, `hh:mm:ss`) of a timestamp, in UTC.
fn civil(ns: u64) -> (String, String) {
    let secs = ns / 1_000_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    (format!("{y:04}-{m:02}-{d:02}"), format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60))
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
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

/// Bytes as lowercase hex.
pub fn hex(data: &[u8]) -> String {
    use std::fmt::Write;
    data.iter().fold(String::with_capacity(data.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units_with_one_decimal() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12 << 20), "12.0 MiB");
        assert_eq!(bytes(4 << 30), "4.0 GiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.000000789
        let ns = 951_827_696 * 1_000_000_000 + 789;
        assert_eq!(time(ns), "2000-02-29T12:34:56Z");
        assert_eq!(time_ns(ns), "2000-02-29T12:34:56.000000789Z");
        assert_eq!(time(1_767_225_599 * 1_000_000_000), "2025-12-31T23:59:59Z");
        assert_eq!(time_or_dash(None), "-");
    }

    #[test]
    fn hex_is_two_lowercase_digits_per_byte() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
    }
}
