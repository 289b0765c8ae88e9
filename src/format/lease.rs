//! A topic's lease in a consumer group: which member may persist the
//! group's position in it, and under which epoch.
//!
//! One file per topic, `groups/<group>/leases/<topic>`, rewritten in place
//! (never renamed) under the group's `checkpoints.lock`:
//!
//! ```text
//!  0  4  magic "LSLS"
//!  4  4  format version (1)
//!  8  8  epoch: bumped by every claim of the topic
//! 16  8  owner: the member's id (0 = released, nobody)
//! 24  4  (zero)
//! 28  4  CRC-32 of bytes 0..28
//! ```
//! A member claims a topic by writing `(epoch + 1, its id)`; it may persist
//! a position only while the file still says exactly that, which it checks
//! under the same lock as the append. Bytes that do not decode (never
//! written whole) count as epoch 0, owner 0.

/// Length of a lease file.
pub const LEASE_LEN: usize = 32;
const MAGIC: [u8; 4] = *b"LSLS";
/// Format version of lease files.
pub const VERSION: u32 = 1;

/// Who holds a topic, and since which claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lease {
    /// Bumped by every claim.
    pub epoch: u64,
    /// Member id of the holder (0: nobody).
    pub owner: u64,
}

impl Lease {
    /// Encodes the lease.
    pub fn encode(&self) -> [u8; LEASE_LEN] {
        let mut b = [0u8; LEASE_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..8].copy_from_slice(&VERSION.to_le_bytes());
        b[8..16].copy_from_slice(&self.epoch.to_le_bytes());
        b[16..24].copy_from_slice(&self.owner.to_le_bytes());
        let crc = crc32fast::hash(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a lease; `None` for bytes that are not a whole, valid lease
    /// of a known version.
    pub fn decode(b: &[u8]) -> Option<Lease> {
        if b.len() < LEASE_LEN || b[0..4] != MAGIC {
            return None;
        }
        if crc32fast::hash(&b[..28]) != u32::from_le_bytes(b[28..32].try_into().ok()?) {
            return None;
        }
        let version = u32::from_le_bytes(b[4..8].try_into().ok()?);
        if version == 0 || version > VERSION {
            return None;
        }
        Some(Lease {
            epoch: u64::from_le_bytes(b[8..16].try_into().ok()?),
            owner: u64::from_le_bytes(b[16..24].try_into().ok()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_round_trips_and_damage_is_refused() {
        let l = Lease { epoch: 7, owner: 0xfeed_beef };
        let b = l.encode();
        assert_eq!(Lease::decode(&b), Some(l));
        for bit in 0..LEASE_LEN * 8 {
            let mut c = b;
            c[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Lease::decode(&c), None, "bit {bit}");
        }
        assert_eq!(Lease::decode(&b[..31]), None);
    }
}
