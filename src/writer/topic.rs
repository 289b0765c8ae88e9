//! One topic as the writer holds it: its lock (the only lock a `write()`
//! takes), its active segment, and the sealed segments awaiting their final
//! sync.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parking_lot::Mutex;

use crate::format::meta::topic_bucket;
use crate::segment::appender::{Appender, Progress};

/// A topic's writer-side state.
pub(crate) struct Topic {
    pub name: Box<str>,
    pub dir: PathBuf,
    pub bucket: usize,
    pub state: Mutex<TopicState>,
    /// Bytes the topic occupies on disk (charged against the caps).
    pub usage: Arc<AtomicU64>,
}

/// Guarded by the topic lock.
pub(crate) struct TopicState {
    /// Sequence number of the next record when no segment is active.
    pub next_seq: u64,
    /// The segment being written, once this session wrote to the topic.
    pub appender: Option<Appender>,
    /// Sealed segments the flush thread has not yet synced for the last time.
    pub sealed: Vec<Progress>,
    /// Whether the topic directory exists on disk.
    pub dir_exists: bool,
    /// Changes made to the topic directory's entries (segments created).
    pub dir_changes: u64,
    /// `dir_changes` as of the start of the last completed directory sync.
    pub dir_synced: u64,
    /// `next_seq` as of the last completed sync.
    pub synced_next: u64,
    /// `next_seq` the active segment's durable watermark says (written by
    /// timed passes only).
    pub wm_next: u64,
    /// First sequence number of the newest segment on disk (readers that
    /// reached its seal wait on it for the next segment).
    pub last_segment: Option<u64>,
    /// Records and data bytes written in this session.
    pub written: (u64, u64),
    /// The topic was deleted; writes through this handle go nowhere.
    pub deleted: bool,
}

impl Topic {
    pub(crate) fn new(name: &str, dir: PathBuf, next_seq: u64, dir_exists: bool, last_segment: Option<u64>) -> Topic {
        Topic {
            name: name.into(),
            dir,
            bucket: topic_bucket(name),
            usage: Arc::default(),
            state: Mutex::new(TopicState {
                next_seq,
                appender: None,
                sealed: Vec::new(),
                dir_exists,
                dir_changes: 0,
                dir_synced: 0,
                synced_next: next_seq,
                wm_next: next_seq,
                last_segment,
                written: (0, 0),
                deleted: false,
            }),
        }
    }
}

impl TopicState {
    /// Notes a change to the topic directory's entries.
    pub(crate) fn dir_changed(&mut self) {
        self.dir_changes += 1;
    }

    /// Whether the directory has changes no completed sync covers.
    pub(crate) fn dir_dirty(&self) -> bool {
        self.dir_changes > self.dir_synced
    }

    /// Sequence number the next record will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.appender.as_ref().map_or(self.next_seq, |a| a.next_seq)
    }
}

/// `topics` in the order passes visit them: by name while a test hook
/// watches the log directory `base` (feature `fault-injection`), so that the
/// file-system operations of a pass come in the same order in every run
/// (crash-point exploration numbers them); as the map gave them otherwise
/// (no sorting on the sync path).
pub(crate) fn in_pass_order(base: &std::path::Path, mut topics: Vec<Arc<Topic>>) -> Vec<Arc<Topic>> {
    if crate::storage::hook::watched(base) {
        topics.sort_by(|a, b| a.name.cmp(&b.name));
    }
    topics
}
