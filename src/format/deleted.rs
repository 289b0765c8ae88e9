//! `deleted/<topic>`: where a deleted topic's numbering ended.
//!
//! A topic written again after `delete_topic` continues its sequence numbers
//! after the deleted ones rather than starting at 0 again: a sequence number
//! then never names two different records, a group whose saved position is
//! past the deleted records receives the new ones, and a group that had not
//! finished sees the deleted range as a gap (as after retention). The
//! tombstone keeps that number across sessions; the writer reads it when a
//! topic without a directory is first written.
//!
//! ```text
//!   0  8  magic "LSTRMDEL"
//!   8  4  format version (1)
//!  12  4  reserved, 0
//!  16  8  next_seq: the first sequence number the topic may use again
//!  24  8  when the topic was deleted (ns since the Unix epoch)
//!  32  4  CRC-32 of bytes 0..32
//! ```
//!
//! While a deletion is under way the topic's directory is renamed to
//! `tmp/del-NNNNNNNNNNNNNNNNNNNN-RRRRRRRRRRRRRRRR-<topic>` (next seq, 20
//! digits; a random tag, 16 hex digits), so a crash before the tombstone is
//! durable leaves the number in a directory name; the next `Writer::open`
//! writes the tombstone from it before anything else.

/// Magic at the start of a tombstone.
pub const MAGIC: [u8; 8] = *b"LSTRMDEL";
/// Format version written.
pub const VERSION: u32 = 1;
/// Length of a tombstone.
pub const LEN: usize = 36;

/// Prefix of a deletion under way in `tmp/`.
pub const PENDING_PREFIX: &str = "del-";

/// The contents of a tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    /// The first sequence number the topic may use again.
    pub next_seq: u64,
    /// When the topic was deleted (ns since the Unix epoch).
    pub time: u64,
}

/// Why a tombstone could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Shorter than [`LEN`].
    Short,
    /// Not a tombstone.
    Magic,
    /// The CRC does not match.
    Crc,
    /// Written by a newer format version.
    Version(u32),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Short => write!(f, "shorter than {LEN} bytes"),
            Problem::Magic => write!(f, "not a tombstone (wrong magic)"),
            Problem::Crc => write!(f, "its CRC does not match (damaged)"),
            Problem::Version(v) => write!(f, "format version {v}, newer than this library's {VERSION}"),
        }
    }
}

/// Encodes a tombstone.
pub fn encode(t: &Tombstone) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0..8].copy_from_slice(&MAGIC);
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[16..24].copy_from_slice(&t.next_seq.to_le_bytes());
    b[24..32].copy_from_slice(&t.time.to_le_bytes());
    let crc = crc32fast::hash(&b[..32]);
    b[32..36].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes a tombstone.
///
/// # Errors
/// Why `b` is not a tombstone this library can read.
pub fn decode(b: &[u8]) -> Result<Tombstone, Problem> {
    let b: &[u8; LEN] = b.get(..LEN).and_then(|s| s.try_into().ok()).ok_or(Problem::Short)?;
    if b[0..8] != MAGIC {
        return Err(Problem::Magic);
    }
    let word = |at: usize| {
        u64::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7]])
    };
    if crc32fast::hash(&b[..32]) != u32::from_le_bytes([b[32], b[33], b[34], b[35]]) {
        return Err(Problem::Crc);
    }
    let v = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    if v == 0 || v > VERSION {
        return Err(Problem::Version(v));
    }
    Ok(Tombstone { next_seq: word(16), time: word(24) })
}

/// Name in `tmp/` of a deletion under way.
pub fn pending_name(topic: &str, next_seq: u64, tag: u64) -> String {
    format!("{PENDING_PREFIX}{next_seq:020}-{tag:016x}-{topic}")
}

/// Parses a name made by [`pending_name`]: `(topic, next_seq)`.
pub fn parse_pending_name(name: &str) -> Option<(&str, u64)> {
    let rest = name.strip_prefix(PENDING_PREFIX)?;
    let (seq, rest) = (rest.get(..20)?, rest.get(20..)?);
    let rest = rest.strip_prefix('-')?;
    let (tag, rest) = (rest.get(..16)?, rest.get(16..)?);
    let topic = rest.strip_prefix('-')?;
    if !seq.bytes().all(|c| c.is_ascii_digit()) || !tag.bytes().all(|c| c.is_ascii_hexdigit()) || topic.is_empty() {
        return None;
    }
    Some((topic, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstones_round_trip_and_damage_is_refused() {
        let t = Tombstone { next_seq: 1 << 40, time: 17 };
        let b = encode(&t);
        assert_eq!(decode(&b), Ok(t));
        for i in 0..LEN {
            let mut d = b;
            d[i] ^= 0x10;
            assert!(decode(&d).is_err(), "a flipped bit at byte {i} is refused");
        }
        assert_eq!(decode(&b[..LEN - 1]), Err(Problem::Short));
    }

    #[test]
    fn a_newer_version_is_refused_by_name() {
        let mut b = encode(&Tombstone { next_seq: 1, time: 2 });
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&b[..32]);
        b[32..36].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&b), Err(Problem::Version(2)));
    }

    #[test]
    fn pending_names_round_trip_whatever_the_topic_holds() {
        for topic in ["t", "a-b-c", "事件", "del-0-x", &"x".repeat(200)] {
            let n = pending_name(topic, 12345, u64::MAX);
            assert!(n.len() <= 255, "fits a file name");
            assert_eq!(parse_pending_name(&n), Some((topic, 12345)));
        }
        assert_eq!(parse_pending_name("del-1-2-t"), None);
        assert_eq!(parse_pending_name("1234-abc"), None);
    }
}
