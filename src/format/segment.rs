//! Segment file headers: the data file's header page and the index file.
//!
//! Data file (`NNNNNNNNNNNNNNNNNNNN.dat`), little-endian:
//! ```text
//! offset  size  field
//! ------ static part, written once when the segment is created -------------
//!      0     8  magic  "LSTRMDAT"
//!      8     4  format version (1)
//!     12     4  flags (bit 0: a compressed segment, see `block.rs`)
//!     16     8  base_seq    first sequence number in the segment
//!     24     8  epoch       writer session that created the segment
//!     32     8  created     nanoseconds since the Unix epoch
//!     40     8  reserve     bytes a reader should map (the segment's maximum
//!                         size; a compressed segment's length)
//!     48     8  log_id      random id of the log directory
//!     56     4  (zero)
//!     60     4  CRC-32 of bytes 0..60
//! ------ watermark, rewritten by the flush thread after each data sync ------
//!     64     8  durable_end   offset just past the last frame known durable
//!     72     8  durable_next  sequence number after that frame
//!     80     8  sealed_end    offset of the seal frame, 0 while open
//!     88     8  sealed_next   first sequence number of the next segment
//!     96     8  first_time    timestamp of the first record (0 = none yet)
//!    104     8  last_time     timestamp of the last durable record
//!    112     8  generation    bumped on every rewrite of this block
//!    120     4  (zero)
//!    124     4  CRC-32 of bytes 64..124
//! ------ wake line, written by readers ----------------------------------------
//!    128     8  waiting       bit s set: reader slot s waits for a new frame
//!    136  3960  (zero)
//!   4096     …  frames (see `frame.rs`)
//! ```
//!
//! Index file (`NNNNNNNNNNNNNNNNNNNN.idx`):
//! ```text
//!      0     8  magic  "LSTRMIDX"
//!      8     4  format version (1)
//!     12     4  interval   data bytes between entries
//!     16     8  base_seq
//!     24     8  epoch
//!     32    28  (zero)
//!     60     4  CRC-32 of bytes 0..60
//!     64     …  entries of 32 bytes:
//!                 0  8  offset of a frame in the data file (>= 4096, so never 0)
//!                 8  8  seq of that frame
//!                16  8  timestamp of that frame
//!                24  4  CRC-32 of bytes 0..24
//!                28  4  (zero)
//! ```

/// Current format version of every file logstream writes.
pub const VERSION: u32 = 1;
/// Magic of a data file.
pub const DATA_MAGIC: [u8; 8] = *b"LSTRMDAT";
/// Magic of an index file.
pub const INDEX_MAGIC: [u8; 8] = *b"LSTRMIDX";
/// Offset of the first frame in a data file (one page of header).
pub const DATA_START: u64 = 4096;
/// Offset of the watermark block in a data file.
pub const WATERMARK_AT: usize = 64;
/// Offset of the `waiting` word in a data file.
pub const WAITING_AT: usize = 128;
/// Length of an index file's header.
pub const INDEX_START: u64 = 64;
/// Length of one index entry.
pub const INDEX_ENTRY_LEN: u64 = 32;

/// Why a header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// The file is shorter than its header.
    Short,
    /// The magic is not logstream's.
    Magic,
    /// The CRC does not match.
    Crc,
    /// Written by a newer library.
    Version(u32),
}

impl std::fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderProblem::Short => f.write_str("the file is shorter than its header"),
            HeaderProblem::Magic => f.write_str("the file does not start with logstream's magic"),
            HeaderProblem::Crc => f.write_str("the header's CRC does not match"),
            HeaderProblem::Version(v) => {
                write!(f, "the file has format version {v}; this library reads versions up to {VERSION}")
            }
        }
    }
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// The static part of a data file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    /// First sequence number in the segment.
    pub base_seq: u64,
    /// Writer session that created the segment.
    pub epoch: u64,
    /// Creation time, ns since the Unix epoch.
    pub created: u64,
    /// Bytes a reader should map.
    pub reserve: u64,
    /// Random id of the log directory.
    pub log_id: u64,
    /// Flags: bit 0 is [`COMPRESSED`](super::block::COMPRESSED).
    pub flags: u32,
}

impl DataHeader {
    /// Encodes the static part (64 bytes).
    pub fn encode(&self) -> [u8; 64] {
        let mut b = header_start(&DATA_MAGIC);
        b[12..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.base_seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.epoch.to_le_bytes());
        b[32..40].copy_from_slice(&self.created.to_le_bytes());
        b[40..48].copy_from_slice(&self.reserve.to_le_bytes());
        b[48..56].copy_from_slice(&self.log_id.to_le_bytes());
        header_end(b)
    }

    /// Decodes the static part from the first 64 bytes of a data file.
    pub fn decode(b: &[u8]) -> Result<DataHeader, HeaderProblem> {
        check_header(b, &DATA_MAGIC)?;
        if b[56..60] != [0; 4] {
            return Err(HeaderProblem::Crc);
        }
        Ok(DataHeader {
            flags: le32(b, 12),
            base_seq: le64(b, 16),
            epoch: le64(b, 24),
            created: le64(b, 32),
            reserve: le64(b, 40),
            log_id: le64(b, 48),
        })
    }
}

/// What the flush thread last made durable in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watermark {
    /// Offset just past the last durable frame (at least [`DATA_START`]).
    pub durable_end: u64,
    /// Sequence number after the last durable frame.
    pub durable_next: u64,
    /// Offset of the seal frame; 0 while the segment is open.
    pub sealed_end: u64,
    /// First sequence number of the next segment (valid when sealed).
    pub sealed_next: u64,
    /// Timestamp of the first record, 0 if none.
    pub first_time: u64,
    /// Timestamp of the last durable record.
    pub last_time: u64,
    /// Bumped on every rewrite.
    pub generation: u64,
}

impl Watermark {
    /// The watermark of a segment with nothing durable yet.
    pub fn empty(base_seq: u64) -> Watermark {
        Watermark { durable_end: DATA_START, durable_next: base_seq, ..Watermark::default() }
    }

    /// True once the seal frame is durable.
    pub fn is_sealed(&self) -> bool {
        self.sealed_end != 0
    }

    /// Encodes the watermark block (64 bytes).
    pub fn encode(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        for (i, v) in [
            self.durable_end,
            self.durable_next,
            self.sealed_end,
            self.sealed_next,
            self.first_time,
            self.last_time,
            self.generation,
        ]
        .iter()
        .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        let crc = crc32fast::hash(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a watermark block; `None` if its CRC fails (torn or damaged),
    /// in which case nothing in the segment may be assumed durable.
    pub fn decode(b: &[u8]) -> Option<Watermark> {
        if b.len() < 64 || crc32fast::hash(&b[..60]) != le32(b, 60) || b[56..60] != [0; 4] {
            return None;
        }
        let w = Watermark {
            durable_end: le64(b, 0),
            durable_next: le64(b, 8),
            sealed_end: le64(b, 16),
            sealed_next: le64(b, 24),
            first_time: le64(b, 32),
            last_time: le64(b, 40),
            generation: le64(b, 48),
        };
        (w.durable_end >= DATA_START).then_some(w)
    }
}

/// A 64-byte header with its magic and version in place.
fn header_start(magic: &[u8; 8]) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[0..8].copy_from_slice(magic);
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b
}

/// The header with its checksum (bytes 60..64, over bytes 0..60).
fn header_end(mut b: [u8; 64]) -> [u8; 64] {
    let crc = crc32fast::hash(&b[..60]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Checks a 64-byte header's length, magic, checksum and version.
fn check_header(b: &[u8], magic: &[u8; 8]) -> Result<(), HeaderProblem> {
    if b.len() < 64 {
        return Err(HeaderProblem::Short);
    }
    if b[0..8] != *magic {
        return Err(HeaderProblem::Magic);
    }
    if crc32fast::hash(&b[..60]) != le32(b, 60) {
        return Err(HeaderProblem::Crc);
    }
    let version = le32(b, 8);
    if version > VERSION || version == 0 {
        return Err(HeaderProblem::Version(version));
    }
    Ok(())
}

/// The header of an index file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    /// Data bytes between entries.
    pub interval: u32,
    /// First sequence number of the segment.
    pub base_seq: u64,
    /// Writer session that created the segment.
    pub epoch: u64,
}

impl IndexHeader {
    /// Encodes the header (64 bytes).
    pub fn encode(&self) -> [u8; 64] {
        let mut b = header_start(&INDEX_MAGIC);
        b[12..16].copy_from_slice(&self.interval.to_le_bytes());
        b[16..24].copy_from_slice(&self.base_seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.epoch.to_le_bytes());
        header_end(b)
    }

    /// Decodes an index file's header.
    pub fn decode(b: &[u8]) -> Result<IndexHeader, HeaderProblem> {
        check_header(b, &INDEX_MAGIC)?;
        if b[32..60].iter().any(|&x| x != 0) {
            return Err(HeaderProblem::Crc);
        }
        Ok(IndexHeader { interval: le32(b, 12), base_seq: le64(b, 16), epoch: le64(b, 24) })
    }
}

/// One index entry: where the frame of `seq` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// Offset of the frame in the data file.
    pub offset: u64,
    /// Sequence number of the frame.
    pub seq: u64,
    /// Timestamp of the frame.
    pub timestamp: u64,
}

/// What 32 bytes of an index file hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexSlot {
    /// Zero: no entry written yet.
    Empty,
    /// A valid entry.
    Entry(IndexEntry),
    /// Non-zero with a bad CRC.
    Damaged,
}

impl IndexEntry {
    /// Encodes the entry (32 bytes).
    pub fn encode(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..16].copy_from_slice(&self.seq.to_le_bytes());
        b[16..24].copy_from_slice(&self.timestamp.to_le_bytes());
        let crc = crc32fast::hash(&b[..24]);
        b[24..28].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes 32 bytes of an index file.
    pub fn decode(b: &[u8]) -> IndexSlot {
        if b.len() < 32 {
            return IndexSlot::Damaged;
        }
        if b[..32].iter().all(|&x| x == 0) {
            return IndexSlot::Empty;
        }
        if crc32fast::hash(&b[..24]) != le32(b, 24) || le32(b, 28) != 0 {
            return IndexSlot::Damaged;
        }
        let e = IndexEntry { offset: le64(b, 0), seq: le64(b, 8), timestamp: le64(b, 16) };
        if e.offset < DATA_START {
            return IndexSlot::Damaged;
        }
        IndexSlot::Entry(e)
    }
}

/// Offset of index entry `i` in an index file.
pub fn index_entry_at(i: u64) -> u64 {
    INDEX_START + i * INDEX_ENTRY_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let h = DataHeader { base_seq: 7, epoch: 3, created: 99, reserve: 1 << 30, log_id: 0xabc, flags: 0 };
        assert_eq!(DataHeader::decode(&h.encode()), Ok(h));
        let w = Watermark {
            durable_end: 5000,
            durable_next: 9,
            sealed_end: 6000,
            sealed_next: 10,
            first_time: 1,
            last_time: 2,
            generation: 4,
        };
        assert_eq!(Watermark::decode(&w.encode()), Some(w));
        let i = IndexHeader { interval: 4096, base_seq: 7, epoch: 3 };
        assert_eq!(IndexHeader::decode(&i.encode()), Ok(i));
        let e = IndexEntry { offset: 4096, seq: 7, timestamp: 1 };
        assert_eq!(IndexEntry::decode(&e.encode()), IndexSlot::Entry(e));
        assert_eq!(IndexEntry::decode(&[0u8; 32]), IndexSlot::Empty);
    }

    #[test]
    fn every_flipped_bit_in_a_header_is_detected() {
        let h = DataHeader { base_seq: 7, epoch: 3, created: 99, reserve: 1 << 30, log_id: 0xabc, flags: 0 }.encode();
        let w = Watermark::empty(7).encode();
        let e = IndexEntry { offset: 4096, seq: 7, timestamp: 1 }.encode();
        for bit in 0..64 * 8 {
            let mut b = h;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(DataHeader::decode(&b).is_err(), "data header bit {bit}");
            let mut b = w;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(Watermark::decode(&b).is_none(), "watermark bit {bit}");
        }
        for bit in 0..32 * 8 {
            let mut b = e;
            b[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(IndexEntry::decode(&b), IndexSlot::Damaged, "index entry bit {bit}");
        }
    }

    #[test]
    fn a_newer_version_is_refused_by_name() {
        let mut b = DataHeader { base_seq: 0, epoch: 1, created: 0, reserve: 8192, log_id: 1, flags: 0 }.encode();
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        let err = DataHeader::decode(&b).unwrap_err();
        assert_eq!(err, HeaderProblem::Version(2));
        assert!(err.to_string().contains("version 2"));
    }
}
