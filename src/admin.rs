//! Public topic queries that need the reader's cursor: where to start
//! reading "from 10:00". (What a topic holds is `segment/extent.rs`.)

use crate::config::Config;
use crate::error::Result;
use crate::layout::Layout;

/// The sequence number of the first record of `topic` written at or after
/// `at` (the topic's next sequence number if none was): where to start
/// reading "from 10:00". Record times are the writer's wall clock when
/// `write()` was called.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let cfg = logstream::Config::new(dir.path());
/// let w = logstream::Writer::open(&cfg)?;
/// w.write("a", b"old")?;
/// let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
/// assert_eq!(logstream::seq_at_time(&cfg, "a", std::time::UNIX_EPOCH)?, 0);
/// assert_eq!(logstream::seq_at_time(&cfg, "a", later)?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::InvalidTopic`](crate::Error::InvalidTopic),
/// [`Error::NoSuchTopic`](crate::Error::NoSuchTopic), I/O errors.
pub fn seq_at_time(cfg: &Config, topic: &str, at: std::time::SystemTime) -> Result<u64> {
    crate::layout::check_topic(topic)?;
    let layout = Layout::new(cfg.base_dir());
    let dir = layout.topic(topic);
    if !dir.is_dir() {
        return Err(crate::Error::NoSuchTopic { topic: topic.to_owned() });
    }
    let log_id = crate::writer::open::read_meta(&layout.meta()).and_then(|m| m.log_id_u64()).unwrap_or(0);
    crate::reader::cursor::seq_at_time(&dir, topic, at, log_id)
}
