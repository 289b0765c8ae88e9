//! A dead letter: a record that kept failing, with why. Stored as the
//! payload of a record in the group's dead-letter log (a log directory of
//! its own, `groups/<group>/dead-letters/`, one topic per original topic),
//! so it has the frame's CRC like any record.
//!
//! ```text
//!  0  4  magic "LSDL"
//!  4  4  format version (1)
//!  8  8  sequence number in the original topic
//! 16  8  timestamp of the original record
//! 24  8  when it became a dead letter (ns since the Unix epoch)
//! 32  4  deliveries attempted
//! 36  4  length E of the error text
//! 40  E  error text (UTF-8) of the last failure
//! 40+E   the original record's bytes
//! ```

/// Magic of a dead-letter envelope.
pub const MAGIC: [u8; 4] = *b"LSDL";
/// Format version written.
pub const VERSION: u32 = 1;
const HEADER_LEN: usize = 40;

/// A decoded dead letter, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Sequence number in the original topic.
    pub seq: u64,
    /// Timestamp of the original record.
    pub timestamp: u64,
    /// When it became a dead letter.
    pub time: u64,
    /// Deliveries attempted.
    pub attempts: u32,
    /// The last error.
    pub error: &'a str,
    /// The original record's bytes.
    pub data: &'a [u8],
}

impl Envelope<'_> {
    /// Encodes the envelope.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_LEN + self.error.len() + self.data.len());
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&self.seq.to_le_bytes());
        b.extend_from_slice(&self.timestamp.to_le_bytes());
        b.extend_from_slice(&self.time.to_le_bytes());
        b.extend_from_slice(&self.attempts.to_le_bytes());
        b.extend_from_slice(&(self.error.len() as u32).to_le_bytes());
        b.extend_from_slice(self.error.as_bytes());
        b.extend_from_slice(self.data);
        b
    }
}

/// Decodes an envelope; `Err` says what is wrong with it.
pub fn decode(b: &[u8]) -> Result<Envelope<'_>, &'static str> {
    if b.len() < HEADER_LEN {
        return Err("shorter than a dead-letter header");
    }
    if b[0..4] != MAGIC {
        return Err("not a dead letter (bad magic)");
    }
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let u64_at = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(a)
    };
    if u32_at(4) != VERSION {
        return Err("dead letter of an unknown format version");
    }
    let elen = u32_at(36) as usize;
    let error = b.get(HEADER_LEN..HEADER_LEN + elen).ok_or("error text runs past the record")?;
    let error = std::str::from_utf8(error).map_err(|_| "error text is not UTF-8")?;
    Ok(Envelope {
        seq: u64_at(8),
        timestamp: u64_at(16),
        time: u64_at(24),
        attempts: u32_at(32),
        error,
        data: &b[HEADER_LEN + elen..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_and_truncation_is_an_error() {
        let e = Envelope { seq: 7, timestamp: 9, time: 11, attempts: 3, error: "timeout: 503", data: b"{\"a\":1}" };
        let b = e.encode();
        assert_eq!(decode(&b), Ok(e));
        assert!(decode(&b[..30]).is_err());
        assert!(decode(&b[..45]).is_err());
        let mut bad = b.clone();
        bad[0] = b'X';
        assert!(decode(&bad).is_err());
    }
}
