//! Names on disk: topic and group names, and segment file names.
//!
//! Topic and group names are used as directory names, so they are validated
//! rather than escaped: a valid name can never leave `base_dir`, and the
//! directory listing shows the names users chose. UTF-8 is accepted as is
//! (ext4 and XFS store names as bytes); only what breaks paths or terminals is
//! refused. Segment files are named by their first sequence number, zero-padded
//! to 20 digits, so that sorting names sorts the log and a start position maps
//! to a file without opening every file.

/// Longest topic or group name, in bytes (well under `NAME_MAX` = 255).
pub const MAX_NAME_BYTES: usize = 200;

/// Why a topic or group name was refused.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("the name is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return Some("the name is longer than 200 bytes");
    }
    if name == "." || name == ".." {
        return Some("`.` and `..` are not names");
    }
    if name.contains('/') || name.contains('\\') {
        return Some("the name contains a path separator (`/` or `\\`)");
    }
    if name.contains('\0') {
        return Some("the name contains a NUL byte");
    }
    if name.chars().any(|c| c.is_control()) {
        return Some("the name contains a control character");
    }
    if name.starts_with(".ls-") {
        return Some("names starting with `.ls-` are reserved for logstream's temporary files");
    }
    None
}

/// Extension of a segment's data file.
pub const DATA_EXT: &str = "dat";
/// Extension of a segment's index file.
pub const INDEX_EXT: &str = "idx";

/// File name of the data file of the segment whose first record is `base_seq`.
pub fn data_file_name(base_seq: u64) -> String {
    format!("{base_seq:020}.{DATA_EXT}")
}

/// File name of the index file of the segment whose first record is `base_seq`.
pub fn index_file_name(base_seq: u64) -> String {
    format!("{base_seq:020}.{INDEX_EXT}")
}

/// What a file name in a topic directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentFile {
    /// `NNNNNNNNNNNNNNNNNNNN.dat`
    Data(u64),
    /// `NNNNNNNNNNNNNNNNNNNN.idx`
    Index(u64),
}

/// Parses a segment file name; anything else (temporary files, foreign files) is `None`.
pub fn parse_segment_file_name(name: &str) -> Option<SegmentFile> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: u64 = stem.parse().ok()?;
    match ext {
        DATA_EXT => Some(SegmentFile::Data(seq)),
        INDEX_EXT => Some(SegmentFile::Index(seq)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_the_directory_are_refused() {
        for bad in ["", ".", "..", "a/b", "../x", "a\\b", "a\0b", "tab\there", ".ls-tmp"] {
            assert!(name_problem(bad).is_some(), "{bad:?} should be refused");
        }
        assert!(name_problem(&"x".repeat(201)).is_some());
    }

    #[test]
    fn ordinary_and_unicode_names_are_accepted() {
        for good in ["login", "a.b-c_d", "事件", "🎮 game", ".hidden", "..x", &"x".repeat(200)] {
            assert_eq!(name_problem(good), None, "{good:?} should be accepted");
        }
    }

    #[test]
    fn segment_names_sort_like_their_sequence_numbers() {
        let mut names: Vec<String> = [10u64, 9, 100_000, 0].iter().map(|&s| data_file_name(s)).collect();
        names.sort();
        let seqs: Vec<u64> = names
            .iter()
            .map(|n| match parse_segment_file_name(n) {
                Some(SegmentFile::Data(s)) => s,
                other => panic!("{n}: {other:?}"),
            })
            .collect();
        assert_eq!(seqs, vec![0, 9, 10, 100_000]);
        assert_eq!(parse_segment_file_name(&index_file_name(u64::MAX)), Some(SegmentFile::Index(u64::MAX)));
        assert_eq!(parse_segment_file_name("0000.dat"), None);
        assert_eq!(parse_segment_file_name("00000000000000000000.tmp"), None);
    }
}
