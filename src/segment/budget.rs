//! Disk caps: bytes the log may occupy in all and per topic. Space is
//! charged when it is reserved (a new segment, a new window) and credited
//! when it is given back (unused preallocation released at sealing, segments
//! deleted). Deletions by readers in other processes are not seen here; the
//! writer re-measures the disk from time to time and when a cap is reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The caps and the bytes charged against them.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// Bytes in use, all topics.
    pub used: AtomicU64,
    pub max_total: Option<u64>,
    pub max_topic: Option<u64>,
}

/// One topic's share of a budget.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub budget: Arc<Budget>,
    pub topic: Arc<AtomicU64>,
    pub name: Arc<str>,
}

impl Account {
    /// Charges `bytes`, or fails with [`Error::Full`] (charging nothing) when a
    /// cap would be passed.
    pub(crate) fn charge(&self, bytes: u64) -> Result<()> {
        let b = &self.budget;
        if let Some(cap) = b.max_topic {
            let used = self.topic.load(Ordering::Acquire);
            if used + bytes > cap {
                return Err(Error::Full { what: "max_topic_bytes", topic: self.name.to_string(), used, cap });
            }
        }
        if let Some(cap) = b.max_total {
            let mut used = b.used.load(Ordering::Acquire);
            loop {
                if used + bytes > cap {
                    return Err(Error::Full { what: "max_disk_bytes", topic: self.name.to_string(), used, cap });
                }
                match b.used.compare_exchange_weak(used, used + bytes, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => break,
                    Err(u) => used = u,
                }
            }
        } else {
            b.used.fetch_add(bytes, Ordering::AcqRel);
        }
        self.topic.fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    /// Credits `bytes` given back.
    pub(crate) fn credit(&self, bytes: u64) {
        sub(&self.budget.used, bytes);
        sub(&self.topic, bytes);
    }
}

fn sub(a: &AtomicU64, n: u64) {
    let _ = a.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| Some(v.saturating_sub(n)));
}

/// Bytes a file occupies on disk (allocated blocks, so holes do not count).
pub(crate) fn disk_bytes(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks() * 512
}
