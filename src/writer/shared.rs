//! What every clone of a `Writer` shares: the topics, the lifecycle state
//! (`lifecycle.rs`), and the write path itself: one path for single records
//! and batches (`append_records`), which starts and rolls segments through
//! `roll.rs` and meets disk caps through `retention.rs`.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};

use super::Placed;
use super::flusher::FlushCtl;
pub(crate) use super::lifecycle::{Lifecycle, Poison, State};
use super::open::RecoveryReport;
use super::prefault;
use super::topic::{Topic, TopicState};
use crate::config::Config;
use crate::doorbell::Doorbell;
use crate::error::{Error, Result};
use crate::layout::{Layout, check_topic};
use crate::segment::appender::Ask;
use crate::segment::{Limits, Segment};
use crate::storage::file::now_ns;
use crate::storage::fork_generation;

thread_local! {
    /// The topic this thread last wrote through `Writer::write`, with the id
    /// of the writer it belongs to.
    pub(crate) static LAST_TOPIC: std::cell::RefCell<Option<(u64, Arc<Topic>)>> = const { std::cell::RefCell::new(None) };
}

/// Ids of writers, never reused (a cached topic must belong to this writer).
pub(crate) static NEXT_WRITER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// How long after a `flush()` call the writer keeps starting the writeback
/// of finished pages early (see `Shared::ask`).
const EARLY_WRITEBACK_AFTER_FLUSH: std::time::Duration = std::time::Duration::from_secs(10);

/// State shared by the clones, the topic writers and the flush thread.
pub(crate) struct Shared {
    pub(crate) id: u64,
    /// Disk caps and the bytes charged against them.
    pub(crate) budget: Arc<crate::segment::budget::Budget>,
    /// `durability` is `Sync`: every write waits for a sync.
    pub(crate) sync_writes: bool,
    pub(crate) stats: super::stats::Counters,
    pub(crate) max_record: u64,
    pub(crate) cfg: Config,
    pub(crate) layout: Layout,
    pub(crate) limits: Limits,
    pub(crate) log_id: u64,
    pub(crate) session: u64,
    pub(crate) topics: RwLock<HashMap<Box<str>, Arc<Topic>>>,
    /// Where topics deleted in this session resume their numbering (also in
    /// their tombstones, once written).
    pub(crate) deleted_next: Mutex<HashMap<Box<str>, u64>>,
    /// Running, stopped, closed or poisoned (with its cause).
    pub(crate) life: Lifecycle,
    pub(crate) flush: FlushCtl,
    pub(crate) grow: Arc<prefault::GrowQueue>,
    pub(crate) compress: Arc<super::compress::CompressQueue>,
    pub(crate) retention: super::retention::RetentionCtl,
    pub(crate) bell: Doorbell,
    pub(crate) lock_file: File,
    pub(crate) topics_dir_dirty: AtomicBool,
    /// When `flush()` was last called (ns since the epoch, 0 = never): a
    /// writer whose user flushes gets early writeback (see `ask`).
    pub(crate) last_flush: std::sync::atomic::AtomicU64,
    pub(crate) fork_gen: u64,
    pub(crate) pid: u32,
    pub(crate) recovery: RecoveryReport,
}

impl Shared {
    /// Stops taking writes (a poisoned writer stays poisoned) and wakes the
    /// callers blocked on a stopped writer; returns the state it was in.
    pub(crate) fn mark_closed(&self) -> State {
        self.life.close()
    }

    /// Finds or registers a topic.
    #[inline]
    pub(crate) fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        if let Some(t) = self.topics.read().get(name) {
            return Ok(t.clone());
        }
        check_topic(name)?;
        let mut map = self.topics.write();
        if let Some(t) = map.get(name) {
            return Ok(t.clone());
        }
        // A topic not seen by this session has no directory (recovery found
        // every one there is): it is new, or was deleted, and then its
        // numbering resumes where the deleted one ended.
        let next = self.resume_seq(name)?;
        let t = Arc::new(Topic::new(name, self.layout.topic(name), next, false, None));
        map.insert(name.into(), t.clone());
        Ok(t)
    }

    /// Where a topic this session has not registered starts: after its
    /// deleted records if it was deleted, else at 0.
    pub(crate) fn resume_seq(&self, name: &str) -> Result<u64> {
        match self.deleted_next.lock().get(name) {
            Some(&n) => Ok(n),
            None => super::tombstone::next_seq(&self.layout, name),
        }
    }

    #[inline]
    pub(crate) fn append(&self, t: &Topic, data: &[u8]) -> Result<u64> {
        self.append_timed(t, data, now_ns())
    }

    /// [`Shared::append`] with the record's timestamp given (mirrors keep
    /// their source's).
    #[inline]
    pub(crate) fn append_timed(&self, t: &Topic, data: &[u8], ts: u64) -> Result<u64> {
        self.append_records(t, &[data], ts, false).map(|seqs| seqs.start)
    }

    /// Deletes a topic: its files, and the writer's state for it.
    pub(crate) fn delete_topic(
        &self,
        name: &str,
        mode: super::DeleteMode,
    ) -> Result<crate::segment::extent::TopicInfo> {
        self.check_forked()?;
        check_topic(name)?;
        let dir = self.layout.topic(name);
        let t = self.topics.read().get(name).cloned();
        let Some(t) = t else { return Err(Error::NoSuchTopic { topic: name.to_owned() }) };
        let mut st = t.state.lock();
        let next = st.next_seq();
        if mode == super::DeleteMode::IfConsumed && next > 0 {
            for (group, positions, _) in crate::group::group_positions(&self.layout)? {
                let confirmed = positions.iter().find(|(t, _)| t == name).map_or(0, |p| p.1);
                if confirmed < next {
                    return Err(Error::TopicInUse { topic: name.to_owned(), group, confirmed, next });
                }
            }
        }
        let mut info = crate::segment::extent::topic_info(&dir, name).unwrap_or_default();
        info.next_seq = next;
        info.records = next.saturating_sub(info.first_seq);
        // Under the map's lock until the directory is gone, so that a write
        // to the same name waits and then starts a new directory at `next`.
        let mut map = self.topics.write();
        // Out of sight of readers at once (one rename, durable). A failure
        // here leaves the topic as it was.
        let gone = super::tombstone::begin(&self.layout, name, next)?;
        // A reader at the end of the active segment follows its seal to
        // `next`: the re-created topic's first segment.
        if let Some(mut app) = st.appender.take() {
            self.seal(&t, &mut app);
        }
        st.deleted = true;
        st.sealed.clear();
        map.remove(name);
        self.deleted_next.lock().insert(name.into(), next);
        drop(map);
        drop(st);
        self.account(&t).credit(t.usage.load(Ordering::Acquire));
        // What is left can fail (a full disk, say) without undoing the
        // deletion: this session remembers `next`, and the next open finishes
        // the pending directory, which carries it.
        if let Err(e) = super::tombstone::finish(&self.layout, &gone, name, next) {
            log::warn!("topic {name:?} is deleted; finishing its removal failed ({e}); the next open retries");
        }
        log::info!("deleted topic {name:?} ({} record(s)); its numbering resumes at {next}", info.records);
        Ok(info)
    }

    /// The account a topic's new space is charged to.
    pub(crate) fn account(&self, t: &Topic) -> crate::segment::budget::Account {
        crate::segment::budget::Account {
            budget: self.budget.clone(),
            topic: t.usage.clone(),
            name: t.name.as_ref().into(),
        }
    }

    /// A write met a disk cap: apply the policy. `Ok` means "try again".
    #[cold]
    pub(crate) fn at_cap(&self, t: &Topic, e: Error, since: &mut Option<std::time::Instant>) -> Result<()> {
        match self.cfg.full_policy() {
            crate::config::FullPolicy::Error => {
                self.stats.full_errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
            crate::config::FullPolicy::DropOldest => {
                let per_topic = matches!(e, Error::Full { what: "max_topic_bytes", .. });
                if super::retention::drop_oldest(self, if per_topic { Some(t) } else { None }, "disk cap reached")? {
                    return Ok(());
                }
                self.stats.full_errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
            crate::config::FullPolicy::Block { max_wait } => {
                let start = *since.get_or_insert_with(|| {
                    self.stats.full_waits.fetch_add(1, Ordering::Relaxed);
                    std::time::Instant::now()
                });
                if start.elapsed() >= max_wait {
                    self.stats.full_errors.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
                // A retention pass counts again what the log occupies
                // (consumers, maybe in other processes, delete segments
                // they finished) and applies the retention limits; the
                // write tries again as soon as one freed space, else after
                // 20 ms (a write retried at every pass would measure the
                // disk again and again).
                let left = max_wait.saturating_sub(start.elapsed());
                let used = self.budget.used.load(Ordering::Acquire);
                let freed = || self.budget.used.load(Ordering::Acquire) < used;
                self.retention.wake_and_wait(left.min(std::time::Duration::from_millis(20)), freed);
                Ok(())
            }
        }
    }

    /// Appends every record of `records` under one acquisition of the topic
    /// lock, so their sequence numbers are contiguous; returns them. With
    /// `durable`, one sync covers the whole batch.
    pub(crate) fn append_batch(&self, t: &Topic, records: &[&[u8]], durable: bool) -> Result<std::ops::Range<u64>> {
        self.append_records(t, records, now_ns(), durable)
    }

    /// The write path, for one record and for batches: the size check, the
    /// usable check, the topic lock, the disk caps' policy, and the roll of
    /// a full segment, once. Nothing is written if a record is too large;
    /// a cap met before the first record applies `full_policy` and the
    /// whole batch goes again; any failure after it is a partial batch.
    #[inline]
    fn append_records(&self, t: &Topic, records: &[&[u8]], ts: u64, durable: bool) -> Result<std::ops::Range<u64>> {
        if let Some(r) = records.iter().find(|r| r.len() as u64 > self.max_record) {
            return Err(Error::RecordTooLarge { topic: t.name.to_string(), len: r.len(), max: self.max_record });
        }
        self.check_forked()?;
        let mut full_since = None;
        let first = 'attempt: loop {
            let mut st = t.state.lock();
            if st.deleted {
                return Err(Error::NoSuchTopic { topic: t.name.to_string() });
            }
            if !self.life.is_running() {
                drop(st);
                self.wait_running()?;
                continue;
            }
            let first = st.next_seq();
            let mut done = 0usize;
            while let Some(data) = records.get(done) {
                match self.append_one(t, &mut st, data, ts) {
                    Ok(true) => {
                        st.written.0 += 1;
                        st.written.1 += data.len() as u64;
                        done += 1;
                    }
                    // Rolled a full segment: the record goes into the next.
                    Ok(false) => {}
                    // At a cap before anything was written: the policy may
                    // wait or make room, then the whole batch goes again.
                    Err(e @ Error::Full { .. }) if done == 0 => {
                        drop(st);
                        self.at_cap(t, e, &mut full_since)?;
                        continue 'attempt;
                    }
                    Err(e) => return Err(partial(t, first, done, e)),
                }
            }
            if let Some(a) = &st.appender
                && a.seg.waiting().load(Ordering::SeqCst) != 0
            {
                self.ring(&a.seg, t.bucket);
            }
            break first;
        };
        if durable || self.sync_writes {
            self.wait_durable()?;
        }
        Ok(first..first + records.len() as u64)
    }

    /// Appends one record to the topic's active segment (started first if
    /// there is none): true once written, false if the segment was full and
    /// was rolled instead (append again).
    #[inline]
    fn append_one(&self, t: &Topic, st: &mut TopicState, data: &[u8], ts: u64) -> Result<bool> {
        let step = match st.appender {
            Some(ref mut a) => a.append(data, ts, &|seg, what| self.ask(seg, what))?,
            None => self.start_segment(t, st)?.append(data, ts, &|seg, what| self.ask(seg, what))?,
        };
        match step {
            Some(_) => Ok(true),
            None => self.roll(t, st).map(|()| false),
        }
    }

    /// Returns once everything written before the call is durable (group
    /// commit, see `flusher::commit`: a lone caller syncs on its own thread,
    /// concurrent callers share the flush thread's next pass).
    pub(crate) fn wait_durable(&self) -> Result<()> {
        self.check_usable()?;
        super::flusher::commit(self).map_err(|why| self.flush_error(why))
    }

    /// Writes `data` as record `seq` (see `Writer::write_at`), timestamped
    /// `ts` or, when `None`, now.
    pub(crate) fn append_at(&self, t: &Topic, seq: u64, data: &[u8], ts: Option<u64>) -> Result<Placed> {
        self.check_forked()?;
        {
            let mut st = t.state.lock();
            let next = st.next_seq();
            if seq < next {
                return Ok(Placed::AlreadyPresent);
            }
            if seq > next {
                let empty = st.appender.as_ref().is_none_or(|a| a.count == 0) && st.last_segment.is_none();
                if !empty {
                    return Err(Error::SeqGap { topic: t.name.to_string(), expected: next, got: seq });
                }
                st.next_seq = seq;
                if let Some(a) = st.appender.take() {
                    // An empty segment started at the old position: drop it.
                    drop(a);
                }
            }
        }
        // The topic lock is released in between; a concurrent writer of the
        // same topic can take `seq` first, which the check below reports.
        let got = self.append_timed(t, data, ts.unwrap_or_else(now_ns))?;
        if got != seq {
            return Err(Error::SeqGap { topic: t.name.to_string(), expected: seq, got });
        }
        Ok(Placed::Written)
    }

    /// A snapshot of the counters.
    pub(crate) fn stats_snapshot(&self) -> super::stats::WriterStats {
        let topics: Vec<Arc<Topic>> = self.topics.read().values().cloned().collect();
        let (mut records, mut bytes) = (0, 0);
        for t in &topics {
            let st = t.state.lock();
            records += st.written.0;
            bytes += st.written.1;
        }
        let c = &self.stats;
        super::stats::WriterStats {
            records,
            bytes,
            topics: topics.len() as u64,
            syncs: c.syncs.load(Ordering::Relaxed),
            sync_latency: c.sync_latency.summary(),
            full_waits: c.full_waits.load(Ordering::Relaxed),
            full_errors: c.full_errors.load(Ordering::Relaxed),
            segments_dropped: c.segments_dropped.load(Ordering::Relaxed),
            segments_compressed: c.segments_compressed.load(Ordering::Relaxed),
            early_writeback_bytes: self.grow.written_back.load(Ordering::Relaxed),
            disk_bytes: self.budget.used.load(Ordering::Relaxed),
        }
    }

    /// Records and bytes not yet durable (for `close_timeout`).
    pub(crate) fn pending(&self) -> (u64, u64) {
        let topics: Vec<Arc<Topic>> = self.topics.read().values().cloned().collect();
        let (mut records, mut bytes) = (0, 0);
        for t in topics {
            let st = t.state.lock();
            records += st.next_seq().saturating_sub(st.synced_next);
            for p in st.sealed.iter().chain(st.appender.as_ref().map(|a| a.progress()).iter()) {
                let durable = crate::segment::read_watermark(&p.seg.data).map_or(0, |w| w.durable_end);
                bytes += p.end.saturating_sub(durable.max(crate::format::segment::DATA_START));
            }
        }
        (records, bytes)
    }

    #[cold]
    pub(crate) fn ring(&self, seg: &Segment, bucket: usize) {
        let mask = seg.waiting().swap(0, Ordering::SeqCst);
        if mask != 0 {
            self.bell.ring(mask, bucket);
        }
    }

    #[cold]
    pub(crate) fn wait_running(&self) -> Result<()> {
        match self.life.wait_running() {
            State::Running => Ok(()),
            State::Poisoned => Err(self.poison_error()),
            State::Closed | State::Stopped => Err(Error::Closed),
        }
    }

    /// Hands a segment to the prefault thread, which serves what its writer
    /// asks: more room, or the writeback of finished pages. Writeback is
    /// started early only for a writer whose user called `flush()` lately:
    /// then the next flush finds most pages on their way to disk (1 M
    /// records then `flush()`: 0.45–0.49x to 0.63–0.69x the baseline);
    /// otherwise the timed passes write them back, and the write path keeps
    /// the CPU (early writeback cost bursts 10–15% on 2 cores).
    fn ask(&self, seg: &Arc<Segment>, what: Ask) {
        match what {
            Ask::Grow => self.grow.ask(seg),
            Ask::Writeback(upto) => {
                let last = self.last_flush.load(Ordering::Relaxed);
                if last != 0 && now_ns().saturating_sub(last) < EARLY_WRITEBACK_AFTER_FLUSH.as_nanos() as u64 {
                    seg.writeback_wanted.fetch_max(upto, Ordering::AcqRel);
                    self.grow.ask(seg);
                }
            }
        }
    }

    pub(crate) fn flush(&self) -> Result<()> {
        self.check_usable()?;
        self.last_flush.store(now_ns().max(1), Ordering::Relaxed);
        self.flush.flush_and_publish().map_err(|why| self.flush_error(why))
    }

    /// [`Shared::flush`] without waiting: `done` gets its outcome from the
    /// flush thread's pass (`publish`: the durable watermarks too, as
    /// `flush`; without: as a durable write).
    #[cfg(feature = "tokio")]
    pub(crate) fn flush_then(&self, publish: bool, done: super::flusher::Completion) -> Result<()> {
        self.check_usable()?;
        if publish {
            self.last_flush.store(now_ns().max(1), Ordering::Relaxed);
        }
        self.flush.flush_then(publish, done);
        Ok(())
    }

    /// The error a failed flush reports, from the reason the pass gave.
    pub(crate) fn flush_error(&self, why: String) -> Error {
        if self.is_poisoned() {
            self.poison_error()
        } else if self.life.get() == State::Closed {
            Error::Closed
        } else {
            Error::Poisoned { op: "flush", path: self.layout.base.clone(), source: Arc::new(io::Error::other(why)) }
        }
    }

    /// `Error::Forked` in a process forked from the one that opened the
    /// writer: there, nothing may touch the parent's mappings, lock or threads.
    pub(crate) fn check_forked(&self) -> Result<()> {
        if fork_generation() != self.fork_gen {
            return Err(Error::Forked { opened_by: self.pid, used_in: std::process::id() });
        }
        Ok(())
    }

    pub(crate) fn check_usable(&self) -> Result<()> {
        self.check_forked()?;
        match self.life.get() {
            State::Closed => Err(Error::Closed),
            State::Poisoned => Err(self.poison_error()),
            State::Running | State::Stopped => Ok(()),
        }
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.life.get() == State::Poisoned
    }

    pub(crate) fn poison_error(&self) -> Error {
        match self.life.cause() {
            Some(p) => Error::Poisoned { op: p.op, path: p.path.clone(), source: p.source.clone() },
            None => Error::Closed,
        }
    }

    /// Records the first failure and refuses all further writes and flushes.
    pub(crate) fn poison_with(&self, e: &Error) {
        let (op, path) = match e {
            Error::Io { op, path, .. } => (*op, path.clone()),
            Error::NoSpace { op, path, .. } => (*op, path.clone()),
            _ => ("sync", self.layout.base.clone()),
        };
        // The OS error itself where there was one (EIO stays EIO for the
        // caller), else the failure's kind and text.
        let source = match e {
            Error::Io { source, .. } if let Some(code) = source.raw_os_error() => io::Error::from_raw_os_error(code),
            other => io::Error::new(other.io_kind(), other.to_string()),
        };
        if self.life.poison(Poison { op, path, source: Arc::new(source) }) {
            log::error!("writer of {} poisoned: {e}", self.layout.base.display());
        }
        // Nothing is deleted after a failure.
        self.retention.shutdown();
    }
}

/// The error of a batch interrupted after `done` records were written.
fn partial(t: &Topic, first: u64, done: usize, cause: Error) -> Error {
    if done == 0 {
        return cause;
    }
    Error::PartialBatch { topic: t.name.to_string(), first_seq: first, written: done, cause: Box::new(cause) }
}
