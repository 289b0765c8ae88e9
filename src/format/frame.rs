//! Record frames in a data file: pure encoding and decoding, no I/O.
//!
//! ```text
//!  0        4        8                16               24
//!  +--------+--------+----------------+----------------+-------------------+-----+
//!  | tag    | crc    | seq            | timestamp (ns) | payload (len)     | pad |
//!  +--------+--------+----------------+----------------+-------------------+-----+
//!  '-- commit word --'                                                  to 8 bytes
//!  tag = PRESENT (bit 31) | SEAL (bit 30) | len (bits 0..30)
//!  crc = CRC-32 (IEEE) of seq ++ timestamp ++ payload, started from `tag`
//!        as the initial CRC value (one pass over contiguous bytes; a frame
//!        whose tag changed, e.g. an empty record turned into a seal, fails)
//! ```
//!
//! The first 8 bytes are the *commit word*. The writer stores seq, timestamp
//! and payload first and the commit word last, with one atomic 8-byte store,
//! so a reader that loads a non-zero commit word with acquire ordering sees
//! the whole frame. `PRESENT` is always set, so a valid commit word is never
//! zero, even for an empty record whose CRC happens to be zero; preallocated
//! space reads as zero, which is how the end of the written log is found.
//!
//! A *seal* frame (`SEAL` set, no payload) ends a segment: its `seq` is the
//! first sequence number of the next segment.

/// Bytes before the payload.
pub const HEADER_LEN: usize = 24;
/// Frames start at multiples of this, so the commit word can be stored atomically.
pub const ALIGN: usize = 8;
/// Set in every valid tag.
pub const PRESENT: u32 = 1 << 31;
/// Set in the tag of a seal frame.
pub const SEAL: u32 = 1 << 30;
/// Largest payload the tag can describe (1 GiB - 1).
pub const MAX_PAYLOAD: usize = (SEAL - 1) as usize;
/// Length of a seal frame.
pub const SEAL_LEN: usize = HEADER_LEN;

/// Rounds `n` up to a multiple of [`ALIGN`].
#[inline]
pub const fn align(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

/// Bytes a frame with a payload of `payload_len` bytes occupies, padding included.
#[inline]
pub const fn frame_len(payload_len: usize) -> usize {
    HEADER_LEN + align(payload_len)
}

/// The CRC stored in a frame whose bytes 8.. are `body` (seq, timestamp,
/// payload; exactly `HEADER_LEN - 8 + len` bytes).
#[inline]
pub fn checksum(tag: u32, body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(tag);
    h.update(body);
    h.finalize()
}

/// [`checksum`] of a body given as its two parts (the same value): the
/// writer hashes its own copies rather than read back the mapping it just
/// stored to, which would wait for those stores to reach the cache.
#[inline]
pub fn checksum_parts(tag: u32, seq_and_time: &[u8; 16], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(tag);
    h.update(seq_and_time);
    h.update(payload);
    h.finalize()
}

/// The 16 bytes after the commit word.
#[inline]
pub fn seq_and_time(seq: u64, timestamp: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&seq.to_le_bytes());
    b[8..].copy_from_slice(&timestamp.to_le_bytes());
    b
}

/// The commit word of a record frame.
#[inline]
pub fn commit_word(tag: u32, crc: u32) -> u64 {
    u64::from(tag) | (u64::from(crc) << 32)
}

/// Tag of a record frame with a payload of `len` bytes.
#[inline]
pub fn record_tag(len: usize) -> u32 {
    debug_assert!(len <= MAX_PAYLOAD);
    PRESENT | len as u32
}

/// Tag of a seal frame.
pub const SEAL_TAG: u32 = PRESENT | SEAL;

/// What a commit word says, before the body is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Word {
    /// Zero: nothing has been written here yet.
    Empty,
    /// A record frame with a payload of `len` bytes.
    Record {
        /// Payload length.
        len: usize,
        /// Stored CRC.
        crc: u32,
    },
    /// A seal frame.
    Seal {
        /// Stored CRC.
        crc: u32,
    },
    /// Non-zero but not a frame: a torn write or damage.
    Invalid,
}

/// Classifies a commit word.
#[inline]
pub fn classify(word: u64) -> Word {
    if word == 0 {
        return Word::Empty;
    }
    let tag = word as u32;
    let crc = (word >> 32) as u32;
    if tag & PRESENT == 0 {
        return Word::Invalid;
    }
    if tag & SEAL != 0 {
        if tag == SEAL_TAG { Word::Seal { crc } } else { Word::Invalid }
    } else {
        Word::Record { len: (tag & !PRESENT) as usize, crc }
    }
}

/// A frame decoded from bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A record whose CRC checked out.
    Record {
        /// Sequence number.
        seq: u64,
        /// Nanoseconds since the Unix epoch (coarse clock).
        timestamp: u64,
        /// The record's bytes.
        payload: &'a [u8],
        /// Bytes the frame occupies.
        len: usize,
    },
    /// A seal frame whose CRC checked out; `next_seq` starts the next segment.
    Seal {
        /// First sequence number of the next segment.
        next_seq: u64,
        /// Time of sealing.
        timestamp: u64,
    },
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// All zero: the end of the written log.
    Empty,
    /// The frame would run past the end of the bytes available.
    Truncated,
    /// The commit word is not a frame's.
    BadTag,
    /// The CRC does not match.
    BadCrc,
}

/// Decodes the frame whose commit word is `word` and whose remaining bytes
/// (from offset 8 of the frame) start `rest`. `rest` may be longer than the frame.
#[inline]
pub fn decode(word: u64, rest: &[u8]) -> Result<Frame<'_>, Bad> {
    let (len, crc, tag) = match classify(word) {
        Word::Empty => return Err(Bad::Empty),
        Word::Invalid => return Err(Bad::BadTag),
        Word::Record { len, crc } => (len, crc, record_tag(len)),
        Word::Seal { crc } => (0, crc, SEAL_TAG),
    };
    let body = HEADER_LEN - 8;
    if rest.len() < body + len {
        return Err(Bad::Truncated);
    }
    if checksum(tag, &rest[..body + len]) != crc {
        return Err(Bad::BadCrc);
    }
    let st = &rest[..body];
    let payload = &rest[body..body + len];
    let seq = u64::from_le_bytes(st[..8].try_into().map_err(|_| Bad::Truncated)?);
    let timestamp = u64::from_le_bytes(st[8..].try_into().map_err(|_| Bad::Truncated)?);
    if tag == SEAL_TAG {
        Ok(Frame::Seal { next_seq: seq, timestamp })
    } else {
        Ok(Frame::Record { seq, timestamp, payload, len: frame_len(len) })
    }
}

/// Decodes the frame at the start of `bytes` (commit word included).
pub fn decode_bytes(bytes: &[u8]) -> Result<Frame<'_>, Bad> {
    let Some(word) = bytes.get(..8) else {
        return Err(Bad::Truncated);
    };
    let word = u64::from_le_bytes(word.try_into().map_err(|_| Bad::Truncated)?);
    decode(word, &bytes[8..])
}

/// Encodes a record frame into `out`, which must hold at least `frame_len(payload.len())`
/// bytes; returns the bytes used. For buffers no one else reads while they are written
/// (tests, rebuilt files); the live writer publishes the commit word separately.
pub fn encode_record(out: &mut [u8], seq: u64, timestamp: u64, payload: &[u8]) -> usize {
    let n = frame_len(payload.len());
    let tag = record_tag(payload.len());
    out[8..HEADER_LEN].copy_from_slice(&seq_and_time(seq, timestamp));
    out[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
    out[HEADER_LEN + payload.len()..n].fill(0);
    let crc = checksum(tag, &out[8..HEADER_LEN + payload.len()]);
    out[..8].copy_from_slice(&commit_word(tag, crc).to_le_bytes());
    n
}

/// The body (bytes 8..24) and commit word of a seal frame.
pub fn seal_parts(next_seq: u64, timestamp: u64) -> ([u8; 16], u64) {
    let st = seq_and_time(next_seq, timestamp);
    (st, commit_word(SEAL_TAG, checksum(SEAL_TAG, &st)))
}

/// Encodes a seal frame into `out` (at least [`SEAL_LEN`] bytes).
pub fn encode_seal(out: &mut [u8], next_seq: u64, timestamp: u64) -> usize {
    let (st, word) = seal_parts(next_seq, timestamp);
    out[..8].copy_from_slice(&word.to_le_bytes());
    out[8..SEAL_LEN].copy_from_slice(&st);
    SEAL_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_with_its_sequence_and_time() {
        let mut buf = vec![0u8; 256];
        let n = encode_record(&mut buf, 42, 7, b"hello");
        assert_eq!(n, frame_len(5));
        assert_eq!(n % ALIGN, 0);
        assert_eq!(decode_bytes(&buf), Ok(Frame::Record { seq: 42, timestamp: 7, payload: b"hello", len: n }));
    }

    #[test]
    fn an_empty_record_at_sequence_zero_is_never_an_all_zero_frame() {
        let mut buf = vec![0u8; 64];
        encode_record(&mut buf, 0, 0, b"");
        assert_ne!(u64::from_le_bytes(buf[..8].try_into().unwrap()), 0);
        assert!(matches!(decode_bytes(&buf), Ok(Frame::Record { payload: b"", .. })));
    }

    #[test]
    fn zeros_read_as_the_end_and_flipped_bits_as_damage() {
        assert_eq!(decode_bytes(&[0u8; 64]), Err(Bad::Empty));
        let mut buf = vec![0u8; 64];
        let n = encode_record(&mut buf, 1, 2, b"abc");
        for bit in 0..n * 8 {
            let mut b = buf.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let got = decode_bytes(&b);
            if bit / 8 >= HEADER_LEN + 3 {
                // padding is not covered; it never reaches the reader
                continue;
            }
            assert!(got.is_err(), "bit {bit} flipped yet decoded as {got:?}");
        }
    }

    #[test]
    fn an_empty_record_with_its_seal_bit_flipped_is_not_a_valid_seal() {
        let mut buf = vec![0u8; 64];
        encode_record(&mut buf, 9, 1, b"");
        buf[3] ^= 0x40; // the SEAL bit of the tag
        assert_eq!(decode_bytes(&buf), Err(Bad::BadCrc));
    }

    #[test]
    fn the_checksum_of_the_parts_is_the_checksum_of_the_body() {
        let st = seq_and_time(3, 4);
        for len in [0usize, 1, 15, 16, 100, 127, 128, 1000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut body = st.to_vec();
            body.extend_from_slice(&payload);
            let tag = record_tag(len);
            assert_eq!(checksum_parts(tag, &st, &payload), checksum(tag, &body), "len {len}");
        }
    }

    #[test]
    fn a_seal_names_the_next_segment() {
        let mut buf = vec![0u8; 32];
        encode_seal(&mut buf, 1000, 5);
        assert_eq!(decode_bytes(&buf), Ok(Frame::Seal { next_seq: 1000, timestamp: 5 }));
    }

    #[test]
    fn a_frame_cut_short_is_truncated_not_a_panic() {
        let mut buf = vec![0u8; 64];
        let n = encode_record(&mut buf, 1, 2, b"abcdefgh");
        for cut in 0..n {
            assert!(decode_bytes(&buf[..cut]).is_err());
        }
    }
}
