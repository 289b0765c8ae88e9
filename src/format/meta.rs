//! `logstream.meta`: the identity of a log directory, and the doorbell's layout.
//!
//! `logstream.meta` is a small JSON document replaced atomically (temporary
//! file, fsync, rename, directory fsync) each time a writer opens the
//! directory:
//! ```json
//! {"format": 1, "log_id": "5f1c…", "session": 12, "created": 1764100000000000000}
//! ```
//! `log_id` is random and never changes; it makes forwarding IDs unique across
//! log directories. `session` counts writer sessions; it is the epoch of every
//! segment created in that session (a new session always starts new
//! segments), so a sequence number reused after a power-loss cut gets a new
//! `(epoch, seq)` pair.
//!
//! `doorbell` is a shared mapping through which writers wake readers:
//! ```text
//!      0     8  magic "LSTRMBEL" (all zero when fresh: same meaning)
//!   1024 + 1024*s   slot s, s in 0..64, claimed by one reader process with a file lock:
//!        +0    4  futex word, bumped on every ring
//!      +512  512  dirty bitmap: bit (hash(topic) % 4096) set when that topic rang
//! ```

use serde::{Deserialize, Serialize};

/// The contents of `logstream.meta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirMeta {
    /// Format version of the directory layout.
    pub format: u32,
    /// Random id of the log directory, 16 hex digits.
    pub log_id: String,
    /// Last writer session.
    pub session: u64,
    /// When the directory was created (ns since the Unix epoch).
    pub created: u64,
    /// Kernel boot id when the last writer opened the directory: unchanged
    /// means no reboot (hence no power loss) since.
    #[serde(default)]
    pub boot_id: String,
}

impl DirMeta {
    /// The log id as a number.
    pub fn log_id_u64(&self) -> Option<u64> {
        u64::from_str_radix(&self.log_id, 16).ok()
    }
}

/// Number of reader slots in the doorbell.
pub const DOORBELL_SLOTS: usize = 64;
/// Offset of slot 0.
pub const DOORBELL_SLOT0: usize = 1024;
/// Bytes per slot.
pub const DOORBELL_SLOT_LEN: usize = 1024;
/// Offset of the dirty bitmap inside a slot.
pub const DOORBELL_DIRTY_AT: usize = 512;
/// Bits in a slot's dirty bitmap.
pub const DOORBELL_DIRTY_BITS: usize = 4096;
/// Length of the doorbell file.
pub const DOORBELL_LEN: usize = DOORBELL_SLOT0 + DOORBELL_SLOTS * DOORBELL_SLOT_LEN;
/// Magic at the start of the doorbell.
pub const DOORBELL_MAGIC: [u8; 8] = *b"LSTRMBEL";

/// The dirty-bitmap bucket of a topic: FNV-1a of its name.
pub fn topic_bucket(topic: &str) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for b in topic.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as usize % DOORBELL_DIRTY_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_through_json() {
        let m = DirMeta { format: 1, log_id: "00ff00ff00ff00ff".into(), session: 3, created: 9, boot_id: "b".into() };
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<DirMeta>(&s).unwrap(), m);
        assert_eq!(m.log_id_u64(), Some(0x00ff_00ff_00ff_00ff));
    }

    #[test]
    fn buckets_are_stable_and_in_range() {
        assert_eq!(topic_bucket("login"), topic_bucket("login"));
        for t in ["a", "b", "事件", &"x".repeat(200)] {
            assert!(topic_bucket(t) < DOORBELL_DIRTY_BITS);
        }
    }
}
