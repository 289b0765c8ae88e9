//! Walking the frames of a mapped data file. Shared by the reader, recovery
//! and `verify`; what to do with a bad frame is their policy, not this file's.

use std::sync::atomic::Ordering;

use crate::format::frame::{self, Bad, Frame, HEADER_LEN};
use crate::format::segment::{DATA_START, INDEX_ENTRY_LEN, INDEX_START, IndexEntry, IndexSlot};
use crate::storage::Mapping;

/// One step of a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// A record whose CRC checked out.
    Record { seq: u64, timestamp: u64, payload: &'a [u8], next: u64 },
    /// A seal frame: the segment ends here.
    Seal { next_seq: u64 },
    /// Zero: nothing (yet) at this offset.
    Empty,
    /// Something that is not a valid frame.
    Bad(Bad),
}

/// Decodes the frame at `off`, never reading at or beyond `file_len` (the data
/// file's size, which bounds what may be touched in the mapping).
#[inline]
pub(crate) fn step(map: &Mapping, off: u64, file_len: u64) -> Step<'_> {
    let limit = file_len.min(map.len() as u64);
    if !off.is_multiple_of(frame::ALIGN as u64) || off < DATA_START || off + 8 > limit {
        return Step::Bad(Bad::Truncated);
    }
    let word = map.atomic_u64(off as usize).load(Ordering::SeqCst);
    let body_len = match frame::classify(word) {
        frame::Word::Empty => return Step::Empty,
        frame::Word::Invalid => return Step::Bad(Bad::BadTag),
        frame::Word::Record { len, .. } => len,
        frame::Word::Seal { .. } => 0,
    };
    let end = off + frame::frame_len(body_len) as u64;
    if end > limit {
        return Step::Bad(Bad::Truncated);
    }
    let rest = map.bytes(off as usize + 8, HEADER_LEN - 8 + body_len);
    match frame::decode(word, rest) {
        Ok(Frame::Record { seq, timestamp, payload, len }) => {
            Step::Record { seq, timestamp, payload, next: off + len as u64 }
        }
        Ok(Frame::Seal { next_seq, .. }) => Step::Seal { next_seq },
        Err(b) => Step::Bad(b),
    }
}

/// Reads index entry `i` (atomic loads: the writer may be adding entries).
pub(crate) fn index_entry(index: &Mapping, index_len: u64, i: u64) -> IndexSlot {
    let at = INDEX_START + i * INDEX_ENTRY_LEN;
    if at + INDEX_ENTRY_LEN > index_len.min(index.len() as u64) {
        return IndexSlot::Empty;
    }
    let mut b = [0u8; 32];
    for w in 0..4 {
        let v = index.atomic_u64(at as usize + w * 8).load(Ordering::Acquire);
        b[w * 8..w * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    IndexEntry::decode(&b)
}

/// Looks for the next frame after damage at `bad_at`: tries every aligned
/// offset up to `limit` for a record whose CRC checks and whose sequence number
/// is above `last_good` and below `seq_bound`. Returns its offset and seq.
pub(crate) fn resync(
    map: &Mapping,
    file_len: u64,
    bad_at: u64,
    limit: u64,
    last_good: Option<u64>,
    seq_bound: u64,
) -> Option<(u64, u64)> {
    let mut off = bad_at + frame::ALIGN as u64;
    let limit = limit.min(file_len);
    while off + HEADER_LEN as u64 <= limit {
        match step(map, off, file_len) {
            Step::Record { seq, .. } if last_good.is_none_or(|g| seq > g) && seq < seq_bound => {
                return Some((off, seq));
            }
            Step::Seal { next_seq } if last_good.is_none_or(|g| next_seq > g) && next_seq <= seq_bound => {
                return Some((off, next_seq));
            }
            _ => {}
        }
        off += frame::ALIGN as u64;
    }
    None
}
