//! "Did you mean": the known key closest to a mistyped one.

/// The entry of `known` nearest to `key` by edit distance, if it is near
/// enough to be a typo of it (at most 3 edits, or a quarter of its length).
pub(super) fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known.iter().map(|k| (edit_distance(key, k), *k)).filter(|(d, k)| *d <= 3.max(k.len() / 4)).min().map(|(_, k)| k)
}

/// Levenshtein distance in characters: insertions, deletions, substitutions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_miss_is_suggested_and_a_stranger_is_not() {
        let known = ["flush_interval_ms", "poll_interval_ms", "mem_max_size"];
        assert_eq!(closest("flush_interval", &known), Some("flush_interval_ms"));
        assert_eq!(closest("mem_maxsize", &known), Some("mem_max_size"));
        assert_eq!(closest("colour", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
