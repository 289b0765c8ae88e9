//! Sizes as a config file writes them: a number of bytes, or a string with a
//! binary unit (`"512K"`, `"200M"`, `"1.5G"`), and back (`64K`) for messages.

pub(crate) const KIB: u64 = 1024;
pub(crate) const MIB: u64 = 1024 * KIB;
pub(crate) const GIB: u64 = 1024 * MIB;
pub(crate) const TIB: u64 = 1024 * GIB;

/// Parses "512K", "200M", "1G", "4G", "1024", "10MiB", "2 GB", "1.5G"
/// (units are binary: 1K = 1024; a fraction must come to whole bytes).
///
/// ```
/// assert_eq!(logstream::parse_size("1.5K")?, 1536);
/// assert!(logstream::parse_size("3 parsecs").is_err());
/// # Ok::<(), logstream::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidSize`](crate::Error::InvalidSize): the text is not a
/// size, has an unknown unit, is too large, or has a fraction that is not a
/// whole number of bytes.
pub fn parse_size(s: &str) -> crate::Result<u64> {
    parse_size_text(s).map_err(|reason| crate::Error::InvalidSize { input: s.to_owned(), reason })
}

/// [`parse_size`] with the reason as text, for the config parser (which
/// names the key).
pub(crate) fn parse_size_text(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.is_empty() || frac.contains('.') || (num.contains('.') && frac.is_empty()) {
        return Err(format!("{s:?} is not a size; use a number of bytes or e.g. \"512K\", \"200M\", \"1.5G\""));
    }
    let mult = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => KIB,
        "M" | "MB" | "MIB" => MIB,
        "G" | "GB" | "GIB" => GIB,
        "T" | "TB" | "TIB" => TIB,
        _ => return Err(format!("{s:?} has an unknown unit; use K, M, G or T")),
    };
    let too_large = || format!("{s:?} is too large");
    let n: u64 = whole.parse().map_err(|_| too_large())?;
    let mut total = u128::from(n) * u128::from(mult);
    if !frac.is_empty() {
        // Exact: the fraction's digits over their power of ten, times the unit.
        if frac.len() > 18 {
            return Err(format!("{s:?} has more fraction digits than a size needs"));
        }
        let digits: u128 = frac.parse().map_err(|_| too_large())?;
        let scale = 10u128.pow(frac.len() as u32);
        let part = digits * u128::from(mult);
        if !part.is_multiple_of(scale) {
            return Err(format!("{s:?} is not a whole number of bytes; use a smaller unit"));
        }
        total += part / scale;
    }
    u64::try_from(total).map_err(|_| too_large())
}

/// A size for messages: `64K`, `1G`, `1536` — the largest binary unit that
/// divides it, as the config file would say it.
pub(crate) fn size_text(v: u64) -> String {
    for (unit, m) in [("T", TIB), ("G", GIB), ("M", MIB), ("K", KIB)] {
        if v >= m && v.is_multiple_of(m) {
            return format!("{}{unit}", v / m);
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units_and_four_gigabytes_is_not_zero() {
        assert_eq!(parse_size_text("4G"), Ok(4 * GIB));
        assert_eq!(parse_size_text("512K"), Ok(512 * KIB));
        assert_eq!(parse_size_text("200M"), Ok(200 * MIB));
        assert_eq!(parse_size_text("1024"), Ok(1024));
        assert_eq!(parse_size_text("10 MiB"), Ok(10 * MIB));
        assert_eq!(parse_size_text("1.5G"), Ok(3 * GIB / 2));
        assert_eq!(parse_size_text("0.5K"), Ok(512));
        assert!(parse_size_text("0.1K").is_err_and(|e| e.contains("whole number of bytes")), "102.4 bytes");
        assert!(
            parse_size_text("1.G").is_err() && parse_size_text(".5K").is_err() && parse_size_text("1.2.3K").is_err()
        );
        assert!(parse_size_text("G").is_err());
        assert!(parse_size_text("99999999999999999999G").is_err());
        assert!(parse_size_text("3X").is_err());
    }

    #[test]
    fn sizes_are_told_in_the_largest_unit_that_divides_them() {
        assert_eq!(size_text(64 * KIB), "64K");
        assert_eq!(size_text(3 * GIB / 2), "1536M");
        assert_eq!(size_text(1 << 50), "1024T");
        assert_eq!(size_text(1536), "1536");
        assert_eq!(size_text(0), "0");
    }

    #[test]
    fn the_public_parser_says_which_text_is_not_a_size() {
        match parse_size("3 parsecs") {
            Err(crate::Error::InvalidSize { input, reason }) => {
                assert_eq!(input, "3 parsecs");
                assert!(reason.contains("unknown unit"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
