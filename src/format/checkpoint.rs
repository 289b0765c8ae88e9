//! A group's checkpoints: fixed-size, CRC'd entries in a journal and a snapshot.
//!
//! Each group keeps `checkpoints.snap` (every topic's latest entry) and
//! `checkpoints.log` (entries appended since the snapshot, one `fdatasync` per
//! persist, whatever the number of topics). Each entry carries a per-topic
//! generation; loading keeps, per topic, the valid entry with the highest
//! generation among both files. A torn or damaged entry is skipped and an older
//! one wins, which redelivers records (at-least-once) and never skips any.
//!
//! ```text
//! file header (64 bytes)           entry (256 bytes)
//!  0  8  magic "LSCKSNAP"/"LSCKJRNL"  0   4  magic "LSCK"
//!  8  4  format version (1)           4   4  kind (1 position, 2 reset, 3 forget)
//! 12 48  (zero)                       8   8  generation (per topic, monotonic):
//!                                            owner's lease epoch << 40 | count
//! 60  4  CRC-32 of bytes 0..60       16   8  next_seq: next sequence number to deliver
//!                                    24   8  time (ns since the Unix epoch)
//!                                    32   8  epoch of the segment holding next_seq - 1 (0 = unknown)
//!                                    40   2  topic name length
//!                                    42 200  topic name (UTF-8, zero padded)
//!                                   242  10  (zero)
//!                                   252   4  CRC-32 of bytes 0..252
//! ```

use super::naming::MAX_NAME_BYTES;

/// Length of a checkpoint file header.
pub const FILE_HEADER_LEN: usize = 64;
/// Length of one entry.
pub const ENTRY_LEN: usize = 256;
/// Magic of a snapshot.
pub const SNAP_MAGIC: [u8; 8] = *b"LSCKSNAP";
/// Magic of a journal.
pub const JOURNAL_MAGIC: [u8; 8] = *b"LSCKJRNL";
const ENTRY_MAGIC: [u8; 4] = *b"LSCK";

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Records before `next_seq` were confirmed by a consumer.
    Position,
    /// An operator moved the group to `next_seq`; consumers adopt it.
    Reset,
    /// The topic was removed from the group.
    Forget,
}

impl Kind {
    fn code(self) -> u32 {
        match self {
            Kind::Position => 1,
            Kind::Reset => 2,
            Kind::Forget => 3,
        }
    }
    fn from_code(c: u32) -> Option<Kind> {
        match c {
            1 => Some(Kind::Position),
            2 => Some(Kind::Reset),
            3 => Some(Kind::Forget),
            _ => None,
        }
    }
}

/// One checkpoint entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What the entry records.
    pub kind: Kind,
    /// Per-topic generation; the highest valid one wins.
    pub generation: u64,
    /// Next sequence number to deliver.
    pub next_seq: u64,
    /// When the entry was written (ns since the Unix epoch).
    pub time: u64,
    /// Epoch of the segment that held `next_seq - 1` (0 = unknown).
    pub epoch: u64,
    /// Topic name.
    pub topic: String,
}

/// Why a file header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileProblem {
    /// Shorter than a header.
    Short,
    /// Not a checkpoint file of this kind.
    Magic,
    /// Header CRC mismatch.
    Crc,
    /// Newer format version.
    Version(u32),
}

/// Encodes a file header with `magic`.
pub fn encode_file_header(magic: [u8; 8]) -> [u8; FILE_HEADER_LEN] {
    let mut b = [0u8; FILE_HEADER_LEN];
    b[0..8].copy_from_slice(&magic);
    b[8..12].copy_from_slice(&super::segment::VERSION.to_le_bytes());
    let crc = crc32fast::hash(&b[..60]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Checks a file header against `magic`.
pub fn check_file_header(b: &[u8], magic: [u8; 8]) -> Result<(), FileProblem> {
    if b.len() < FILE_HEADER_LEN {
        return Err(FileProblem::Short);
    }
    if b[0..8] != magic {
        return Err(FileProblem::Magic);
    }
    if crc32fast::hash(&b[..60]) != u32::from_le_bytes([b[60], b[61], b[62], b[63]]) {
        return Err(FileProblem::Crc);
    }
    let v = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    if v == 0 || v > super::segment::VERSION {
        return Err(FileProblem::Version(v));
    }
    Ok(())
}

impl Entry {
    /// Encodes the entry. Topic names are validated before they get here; a
    /// longer name is cut (it would never match a topic, so it is harmless).
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0..4].copy_from_slice(&ENTRY_MAGIC);
        b[4..8].copy_from_slice(&self.kind.code().to_le_bytes());
        b[8..16].copy_from_slice(&self.generation.to_le_bytes());
        b[16..24].copy_from_slice(&self.next_seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.time.to_le_bytes());
        b[32..40].copy_from_slice(&self.epoch.to_le_bytes());
        let name = self.topic.as_bytes();
        let n = name.len().min(MAX_NAME_BYTES);
        debug_assert_eq!(n, name.len(), "topic names are validated before checkpointing");
        b[40..42].copy_from_slice(&(n as u16).to_le_bytes());
        b[42..42 + n].copy_from_slice(&name[..n]);
        let crc = crc32fast::hash(&b[..252]);
        b[252..256].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes one entry; `None` for zeros, torn or damaged bytes.
    pub fn decode(b: &[u8]) -> Option<Entry> {
        if b.len() < ENTRY_LEN || b[0..4] != ENTRY_MAGIC {
            return None;
        }
        let crc = u32::from_le_bytes([b[252], b[253], b[254], b[255]]);
        if crc32fast::hash(&b[..252]) != crc {
            return None;
        }
        let u64_at = |at: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(a)
        };
        let kind = Kind::from_code(u32::from_le_bytes([b[4], b[5], b[6], b[7]]))?;
        let n = u16::from_le_bytes([b[40], b[41]]) as usize;
        if n == 0 || n > MAX_NAME_BYTES {
            return None;
        }
        if b[42 + n..252].iter().any(|&x| x != 0) {
            return None;
        }
        let topic = std::str::from_utf8(&b[42..42 + n]).ok()?.to_owned();
        Some(Entry { kind, generation: u64_at(8), next_seq: u64_at(16), time: u64_at(24), epoch: u64_at(32), topic })
    }
}

/// Outcome of reading a run of entries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Valid entries in file order.
    pub entries: Vec<Entry>,
    /// Byte offsets (from the start of the entry area) of damaged, non-zero slots.
    pub damaged: Vec<u64>,
    /// A trailing part shorter than one entry (a torn append).
    pub torn_tail: bool,
}

/// Decodes the entries that follow a file header.
pub fn decode_entries(area: &[u8]) -> Decoded {
    let mut out = Decoded::default();
    let mut chunks = area.chunks_exact(ENTRY_LEN);
    for (i, c) in chunks.by_ref().enumerate() {
        match Entry::decode(c) {
            Some(e) => out.entries.push(e),
            None if c.iter().all(|&x| x == 0) => {}
            None => out.damaged.push((i * ENTRY_LEN) as u64),
        }
    }
    out.torn_tail = !chunks.remainder().is_empty();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(topic: &str, generation: u64, next_seq: u64) -> Entry {
        Entry { kind: Kind::Position, generation, next_seq, time: 5, epoch: 2, topic: topic.into() }
    }

    #[test]
    fn an_entry_round_trips() {
        let e = entry("事件", 3, 1000);
        assert_eq!(Entry::decode(&e.encode()), Some(e));
    }

    #[test]
    fn every_flipped_bit_makes_an_entry_invalid() {
        let b = entry("billing", 3, 1000).encode();
        for bit in 0..ENTRY_LEN * 8 {
            let mut c = b;
            c[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Entry::decode(&c), None, "bit {bit}");
        }
    }

    #[test]
    fn damaged_and_torn_entries_are_reported_and_the_rest_kept() {
        let mut area = Vec::new();
        area.extend_from_slice(&entry("a", 1, 10).encode());
        let mut bad = entry("a", 2, 20).encode();
        bad[100] ^= 4;
        area.extend_from_slice(&bad);
        area.extend_from_slice(&entry("b", 1, 5).encode());
        area.extend_from_slice(&[0u8; ENTRY_LEN]);
        area.extend_from_slice(&entry("c", 1, 5).encode()[..100]);
        let d = decode_entries(&area);
        assert_eq!(d.entries, vec![entry("a", 1, 10), entry("b", 1, 5)]);
        assert_eq!(d.damaged, vec![ENTRY_LEN as u64]);
        assert!(d.torn_tail);
    }

    #[test]
    fn file_headers_are_checked() {
        let h = encode_file_header(SNAP_MAGIC);
        assert_eq!(check_file_header(&h, SNAP_MAGIC), Ok(()));
        assert_eq!(check_file_header(&h, JOURNAL_MAGIC), Err(FileProblem::Magic));
        let mut d = h;
        d[20] = 1;
        assert_eq!(check_file_header(&d, SNAP_MAGIC), Err(FileProblem::Crc));
    }
}
