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

/// Nanoseconds since the Unix epoch of an RFC 3339 time in UTC or with an
/// offset (`2026-05-04T10:20:30Z`, `2026-05-04T12:20:30.5+02:00`; a space may
/// replace the `T`), or of `@SECONDS` since the epoch; `None` if it is
/// neither.
pub fn parse_time(s: &str) -> Option<u64> {
    if let Some(secs) = s.strip_prefix('@') {
        let v: f64 = secs.parse().ok()?;
        return (v.is_finite() && v >= 0.0).then_some((v * 1e9) as u64);
    }
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac_ns = 0u64;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut padded = f[..digits.min(9)].to_owned();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac_ns = padded.parse().ok()?;
        rest = &f[digits..];
    }
    let offset_s: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let (sign, hm) = match rest.as_bytes().first()? {
                b'+' => (1, &rest[1..]),
                b'-' => (-1, &rest[1..]),
                _ => return None,
            };
            let (oh, om) = hm.split_once(':')?;
            let (oh, om): (i64, i64) = (oh.parse().ok()?, om.parse().ok()?);
            if oh > 23 || om > 59 || hm.len() != 5 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec) - offset_s;
    // Beyond 2554 the nanoseconds do not fit: as late as can be said.
    u64::try_from(secs).ok().map(|s| s.saturating_mul(1_000_000_000).saturating_add(frac_ns))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn times_parse_back_from_rfc3339_with_offsets_and_from_epoch_seconds() {
        let ns = 1_777_890_030_123_456_789;
        assert_eq!(parse_time(&time_ns(ns)), Some(ns));
        assert_eq!(parse_time(&time(ns)), Some(ns / 1_000_000_000 * 1_000_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-05-04T12:20:30+02:00"), parse_time("2026-05-04T10:20:30Z"));
        assert_eq!(parse_time("2026-05-04 10:20:30.5Z"), parse_time("2026-05-04T10:20:30Z").map(|t| t + 500_000_000));
        assert_eq!(parse_time("@1.5"), Some(1_500_000_000));
        for bad in ["2026-05-04", "2026-13-04T10:20:30Z", "2026-05-04T10:20:30", "2026-05-04T10:20:30+2", "@-1", "soon"]
        {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn hex_is_two_lowercase_digits_per_byte() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
    }
}
