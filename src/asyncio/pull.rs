//! [`AsyncTopicReader`]: the pull cursor of [`crate::TopicReader`], awaited.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::waiter::Waiter;
use crate::config::Config;
use crate::error::Result;
use crate::format::meta::topic_bucket;
use crate::layout::{Layout, check_topic};
use crate::reader::Batch;
use crate::reader::cursor::{Corruption, Cursor, Fill};

/// Reads one topic from a position, batch by batch, and waits for new
/// records without holding a runtime worker: like [`crate::TopicReader`], it
/// takes no lock and saves no position.
///
/// While caught up, [`AsyncTopicReader::next_batch`] awaits a
/// `tokio::sync::Notify` that the process's `logstream-async-wait` thread
/// (one per log directory, shared by all async readers of it) completes
/// when a writer rings the doorbell for this topic: no polling, no
/// `spawn_blocking`. Cutting a batch reads the mapped segment on the
/// calling task (memory reads of the page cache; a cold page is a disk
/// read, as for any mapped file).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let cfg = logstream::Config::new(dir.path());
/// let w = logstream::Writer::open(&cfg)?;
/// let mut r = logstream::AsyncTopicReader::open(&cfg, "t", 0)?;
/// let waiting = tokio::spawn(async move { r.next_batch(1 << 20).await.map(|b| b.first_seq()) });
/// w.write("t", b"a")?; // wakes the reader
/// assert_eq!(waiting.await??, 0);
/// # Ok(())
/// # }
/// ```
pub struct AsyncTopicReader {
    cursor: Cursor,
    events: Vec<Corruption>,
    notify: Arc<Notify>,
    waiter: Arc<Waiter>,
}

impl std::fmt::Debug for AsyncTopicReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncTopicReader")
            .field("topic", &self.cursor.topic)
            .field("next_seq", &self.cursor.next_seq)
            .finish()
    }
}

impl AsyncTopicReader {
    /// Positions at `seq` (0, or anything before the earliest retained
    /// record, starts at the earliest retained record). Needs no runtime.
    ///
    /// # Errors
    /// [`crate::Error::InvalidTopic`]; an I/O error opening the doorbell of
    /// `base_dir` (which must exist) or claiming a slot in it;
    /// [`crate::Error::Thread`] if the waiter thread cannot start.
    pub fn open(cfg: &Config, topic: &str, seq: u64) -> Result<AsyncTopicReader> {
        check_topic(topic)?;
        let layout = Layout::new(cfg.base_dir());
        let log_id = crate::writer::open::read_meta(&layout.meta()).and_then(|m| m.log_id_u64()).unwrap_or(0);
        let waiter = Waiter::for_dir(&layout.base, cfg.poll_interval())?;
        let notify = Arc::new(Notify::new());
        waiter.register(topic_bucket(topic), &notify);
        Ok(AsyncTopicReader {
            cursor: Cursor::new(&layout.topic(topic), topic, seq, false, log_id),
            events: Vec::new(),
            notify,
            waiter,
        })
    }

    /// The next batch of at most `max_bytes` of data (a larger record comes
    /// alone), waiting as long as it takes; bound the wait with
    /// `tokio::time::timeout`.
    ///
    /// Cancel-safe: dropping the future before it completes loses nothing,
    /// the next call returns the same records.
    ///
    /// # Errors
    /// I/O errors reading the segments.
    pub async fn next_batch(&mut self, max_bytes: u64) -> Result<Batch> {
        loop {
            if let Some(b) = self.try_next_batch(max_bytes)? {
                return Ok(b);
            }
            self.notify.notified().await;
        }
    }

    /// The next batch if one is there now, `None` when caught up (then the
    /// reader is armed: the doorbell wakes the next `next_batch`).
    ///
    /// # Errors
    /// I/O errors reading the segments.
    pub fn try_next_batch(&mut self, max_bytes: u64) -> Result<Option<Batch>> {
        let batch = match self.cursor.fill(max_bytes, &mut self.events)? {
            Fill::Batch(b) => Some(b),
            Fill::CaughtUp(seg) => match (seg, self.waiter.slot()) {
                (Some(seg), Some(slot)) if seg.arm(slot) => self.look_again(max_bytes)?,
                _ => None,
            },
        };
        Ok(batch.inspect(|b| {
            let end = b.first_seq() + b.len() as u64;
            self.cursor.advance(b, end);
        }))
    }

    /// After arming: a writer may have published between the look and the
    /// arming without seeing the bit (its check has no full fence, and a
    /// store still in its store buffer shows within a microsecond), so look
    /// again for a few microseconds, as the threaded reader does.
    fn look_again(&mut self, max_bytes: u64) -> Result<Option<Batch>> {
        let deadline = Instant::now() + Duration::from_micros(3);
        loop {
            if let Fill::Batch(b) = self.cursor.fill(max_bytes, &mut self.events)? {
                return Ok(Some(b));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            while !self.cursor.peek() && Instant::now() < deadline {
                std::hint::spin_loop();
            }
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
