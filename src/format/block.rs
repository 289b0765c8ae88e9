//! Compressed segments: what a sealed segment of a `compress_topics` topic
//! becomes. The header page is a data file header with flag bit 0 set; the
//! frames that followed it are regrouped into blocks, each the LZ4 block
//! compression of a run of the original frames, byte for byte, so every
//! record keeps its own CRC and the frame scanner reads a decompressed block
//! exactly as it reads a plain segment. Offsets stay those of the plain file
//! ("raw" offsets): a position in the segment means the same thing whether
//! it is compressed or not.
//!
//! ```text
//! block header (48 bytes), then `compressed_len` bytes, padded to 8:
//!  0  4  magic "LSBK"
//!  4  4  compressed_len
//!  8  4  raw_len          bytes of frames once decompressed
//! 12  4  records          record frames in the block (a seal frame not counted)
//! 16  8  first_seq        sequence number of the first frame
//! 24  8  raw_offset       offset of the first frame in the plain segment
//! 32  4  CRC-32 of the compressed bytes
//! 36  8  (zero)
//! 44  4  CRC-32 of bytes 0..44
//! ```
//! Blocks follow each other without gaps, in raw order; the last one ends
//! with the original seal frame. The header page keeps the plain segment's
//! sealed watermark; its `reserve` is the compressed file's length. The
//! index file is not rewritten: its entries name raw offsets, which stay
//! valid.

/// Flag bit of a compressed data file (`DataHeader::flags`).
pub const COMPRESSED: u32 = 1;
/// Length of a block header.
pub const BLOCK_HEADER_LEN: usize = 48;
/// Magic of a block header.
pub const BLOCK_MAGIC: [u8; 4] = *b"LSBK";
/// Frames are grouped into blocks of about this many raw bytes.
pub const BLOCK_TARGET: usize = 256 * 1024;

/// A block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Bytes of compressed data after the header.
    pub compressed_len: u32,
    /// Bytes of frames once decompressed.
    pub raw_len: u32,
    /// Record frames in the block.
    pub records: u32,
    /// Sequence number of the first frame.
    pub first_seq: u64,
    /// Offset of the first frame in the plain segment.
    pub raw_offset: u64,
    /// CRC-32 of the compressed bytes.
    pub data_crc: u32,
}

impl BlockHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut b = [0u8; BLOCK_HEADER_LEN];
        b[0..4].copy_from_slice(&BLOCK_MAGIC);
        b[4..8].copy_from_slice(&self.compressed_len.to_le_bytes());
        b[8..12].copy_from_slice(&self.raw_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.records.to_le_bytes());
        b[16..24].copy_from_slice(&self.first_seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.raw_offset.to_le_bytes());
        b[32..36].copy_from_slice(&self.data_crc.to_le_bytes());
        let crc = crc32fast::hash(&b[..44]);
        b[44..48].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a header; `None` if it is not one (or damaged).
    pub fn decode(b: &[u8]) -> Option<BlockHeader> {
        if b.len() < BLOCK_HEADER_LEN || b[0..4] != BLOCK_MAGIC || b[36..44] != [0; 8] {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        if crc32fast::hash(&b[..44]) != u32_at(44) {
            return None;
        }
        Some(BlockHeader {
            compressed_len: u32_at(4),
            raw_len: u32_at(8),
            records: u32_at(12),
            first_seq: u64_at(16),
            raw_offset: u64_at(24),
            data_crc: u32_at(32),
        })
    }

    /// Bytes the block occupies in the file, header and padding included.
    pub fn stored_len(&self) -> u64 {
        (BLOCK_HEADER_LEN + super::frame::align(self.compressed_len as usize)) as u64
    }
}

/// Why a block could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockProblem {
    /// The compressed bytes do not match their CRC.
    Crc,
    /// They do not decompress to `raw_len` bytes.
    Decompress,
}

/// Compresses a run of frames into a block (header, then data).
pub fn compress(frames: &[u8], first_seq: u64, records: u32, raw_offset: u64) -> Vec<u8> {
    let data = lz4_flex::block::compress(frames);
    let h = BlockHeader {
        compressed_len: data.len() as u32,
        raw_len: frames.len() as u32,
        records,
        first_seq,
        raw_offset,
        data_crc: crc32fast::hash(&data),
    };
    let mut out = Vec::with_capacity(BLOCK_HEADER_LEN + data.len() + 8);
    out.extend_from_slice(&h.encode());
    out.extend_from_slice(&data);
    out.resize(BLOCK_HEADER_LEN + super::frame::align(data.len()), 0);
    out
}

/// Checks and decompresses a block's data (the bytes after its header).
pub fn decompress(h: &BlockHeader, data: &[u8]) -> Result<Vec<u8>, BlockProblem> {
    let data = data.get(..h.compressed_len as usize).ok_or(BlockProblem::Crc)?;
    if crc32fast::hash(data) != h.data_crc {
        return Err(BlockProblem::Crc);
    }
    let raw = lz4_flex::block::decompress(data, h.raw_len as usize).map_err(|_| BlockProblem::Decompress)?;
    if raw.len() != h.raw_len as usize {
        return Err(BlockProblem::Decompress);
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::frame;

    #[test]
    fn a_block_round_trips_its_frames_byte_for_byte() {
        let mut frames = vec![0u8; 4096];
        let mut off = 0;
        for i in 0..20u64 {
            off += frame::encode_record(&mut frames[off..], 100 + i, 7, b"{\"event\":\"login\",\"user\":\"alice\"}");
        }
        frames.truncate(off);
        let b = compress(&frames, 100, 20, 4096);
        let h = BlockHeader::decode(&b).unwrap();
        assert_eq!((h.first_seq, h.records, h.raw_offset, h.raw_len as usize), (100, 20, 4096, off));
        assert!(h.compressed_len < h.raw_len, "repetitive JSON compresses");
        assert_eq!(decompress(&h, &b[BLOCK_HEADER_LEN..]).unwrap(), frames);
        assert_eq!(h.stored_len() as usize, b.len());
    }

    #[test]
    fn damaged_blocks_are_refused() {
        let b = compress(b"some frames, really", 0, 1, 4096);
        let h = BlockHeader::decode(&b).unwrap();
        for bit in 0..b.len() * 8 {
            let mut c = b.clone();
            c[bit / 8] ^= 1 << (bit % 8);
            let ok = BlockHeader::decode(&c).map(|h2| decompress(&h2, &c[BLOCK_HEADER_LEN..]));
            if bit / 8 >= BLOCK_HEADER_LEN + h.compressed_len as usize {
                continue; // padding
            }
            assert!(!matches!(ok, Some(Ok(_))), "bit {bit} flipped yet the block decoded");
        }
    }
}
