//! Reading compressed segments (see `format::block`): listing their blocks
//! and walking their frames. Shared by the reader, recovery, `verify`,
//! `repair` and `topics`; what to do with a damaged block is their policy.

use crate::format::block::{BLOCK_HEADER_LEN, BlockHeader, BlockProblem, decompress};
use crate::format::frame;
use crate::format::segment::DATA_START;
use crate::segment::scan::Step;
use crate::storage::Mapping;

/// Where a block is, and what its header says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockRef {
    /// Offset of the block header in the file.
    pub file_off: u64,
    pub header: BlockHeader,
}

impl BlockRef {
    /// Raw offset just past the block's frames.
    pub(crate) fn raw_end(&self) -> u64 {
        self.header.raw_offset + u64::from(self.header.raw_len)
    }

    /// Checks and decompresses the block (never reading at or past `file_len`).
    pub(crate) fn unpack(&self, map: &Mapping, file_len: u64) -> Result<Vec<u8>, BlockProblem> {
        let start = self.file_off + BLOCK_HEADER_LEN as u64;
        let len = u64::from(self.header.compressed_len).min(file_len.min(map.len() as u64).saturating_sub(start));
        decompress(&self.header, map.bytes(start as usize, len as usize))
    }
}

/// Walks the block headers of a compressed segment; stops at the first that
/// does not check out or does not continue the one before it (damage there
/// is reported when the frames are read).
pub(crate) fn list_blocks(map: &Mapping, len: u64) -> Vec<BlockRef> {
    let len = len.min(map.len() as u64);
    let mut out = Vec::new();
    let mut off = DATA_START;
    while off + BLOCK_HEADER_LEN as u64 <= len {
        let Some(h) = BlockHeader::decode(map.bytes(off as usize, BLOCK_HEADER_LEN)) else { break };
        let continues = match out.last() {
            Some(p) => {
                let p: &BlockRef = p;
                p.raw_end() == h.raw_offset && h.first_seq >= p.header.first_seq
            }
            None => h.raw_offset == DATA_START,
        };
        if !continues {
            break;
        }
        out.push(BlockRef { file_off: off, header: h });
        off += h.stored_len();
    }
    out
}

/// The frame at raw offset `off` of a decompressed block whose first frame
/// is at raw offset `raw_offset` (`Empty` at the end of the block).
pub(crate) fn step_bytes(buf: &[u8], raw_offset: u64, off: u64) -> Step<'_> {
    let Some(i) = off.checked_sub(raw_offset).and_then(|i| usize::try_from(i).ok()) else {
        return Step::Bad(frame::Bad::Truncated);
    };
    if i >= buf.len() {
        return Step::Empty;
    }
    match frame::decode_bytes(&buf[i..]) {
        Ok(frame::Frame::Record { seq, timestamp, payload, len }) => {
            Step::Record { seq, timestamp, payload, next: off + len as u64 }
        }
        Ok(frame::Frame::Seal { next_seq, .. }) => Step::Seal { next_seq },
        Err(b) => Step::Bad(b),
    }
}

/// Records that could not be read from a compressed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockDamage {
    /// File offset of the damaged block (or of the end of what was readable).
    pub file_off: u64,
    /// First sequence number lost.
    pub first_seq: u64,
    /// Sequence number reading resumes at.
    pub resumes_seq: u64,
    /// File offset reading resumes at (the next block, or the file's end).
    pub resumes_off: u64,
}

/// What a walk over a compressed segment found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Walked {
    /// Sequence number after the segment's last record.
    pub next_seq: u64,
    /// The seal frame was read.
    pub sealed: bool,
    pub damage: Vec<BlockDamage>,
}

/// A record met by [`walk`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Visit<'a> {
    /// Raw offset of the frame.
    pub raw_off: u64,
    pub seq: u64,
    pub timestamp: u64,
    pub payload: &'a [u8],
}

/// Walks every record of a compressed segment in order, calling `visit` for
/// each. `base` is the segment's first sequence number; `sealed_next` what
/// its watermark says follows it, if that is known (it bounds the records
/// lost when the last blocks are damaged).
pub(crate) fn walk(
    map: &Mapping,
    len: u64,
    base: u64,
    sealed_next: Option<u64>,
    mut visit: impl FnMut(Visit<'_>),
) -> Walked {
    let blocks = list_blocks(map, len);
    let mut w = Walked { next_seq: base, ..Walked::default() };
    // Damage at `file_off`; reading resumes at `resume` (`None`: unknown,
    // nothing after it is readable).
    let lost = |w: &mut Walked, file_off: u64, resume: Option<u64>| {
        let resume = resume.unwrap_or(w.next_seq);
        if resume >= w.next_seq {
            let resumes_off = blocks.iter().map(|b| b.file_off).find(|&o| o > file_off).unwrap_or(len);
            w.damage.push(BlockDamage { file_off, first_seq: w.next_seq, resumes_seq: resume, resumes_off });
            w.next_seq = resume;
        }
    };
    'blocks: for (i, b) in blocks.iter().enumerate() {
        let resume = blocks.get(i + 1).map(|n| n.header.first_seq).or(sealed_next);
        if b.header.first_seq != w.next_seq {
            lost(&mut w, b.file_off, Some(b.header.first_seq));
            if b.header.first_seq != w.next_seq {
                continue;
            }
        }
        let buf = match b.unpack(map, len) {
            Ok(buf) => buf,
            Err(_) => {
                lost(&mut w, b.file_off, resume);
                continue;
            }
        };
        let mut off = b.header.raw_offset;
        loop {
            match step_bytes(&buf, b.header.raw_offset, off) {
                Step::Record { seq, timestamp, payload, next } if seq == w.next_seq => {
                    visit(Visit { raw_off: off, seq, timestamp, payload });
                    w.next_seq += 1;
                    off = next;
                }
                Step::Seal { next_seq } if next_seq == w.next_seq => {
                    w.sealed = true;
                    break 'blocks;
                }
                Step::Empty => break,
                _ => {
                    lost(&mut w, b.file_off, resume);
                    break;
                }
            }
        }
    }
    if !w.sealed && w.damage.last().is_none_or(|d| d.resumes_seq < sealed_next.unwrap_or(u64::MAX)) {
        // The blocks ran out before the seal: the file was cut short or a
        // block header is damaged.
        let end = blocks.last().map_or(DATA_START, |b| b.file_off + b.header.stored_len());
        lost(&mut w, end, sealed_next);
    }
    w
}
