//! The `Writer`: appends records to per-topic segments from any thread.
//!
//! `write()` takes the topic's lock, copies the record into the mapped active
//! segment and publishes it with one atomic store: no syscall and no
//! allocation in the steady state. The `logstream-flush` thread grows segments
//! ahead of the writers and makes records durable every `flush_interval`;
//! the `logstream-retention` thread measures disk use and deletes what the
//! retention limits say (`retention.rs`), off the flush thread.

mod compress;
pub(crate) mod flusher;
mod lifecycle;
pub(crate) mod open;
mod prefault;
mod retention;
mod roll;
mod shared;
mod stats;
mod tombstone;
pub(crate) mod topic;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};

use crate::config::{Config, Durability};
use crate::doorbell::Doorbell;
use crate::error::{Error, Result};
use crate::layout::{Layout, check_topic};
use crate::segment::Limits;
use crate::storage::fork_generation;
use flusher::FlushCtl;
pub use open::RecoveryReport;
use shared::{LAST_TOPIC, Lifecycle, NEXT_WRITER_ID, Shared, State};
pub use stats::{LatencySummary, WriterStats};
use topic::Topic;

/// Appends records to a log directory. Cheap to clone; every clone writes to
/// the same log, and dropping the last one closes it.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let cfg = logstream::Config::new(dir.path());
/// let w = logstream::Writer::open(&cfg)?;
/// assert_eq!(w.write("login", b"alice")?, 0);
/// assert_eq!(w.write("login", b"bob")?, 1);
/// w.flush()?; // both records are on stable storage now
/// w.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Writer {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("base_dir", &self.inner.shared.layout.base).finish()
    }
}

/// Closes the writer when the last clone goes.
struct Handle {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    prefaulter: Mutex<Option<JoinHandle<()>>>,
    /// Only when `compress_topics` names a topic.
    compressor: Mutex<Option<JoinHandle<()>>>,
    retainer: Mutex<Option<JoinHandle<()>>>,
}

/// How [`Writer::delete_topic`] treats consumer groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DeleteMode {
    /// Refuse while any registered group has not consumed every record.
    IfConsumed,
    /// Delete anyway; groups lose what they had not consumed.
    Force,
}

/// What [`Writer::write_at`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// The record was written with the requested sequence number.
    Written,
    /// A record with that sequence number is already in the log; nothing was written.
    AlreadyPresent,
}

/// A writer bound to one topic: skips the topic lookup of [`Writer::write`]
/// on hot paths. Keeps the writer open while it lives.
#[derive(Clone)]
pub struct TopicWriter {
    writer: Writer,
    topic: Arc<Topic>,
}

impl std::fmt::Debug for TopicWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicWriter").field("topic", &self.topic.name).finish()
    }
}

impl Writer {
    /// Opens the log in `cfg.base_dir()` for writing, creating it if needed,
    /// and recovers what an earlier writer left (see [`Writer::recovery_report`]).
    ///
    /// # Errors
    /// [`Error::Locked`] if another writer holds the directory, [`Error::Config`]
    /// for an invalid config, [`Error::Io`]/[`Error::Corrupt`] if the directory
    /// cannot be read or recovered.
    pub fn open(cfg: &Config) -> Result<Writer> {
        cfg.validate()?;
        let layout = Layout::new(cfg.base_dir());
        let limits = Limits {
            max_items: cfg.idx_file_max_item_num(),
            max_size: cfg.data_file_max_size(),
            index_interval: cfg.index_interval_bytes(),
        };
        let opened = open::open_dir(&layout, limits)?;
        let bell = Doorbell::open(&layout.base)?;
        let mut topics = HashMap::new();
        let mut recovered_any = false;
        for (t, pending) in opened.report.topics.iter().zip(opened.pending) {
            let topic = Topic::new(&t.topic, layout.topic(&t.topic), t.next_seq, true, t.last_segment);
            if t.segments_checked > 0 || !t.quarantined.is_empty() {
                // What recovery sealed, and the directory entries of segments
                // a crashed writer created, are made durable by the first
                // sync pass, before anything of this session counts.
                let mut st = topic.state.lock();
                st.sealed = pending;
                st.dir_changed();
                recovered_any = true;
            }
            topics.insert(t.topic.clone().into_boxed_str(), Arc::new(topic));
        }
        if !opened.report.is_clean() {
            log::warn!("opened {} after recovery: {:?}", layout.base.display(), opened.report);
        }
        let budget = crate::segment::budget::Budget {
            used: Default::default(),
            max_total: cfg.max_disk_bytes(),
            max_topic: cfg.max_topic_bytes(),
        };
        let mut used = 0;
        for t in topics.values() {
            let u = retention::topic_disk_bytes(&t.dir);
            t.usage.store(u, Ordering::Relaxed);
            used += u;
        }
        budget.used.store(used, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            id: NEXT_WRITER_ID.fetch_add(1, Ordering::Relaxed),
            budget: Arc::new(budget),
            sync_writes: cfg.durability() == crate::config::Durability::Sync,
            stats: stats::Counters::default(),
            max_record: cfg.max_record_bytes(),
            cfg: cfg.clone(),
            layout,
            limits,
            log_id: opened.log_id,
            session: opened.session,
            topics: RwLock::new(topics),
            life: Lifecycle::new(),
            flush: FlushCtl::default(),
            grow: Arc::default(),
            compress: Arc::default(),
            retention: Default::default(),
            bell,
            lock_file: opened.lock_file,
            topics_dir_dirty: AtomicBool::new(recovered_any),
            deleted_next: Mutex::default(),
            last_flush: std::sync::atomic::AtomicU64::new(0),
            fork_gen: fork_generation(),
            pid: std::process::id(),
            recovery: opened.report,
        });
        if recovered_any {
            shared.flush.request();
        }
        let queue = shared.grow.clone();
        let interval = shared.limits.index_interval;
        let prefaulter = std::thread::Builder::new()
            .name("logstream-prefault".into())
            .spawn(move || prefault::run(queue, interval))
            .map_err(|source| Error::Thread { name: "logstream-prefault".into(), source })?;
        let s2 = shared.clone();
        let flusher = match std::thread::Builder::new().name("logstream-flush".into()).spawn(move || flusher::run(s2)) {
            Ok(h) => h,
            Err(source) => {
                shared.grow.shutdown();
                let _ = prefaulter.join();
                return Err(Error::Thread { name: "logstream-flush".into(), source });
            }
        };
        let s4 = shared.clone();
        let retainer =
            match std::thread::Builder::new().name("logstream-retention".into()).spawn(move || retention::run(s4)) {
                Ok(h) => h,
                Err(source) => {
                    shared.grow.shutdown();
                    shared.flush.shutdown();
                    let _ = prefaulter.join();
                    let _ = flusher.join();
                    return Err(Error::Thread { name: "logstream-retention".into(), source });
                }
            };
        let compressor = if shared.cfg.compress_topics().is_empty() {
            None
        } else {
            let s3 = shared.clone();
            match std::thread::Builder::new().name("logstream-compress".into()).spawn(move || compress::run(s3)) {
                Ok(h) => {
                    compress::queue_existing(&shared);
                    Some(h)
                }
                Err(source) => {
                    shared.grow.shutdown();
                    shared.flush.shutdown();
                    shared.retention.shutdown();
                    let _ = prefaulter.join();
                    let _ = flusher.join();
                    let _ = retainer.join();
                    return Err(Error::Thread { name: "logstream-compress".into(), source });
                }
            }
        };
        Ok(Writer {
            inner: Arc::new(Handle {
                shared,
                flusher: Mutex::new(Some(flusher)),
                prefaulter: Mutex::new(Some(prefaulter)),
                compressor: Mutex::new(compressor),
                retainer: Mutex::new(Some(retainer)),
            }),
        })
    }

    /// Appends `data` to `topic` and returns its sequence number (per topic,
    /// dense, from 0). The record survives `kill -9` of this process as soon
    /// as this returns, and power loss after the next flush.
    ///
    /// Safe to call from async code: it copies into the mapped segment and
    /// does not wait for the disk. It waits only when it rolls a full segment
    /// (creating the next one and syncing the topic directory, once per
    /// segment), with `durability: sync` in the config, at a disk cap with
    /// `full_policy: block` (up to `full_max_wait_ms`), and while the writer
    /// is stopped. Await durability with `flush_async` (feature `tokio`).
    ///
    /// # Errors
    /// [`Error::InvalidTopic`], [`Error::RecordTooLarge`], [`Error::NoSpace`]
    /// (nothing written), [`Error::Closed`], [`Error::Poisoned`] after a failed
    /// sync, [`Error::Forked`] in a forked child.
    #[inline]
    pub fn write(&self, topic: &str, data: &[u8]) -> Result<u64> {
        let s = &self.inner.shared;
        // Hot loops write the same topic again and again: remember this
        // thread's last topic, so that a write costs a string compare instead
        // of a hash, a map lookup and a reference count.
        LAST_TOPIC.with(|cache| {
            if let Some((id, t)) = &*cache.borrow()
                && *id == s.id
                && *t.name == *topic
            {
                match s.append(t, data) {
                    // Deleted since: look the name up again (a new topic).
                    Err(Error::NoSuchTopic { .. }) => {}
                    r => return r,
                }
            }
            let t = s.topic(topic)?;
            let r = s.append(&t, data);
            *cache.borrow_mut() = Some((s.id, t));
            r
        })
    }

    /// Writes `data` as record `seq` of `topic`, for mirrors and replays that
    /// keep the sequence numbers of another log: `seq` below the topic's next
    /// sequence number is already there ([`Placed::AlreadyPresent`], nothing
    /// written, so replaying is idempotent); equal is written; above is
    /// accepted only while the topic holds no record at all (a mirror that
    /// starts in the middle of its source), and is otherwise a gap.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let w = logstream::Writer::open(&logstream::Config::new(dir.path()))?;
    /// assert_eq!(w.write_at("m", 1000, b"a")?, logstream::Placed::Written);
    /// assert_eq!(w.write_at("m", 1000, b"a")?, logstream::Placed::AlreadyPresent);
    /// assert_eq!(w.write("m", b"b")?, 1001);
    /// assert!(w.write_at("m", 1005, b"c").is_err()); // would leave a hole
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::SeqGap`] for a hole; otherwise as [`Writer::write`].
    pub fn write_at(&self, topic: &str, seq: u64, data: &[u8]) -> Result<Placed> {
        let t = self.inner.shared.topic(topic)?;
        self.inner.shared.append_at(&t, seq, data, None)
    }

    /// [`Writer::write_at`] with the record's write time given, in
    /// nanoseconds since the Unix epoch, instead of now: for mirrors that
    /// keep their source's timestamps, so that [`crate::seq_at_time`],
    /// `StartFrom::Time` and age retention answer on the copy as on the
    /// source. Times should not decrease within a topic (time lookups
    /// assume they do not, as they assume of the clock).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let cfg = logstream::Config::new(dir.path());
    /// let w = logstream::Writer::open(&cfg)?;
    /// let noon = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    /// let ns = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    /// w.write_at_time("m", 0, ns(noon), b"a")?;
    /// w.write_at_time("m", 1, ns(noon) + 1_000, b"b")?;
    /// w.flush()?;
    /// assert_eq!(logstream::seq_at_time(&cfg, "m", noon)?, 0);
    /// assert_eq!(logstream::seq_at_time(&cfg, "m", noon + std::time::Duration::from_nanos(1))?, 1);
    /// assert_eq!(logstream::seq_at_time(&cfg, "m", std::time::SystemTime::now())?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::write_at`].
    pub fn write_at_time(&self, topic: &str, seq: u64, timestamp_ns: u64, data: &[u8]) -> Result<Placed> {
        let t = self.inner.shared.topic(topic)?;
        self.inner.shared.append_at(&t, seq, data, Some(timestamp_ns))
    }

    /// Appends `data` with the durability given (overriding the config's):
    /// with [`Durability::Sync`] it returns once the record is on stable
    /// storage; writers waiting at the same time share one sync.
    ///
    /// # Errors
    /// As [`Writer::write`].
    pub fn write_with(&self, topic: &str, data: &[u8], durability: Durability) -> Result<u64> {
        let s = &self.inner.shared;
        let t = s.topic(topic)?;
        let seq = s.append(&t, data)?;
        if durability == Durability::Sync && !s.sync_writes {
            s.wait_durable()?;
        }
        Ok(seq)
    }

    /// [`Writer::write_with`] `Durability::Sync`: returns once `data` is on
    /// stable storage (group commit with concurrent callers).
    ///
    /// # Errors
    /// As [`Writer::write`].
    pub fn write_durable(&self, topic: &str, data: &[u8]) -> Result<u64> {
        self.write_with(topic, data, Durability::Sync)
    }

    /// Appends many records to one topic in one call; they get contiguous
    /// sequence numbers, returned as a range. With `durability` `Sync` (in
    /// the config), one sync covers the whole batch.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let w = logstream::Writer::open(&logstream::Config::new(dir.path()))?;
    /// assert_eq!(w.write_batch("t", &[b"a", b"b", b"c"])?, 0..3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Writer::write`]; nothing is written if a record is too large. A
    /// failure part way (e.g. a full disk) is [`Error::PartialBatch`], which
    /// says how many records were written.
    pub fn write_batch(&self, topic: &str, records: &[&[u8]]) -> Result<std::ops::Range<u64>> {
        let t = self.inner.shared.topic(topic)?;
        self.inner.shared.append_batch(&t, records, false)
    }

    /// [`Writer::write_batch`] with the durability given.
    ///
    /// # Errors
    /// As [`Writer::write_batch`].
    pub fn write_batch_with(
        &self,
        topic: &str,
        records: &[&[u8]],
        durability: Durability,
    ) -> Result<std::ops::Range<u64>> {
        let t = self.inner.shared.topic(topic)?;
        self.inner.shared.append_batch(&t, records, durability == Durability::Sync)
    }

    /// Deletes a topic and its records. With [`DeleteMode::IfConsumed`] it is
    /// refused while a registered group has not consumed every record.
    ///
    /// Writing to the name afterwards continues its numbering: the first new
    /// record gets the `next_seq` the deleted topic had (kept across sessions
    /// in `deleted/<topic>`), so a sequence number never names two records.
    /// Every group then receives the new records, whether it is restarted or
    /// left running; a group that had not consumed the deleted records (a
    /// forced deletion) is told of them as a gap, as after retention.
    ///
    /// The deletion is one durable rename; a crash at any point leaves the
    /// topic whole or deleted with its numbering kept.
    ///
    /// # Errors
    /// [`Error::TopicInUse`], [`Error::NoSuchTopic`], I/O errors.
    pub fn delete_topic(&self, topic: &str, mode: DeleteMode) -> Result<crate::segment::extent::TopicInfo> {
        self.inner.shared.delete_topic(topic, mode)
    }

    /// What each topic holds (see [`crate::topics`]).
    ///
    /// # Errors
    /// I/O errors reading the directory.
    pub fn topics(&self) -> Result<Vec<crate::segment::extent::TopicInfo>> {
        crate::segment::extent::topics(&self.inner.shared.cfg)
    }

    /// Counters since the writer opened.
    pub fn stats(&self) -> WriterStats {
        self.inner.shared.stats_snapshot()
    }

    /// A handle that writes to one topic without looking it up each time.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for a bad name.
    pub fn topic(&self, topic: &str) -> Result<TopicWriter> {
        let t = self.inner.shared.topic(topic)?;
        Ok(TopicWriter { writer: self.clone(), topic: t })
    }

    /// Returns when every record written (by any clone) before the call is on
    /// stable storage.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if a sync failed (now or before), [`Error::Closed`].
    pub fn flush(&self) -> Result<()> {
        self.inner.shared.flush()
    }

    /// Asks for what [`Writer::flush`] (`publish`) or a durable write waits
    /// for, without waiting: `done` runs on the flush thread with the pass's
    /// outcome (the async API awaits it). It must not block.
    #[cfg(feature = "tokio")]
    pub(crate) fn flush_then(&self, publish: bool, done: flusher::Completion) -> Result<()> {
        self.inner.shared.flush_then(publish, done)
    }

    /// The error a flush reports for the reason a pass gave.
    #[cfg(feature = "tokio")]
    pub(crate) fn flush_error(&self, why: String) -> Error {
        self.inner.shared.flush_error(why)
    }

    /// Flushes, then waits until every segment of a `compress_topics` topic
    /// sealed so far has been compressed (or left plain: one that would not
    /// shrink by at least 10% stays as it is). Compression runs on the
    /// `logstream-compress` thread; this is for callers that want it done
    /// now, such as a backup about to copy the directory.
    ///
    /// # Errors
    /// As [`Writer::flush`]. A segment that fails to compress is not an
    /// error: it stays plain and readable, and the failure is logged.
    pub fn wait_compressed(&self) -> Result<()> {
        self.inner.shared.flush()?;
        self.inner.shared.compress.wait_idle();
        Ok(())
    }

    /// Runs, now and on the calling thread, the housekeeping the flush and
    /// retention threads do about once a second: rolls active segments older
    /// than `segment_max_age_ms`, measures disk use and applies retention. For
    /// tests that need these steps at chosen points (feature
    /// `fault-injection`; see `StorageHook::before_timed_housekeeping` to
    /// keep the thread's own rounds out).
    ///
    /// # Errors
    /// [`Error::Forked`] in a forked child, and as [`Writer::flush`] once
    /// closed or poisoned. What housekeeping fails to do is logged and
    /// retried on the next round, as on the flush thread.
    #[cfg(feature = "fault-injection")]
    pub fn run_housekeeping(&self) -> Result<()> {
        let s = &self.inner.shared;
        s.check_usable()?;
        flusher::housekeeping(s);
        Ok(())
    }

    /// Flushes, seals the active segments and releases their memory maps.
    /// Writes block until [`Writer::resume`] (or fail with `Closed` after
    /// [`Writer::close`]).
    ///
    /// # Errors
    /// As [`Writer::flush`].
    pub fn stop(&self) -> Result<()> {
        let s = &self.inner.shared;
        s.check_usable()?;
        s.life.stop();
        s.seal_all()?;
        s.flush()
    }

    /// Lets writes continue after [`Writer::stop`].
    ///
    /// # Errors
    /// [`Error::Closed`] after close, [`Error::Poisoned`].
    pub fn resume(&self) -> Result<()> {
        let s = &self.inner.shared;
        s.check_forked()?;
        match s.life.resume() {
            Ok(()) => Ok(()),
            Err(State::Poisoned) => Err(s.poison_error()),
            Err(_) => Err(Error::Closed),
        }
    }

    /// Flushes everything, seals the active segments and stops the flush
    /// thread. Later writes fail with [`Error::Closed`]. Closing twice is fine.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if data could not be made durable.
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }

    /// Like [`Writer::close`], but gives up waiting for the final sync after
    /// `timeout` (a stalled disk): it then reports how many records and bytes
    /// were not yet durable. They are in the files and a later writer's
    /// recovery finds them; the directory stays locked until the sync in
    /// progress ends.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if data could not be made durable.
    pub fn close_timeout(&self, timeout: std::time::Duration) -> Result<CloseReport> {
        self.inner.close_timeout(timeout)
    }

    /// What recovery found and did when this writer opened the directory.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.shared.recovery
    }

    /// The log directory.
    pub fn base_dir(&self) -> &std::path::Path {
        &self.inner.shared.layout.base
    }

    /// Sequence number the next record of `topic` will get (0 for a new
    /// topic; for a deleted one, the seq after its deleted records).
    ///
    /// # Errors
    /// [`Error::InvalidTopic`]; an unreadable tombstone of a deleted topic.
    pub fn next_seq(&self, topic: &str) -> Result<u64> {
        check_topic(topic)?;
        // A topic this session has not written is new or deleted: the
        // sequence number it resumes at (what `write` would return).
        let t = self.inner.shared.topics.read().get(topic).cloned();
        match t {
            Some(t) => Ok(t.state.lock().next_seq()),
            None => self.inner.shared.resume_seq(topic),
        }
    }

    /// The writer session number: the epoch of segments this writer creates.
    pub fn session(&self) -> u64 {
        self.inner.shared.session
    }
}

impl TopicWriter {
    /// Appends `data`; see [`Writer::write`].
    ///
    /// # Errors
    /// As [`Writer::write`].
    #[inline]
    pub fn write(&self, data: &[u8]) -> Result<u64> {
        self.writer.inner.shared.append(&self.topic, data)
    }

    /// Appends `data` and returns once it is on stable storage; see
    /// [`Writer::write_durable`].
    ///
    /// # Errors
    /// As [`Writer::write`].
    pub fn write_durable(&self, data: &[u8]) -> Result<u64> {
        let s = &self.writer.inner.shared;
        let seq = s.append(&self.topic, data)?;
        if !s.sync_writes {
            s.wait_durable()?;
        }
        Ok(seq)
    }

    /// Appends many records; see [`Writer::write_batch`].
    ///
    /// # Errors
    /// As [`Writer::write_batch`].
    pub fn write_batch(&self, records: &[&[u8]]) -> Result<std::ops::Range<u64>> {
        self.writer.inner.shared.append_batch(&self.topic, records, false)
    }

    /// Appends many records with the durability given; see [`Writer::write_batch_with`].
    ///
    /// # Errors
    /// As [`Writer::write_batch`].
    pub fn write_batch_with(&self, records: &[&[u8]], durability: Durability) -> Result<std::ops::Range<u64>> {
        self.writer.inner.shared.append_batch(&self.topic, records, durability == Durability::Sync)
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.topic.name
    }

    /// The writer this handle belongs to.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }
}

/// What [`Writer::close_timeout`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CloseReport {
    /// Everything written is durable.
    pub durable: bool,
    /// Records not yet durable when the timeout passed.
    pub pending_records: u64,
    /// Their bytes (frames included).
    pub pending_bytes: u64,
}

impl Handle {
    fn close_timeout(&self, timeout: std::time::Duration) -> Result<CloseReport> {
        let deadline = std::time::Instant::now() + timeout;
        let s = &self.shared;
        s.check_forked()?;
        let prev = s.mark_closed();
        // No deletion after this point. The thread is joined by `close`, or
        // let go below if the final sync gives up (a pass stalled on the
        // same disk must not hold this call up either).
        s.retention.shutdown();
        if prev == State::Poisoned {
            return Err(s.poison_error());
        }
        if self.flusher.lock().is_none() {
            return Ok(CloseReport { durable: true, pending_records: 0, pending_bytes: 0 });
        }
        s.seal_all()?;
        match s.flush.flush_until(Some(deadline)) {
            Ok(true) => {
                self.close()?;
                Ok(CloseReport { durable: true, pending_records: 0, pending_bytes: 0 })
            }
            Ok(false) => {
                let (pending_records, pending_bytes) = s.pending();
                // Let the background threads finish on their own: the last of
                // them to go releases the directory lock.
                s.flush.shutdown();
                s.grow.shutdown();
                s.compress.shutdown();
                if self.retainer.lock().as_ref().is_some_and(|r| r.is_finished()) {
                    self.stop_retention();
                }
                drop(self.retainer.lock().take());
                drop(self.flusher.lock().take());
                drop(self.prefaulter.lock().take());
                drop(self.compressor.lock().take());
                log::warn!(
                    "closed {} with {pending_records} record(s), {pending_bytes} byte(s) not yet durable",
                    s.layout.base.display()
                );
                Ok(CloseReport { durable: false, pending_records, pending_bytes })
            }
            Err(_) => Err(if s.is_poisoned() { s.poison_error() } else { Error::Closed }),
        }
    }

    fn close(&self) -> Result<()> {
        let s = &self.shared;
        // In a forked child the background threads do not exist (joining
        // them would fail), the mappings are the parent's live segments
        // (sealing them would store into the parent's log) and the lock
        // is the parent's too (unlocking would release it): do nothing.
        s.check_forked()?;
        let prev = s.mark_closed();
        // Compression stops first (after the segment it is working on): a
        // segment it has not done is compressed by the next writer.
        s.compress.shutdown();
        if let Some(c) = self.compressor.lock().take()
            && c.join().is_err()
        {
            log::error!("the logstream-compress thread panicked");
        }
        // Retention stops before the last seal and sync (and a poisoned
        // writer's stopped already): nothing is deleted from a closing log.
        self.stop_retention();
        let Some(thread) = self.flusher.lock().take() else {
            return if prev == State::Poisoned { Err(s.poison_error()) } else { Ok(()) };
        };
        let sealed = if prev == State::Poisoned { Ok(()) } else { s.seal_all() };
        s.flush.shutdown();
        if thread.join().is_err() {
            log::error!("the logstream-flush thread panicked");
        }
        s.grow.shutdown();
        if let Some(p) = self.prefaulter.lock().take()
            && p.join().is_err()
        {
            log::error!("the logstream-prefault thread panicked");
        }
        // Another writer may open the directory now, even while clones of
        // this one still exist (they only answer `Closed`).
        if let Err(e) = crate::storage::file::unlock(&s.lock_file) {
            log::warn!("releasing {} failed: {e}", s.layout.lock().display());
        }
        sealed?;
        if s.is_poisoned() {
            return Err(s.poison_error());
        }
        Ok(())
    }

    /// Stops the `logstream-retention` thread and joins it (after the pass
    /// it is in, if any).
    fn stop_retention(&self) {
        self.shared.retention.shutdown();
        if let Some(r) = self.retainer.lock().take()
            && r.join().is_err()
        {
            log::error!("the logstream-retention thread panicked");
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.shared.check_forked().is_err() {
            return;
        }
        if let Err(e) = self.close() {
            log::error!("closing the writer of {} failed: {e}", self.shared.layout.base.display());
        }
    }
}
