//! A pull cursor over one topic, for tools and mirrors that want records
//! without a closure or a group.

use std::time::Duration;

use super::batch::Batch;
use super::cursor::{Corruption, Cursor, Fill};
use crate::config::Config;
use crate::error::Result;
use crate::layout::{Layout, check_topic};

/// Reads one topic from a position, batch by batch. Takes no lock and saves
/// no position: it is for tools (`logstream tail`) and mirrors.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let cfg = logstream::Config::new(dir.path());
/// # let w = logstream::Writer::open(&cfg)?;
/// # w.write("t", b"a")?; w.write("t", b"b")?;
/// let mut r = logstream::TopicReader::open(&cfg, "t", 0)?;
/// let batch = r.next_batch(1 << 20)?.expect("two records");
/// let data: Vec<&[u8]> = batch.records().map(|r| r.data()).collect();
/// assert_eq!(data, [&b"a"[..], b"b"]);
/// assert!(r.next_batch(1 << 20)?.is_none()); // caught up
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TopicReader {
    cursor: Cursor,
    events: Vec<Corruption>,
}

impl std::fmt::Debug for TopicReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicReader")
            .field("topic", &self.cursor.topic)
            .field("next_seq", &self.cursor.next_seq)
            .finish()
    }
}

impl TopicReader {
    /// Positions at `seq` (0, or anything before the earliest retained record,
    /// starts at the earliest retained record).
    ///
    /// # Errors
    /// [`crate::Error::InvalidTopic`].
    pub fn open(cfg: &Config, topic: &str, seq: u64) -> Result<TopicReader> {
        check_topic(topic)?;
        let layout = Layout::new(cfg.base_dir());
        let log_id = crate::writer::open::read_meta(&layout.meta()).and_then(|m| m.log_id_u64()).unwrap_or(0);
        Ok(TopicReader { cursor: Cursor::new(&layout.topic(topic), topic, seq, false, log_id), events: Vec::new() })
    }

    /// The next batch of at most `max_bytes` of data, or `None` when caught up.
    ///
    /// # Errors
    /// I/O errors reading the segments.
    pub fn next_batch(&mut self, max_bytes: u64) -> Result<Option<Batch>> {
        match self.cursor.fill(max_bytes, &mut self.events)? {
            Fill::Batch(b) => {
                let end = b.first_seq() + b.len() as u64;
                self.cursor.advance(&b, end);
                Ok(Some(b))
            }
            Fill::CaughtUp(_) => Ok(None),
        }
    }

    /// Waits up to `timeout` for a batch.
    ///
    /// # Errors
    /// As [`TopicReader::next_batch`].
    pub fn wait_batch(&mut self, max_bytes: u64, timeout: Duration) -> Result<Option<Batch>> {
        let deadline = std::time::Instant::now() + timeout;
        let mut pause = Duration::from_micros(200);
        loop {
            if let Some(b) = self.next_batch(max_bytes)? {
                return Ok(Some(b));
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Sequence number of the next record to read.
    pub fn position(&self) -> u64 {
        self.cursor.next_seq
    }

    /// Damage and gaps met so far (drained).
    pub fn take_events(&mut self) -> Vec<Corruption> {
        std::mem::take(&mut self.events)
    }
}
