//! The `Writer`: appends records to per-topic segments from any thread.
//!
//! `write()` takes the topic's lock, copies the record into the mapped active
//! segment and publishes it with one atomic store: no syscall and no
//! allocation in the steady state. The `logstream-flush` thread grows segments
//! ahead of the writers and makes records durable every `flush_interval`.

mod flusher;
pub(crate) mod open;
mod prefault;
pub(crate) mod topic;

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::config::Config;
use crate::doorbell::Doorbell;
use crate::error::{Error, IoContext, Result};
use crate::layout::{Layout, check_topic};
use crate::segment::appender::Appender;
use crate::segment::{Limits, Segment, read_header};
use crate::storage::file::now_ns;
use crate::storage::fork_generation;
use flusher::FlushCtl;
pub use open::RecoveryReport;
use topic::{Topic, TopicState};

thread_local! {
    /// The topic this thread last wrote through `Writer::write`, with the id
    /// of the writer it belongs to.
    static LAST_TOPIC: std::cell::RefCell<Option<(u64, Arc<Topic>)>> = const { std::cell::RefCell::new(None) };
}

/// Ids of writers, never reused (a cached topic must belong to this writer).
static NEXT_WRITER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

const RUNNING: u8 = 0;
const STOPPED: u8 = 1;
const CLOSED: u8 = 2;
const POISONED: u8 = 3;

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

struct Poison {
    op: &'static str,
    path: PathBuf,
    cause: String,
}

/// State shared by the clones, the topic writers and the flush thread.
pub(crate) struct Shared {
    id: u64,
    max_record: u64,
    pub(crate) cfg: Config,
    pub(crate) layout: Layout,
    pub(crate) limits: Limits,
    log_id: u64,
    session: u64,
    pub(crate) topics: RwLock<HashMap<Box<str>, Arc<Topic>>>,
    state: AtomicU8,
    state_lock: Mutex<Option<Poison>>,
    state_cv: Condvar,
    pub(crate) flush: FlushCtl,
    grow: Arc<prefault::GrowQueue>,
    pub(crate) bell: Doorbell,
    pub(crate) lock_file: File,
    pub(crate) topics_dir_dirty: AtomicBool,
    fork_gen: u64,
    pid: u32,
    recovery: RecoveryReport,
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
        let shared = Arc::new(Shared {
            id: NEXT_WRITER_ID.fetch_add(1, Ordering::Relaxed),
            max_record: cfg.max_record_bytes(),
            cfg: cfg.clone(),
            layout,
            limits,
            log_id: opened.log_id,
            session: opened.session,
            topics: RwLock::new(topics),
            state: AtomicU8::new(RUNNING),
            state_lock: Mutex::new(None),
            state_cv: Condvar::new(),
            flush: FlushCtl::default(),
            grow: Arc::default(),
            bell,
            lock_file: opened.lock_file,
            topics_dir_dirty: AtomicBool::new(recovered_any),
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
        Ok(Writer {
            inner: Arc::new(Handle {
                shared,
                flusher: Mutex::new(Some(flusher)),
                prefaulter: Mutex::new(Some(prefaulter)),
            }),
        })
    }

    /// Appends `data` to `topic` and returns its sequence number (per topic,
    /// dense, from 0). The record survives `kill -9` of this process as soon
    /// as this returns, and power loss after the next flush.
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
                return s.append(t, data);
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
        self.inner.shared.append_at(&t, seq, data)
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

    /// Flushes, seals the active segments and releases their memory maps.
    /// Writes block until [`Writer::resume`] (or fail with `Closed` after
    /// [`Writer::close`]).
    ///
    /// # Errors
    /// As [`Writer::flush`].
    pub fn stop(&self) -> Result<()> {
        let s = &self.inner.shared;
        s.check_usable()?;
        let _ = s.state.compare_exchange(RUNNING, STOPPED, Ordering::SeqCst, Ordering::SeqCst);
        s.seal_all()?;
        s.flush()
    }

    /// Lets writes continue after [`Writer::stop`].
    ///
    /// # Errors
    /// [`Error::Closed`] after close, [`Error::Poisoned`].
    pub fn resume(&self) -> Result<()> {
        let s = &self.inner.shared;
        let _g = s.state_lock.lock();
        match s.state.load(Ordering::SeqCst) {
            CLOSED => Err(Error::Closed),
            POISONED => Err(s.poison_error()),
            _ => {
                s.state.store(RUNNING, Ordering::SeqCst);
                s.state_cv.notify_all();
                Ok(())
            }
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

    /// What recovery found and did when this writer opened the directory.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.shared.recovery
    }

    /// The log directory.
    pub fn base_dir(&self) -> &std::path::Path {
        &self.inner.shared.layout.base
    }

    /// Sequence number the next record of `topic` will get (0 for a new topic).
    ///
    /// # Errors
    /// [`Error::InvalidTopic`].
    pub fn next_seq(&self, topic: &str) -> Result<u64> {
        check_topic(topic)?;
        let topics = self.inner.shared.topics.read();
        Ok(topics.get(topic).map_or(0, |t| t.state.lock().next_seq()))
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

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.topic.name
    }

    /// The writer this handle belongs to.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }
}

impl Handle {
    fn close(&self) -> Result<()> {
        let s = &self.shared;
        let prev = {
            let _g = s.state_lock.lock();
            let prev = s.state.swap(CLOSED, Ordering::SeqCst);
            s.state_cv.notify_all();
            if prev == POISONED {
                s.state.store(POISONED, Ordering::SeqCst);
            }
            prev
        };
        let Some(thread) = self.flusher.lock().take() else {
            return if prev == POISONED { Err(s.poison_error()) } else { Ok(()) };
        };
        let sealed = if prev == POISONED { Ok(()) } else { s.seal_all() };
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
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::error!("closing the writer of {} failed: {e}", self.shared.layout.base.display());
        }
    }
}

impl Shared {
    /// Finds or registers a topic.
    #[inline]
    fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        if let Some(t) = self.topics.read().get(name) {
            return Ok(t.clone());
        }
        check_topic(name)?;
        let mut map = self.topics.write();
        let t = map
            .entry(name.into())
            .or_insert_with(|| Arc::new(Topic::new(name, self.layout.topic(name), 0, false, None)));
        Ok(t.clone())
    }

    #[inline]
    fn append(&self, t: &Topic, data: &[u8]) -> Result<u64> {
        if data.len() as u64 > self.max_record {
            return Err(Error::RecordTooLarge { topic: t.name.to_string(), len: data.len(), max: self.max_record });
        }
        if fork_generation() != self.fork_gen {
            return Err(Error::Forked { opened_by: self.pid, used_in: std::process::id() });
        }
        let ts = now_ns();
        loop {
            let mut st = t.state.lock();
            if self.state.load(Ordering::Relaxed) != RUNNING {
                drop(st);
                self.wait_running()?;
                continue;
            }
            let app = match st.appender {
                Some(ref mut a) => a,
                None => self.start_segment(t, &mut st)?,
            };
            match app.append(data, ts, &|seg| self.grow.ask(seg))? {
                Some(seq) => {
                    let waiting = app.seg.waiting().load(Ordering::SeqCst);
                    if waiting != 0 {
                        self.ring(&app.seg, t.bucket);
                    }
                    return Ok(seq);
                }
                None => self.roll(t, &mut st)?,
            }
        }
    }

    fn append_at(&self, t: &Topic, seq: u64, data: &[u8]) -> Result<Placed> {
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
        let got = self.append(t, data)?;
        if got != seq {
            return Err(Error::SeqGap { topic: t.name.to_string(), expected: seq, got });
        }
        Ok(Placed::Written)
    }

    #[cold]
    fn ring(&self, seg: &Segment, bucket: usize) {
        let mask = seg.waiting().swap(0, Ordering::SeqCst);
        if mask != 0 {
            self.bell.ring(mask, bucket);
        }
    }

    #[cold]
    fn wait_running(&self) -> Result<()> {
        let mut g = self.state_lock.lock();
        loop {
            match self.state.load(Ordering::SeqCst) {
                RUNNING => return Ok(()),
                CLOSED => return Err(Error::Closed),
                POISONED => {
                    let p = g.as_ref();
                    return Err(p.map_or(Error::Closed, |p| Error::Poisoned {
                        op: p.op,
                        path: p.path.clone(),
                        cause: p.cause.clone(),
                    }));
                }
                _ => self.state_cv.wait(&mut g),
            }
        }
    }

    /// Starts this session's first segment of a topic.
    #[cold]
    fn start_segment<'a>(&self, t: &Topic, st: &'a mut TopicState) -> Result<&'a mut Appender> {
        let base = st.next_seq;
        let seg = if st.dir_exists {
            // Readers that reached the previous segment's seal wait on it;
            // take their marks before an empty one is replaced.
            let mut waiting = 0;
            if let Some(prev) = st.last_segment {
                let path = t.dir.join(crate::format::naming::data_file_name(prev));
                match crate::segment::take_waiting(&path) {
                    Ok(mask) => waiting = mask,
                    Err(e) => log::debug!("cannot wake readers of {}: {e}", path.display()),
                }
            }
            self.replace_empty_segment(t, base)?;
            self.sync_topic_dir(t, st)?;
            st.dir_changed();
            let seg = Segment::create(&t.dir, base, self.session, self.log_id, self.limits)?;
            if waiting != 0 {
                self.bell.ring(waiting, t.bucket);
            }
            seg
        } else {
            // Build the directory with its first segment aside, then rename it
            // in: readers see a new topic complete or not at all.
            let tmp = self.layout.tmp().join(format!("{}-{}", std::process::id(), crate::storage::file::random_u64()));
            std::fs::create_dir(&tmp).ctx("create topic directory", &tmp)?;
            let built = Segment::create(&tmp, base, self.session, self.log_id, self.limits);
            let seg = match built {
                Ok(seg) => seg,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&tmp);
                    return Err(e);
                }
            };
            if let Err(e) = std::fs::rename(&tmp, &t.dir) {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(Error::io("create topic directory", &t.dir, e));
            }
            // The flush thread syncs both directories before it counts any
            // record of this segment as durable.
            st.dir_changed();
            self.topics_dir_dirty.store(true, Ordering::Release);
            st.dir_exists = true;
            seg.relocate(&t.dir)
        };
        st.last_segment = Some(base);
        Ok(st.appender.insert(Appender::new(Arc::new(seg), self.limits)))
    }

    /// A sealed segment with no records has the name the next segment needs;
    /// it holds nothing, so it is replaced.
    fn replace_empty_segment(&self, t: &Topic, base: u64) -> Result<()> {
        let data = t.dir.join(crate::format::naming::data_file_name(base));
        if !data.exists() {
            return Ok(());
        }
        let (_, wm, _) = read_header(&data)?;
        // Empty: sealed at its own start (by the watermark, or by its first
        // frame when recovery sealed it and the watermark is not synced yet).
        let empty = wm.is_some_and(|w| w.is_sealed() && w.sealed_next == base) || {
            use std::os::unix::fs::FileExt;
            let mut b = [0u8; crate::format::frame::SEAL_LEN];
            std::fs::File::open(&data)
                .and_then(|f| f.read_exact_at(&mut b, crate::format::segment::DATA_START))
                .is_ok_and(|()| {
                    matches!(
                        crate::format::frame::decode_bytes(&b),
                        Ok(crate::format::frame::Frame::Seal { next_seq, .. }) if next_seq == base
                    )
                })
        };
        match empty {
            true => {
                std::fs::remove_file(&data).ctx("remove empty segment", &data)?;
                let idx = t.dir.join(crate::format::naming::index_file_name(base));
                let _ = std::fs::remove_file(&idx);
                Ok(())
            }
            false => Err(Error::Corrupt {
                path: data,
                offset: 0,
                reason: format!(
                    "a segment starting at seq {base} holds records, but the topic's next record is {base}"
                ),
            }),
        }
    }

    /// Seals the full active segment and starts the next one.
    #[cold]
    fn roll(&self, t: &Topic, st: &mut TopicState) -> Result<()> {
        if st.appender.is_none() {
            return Ok(());
        }
        self.sync_topic_dir(t, st)?;
        let Some(app) = st.appender.as_mut() else { return Ok(()) };
        let next = app.next_seq;
        // Create the next segment before the seal names it.
        let seg = Segment::create(&t.dir, next, self.session, self.log_id, self.limits)?;
        let p = app.seal(now_ns());
        let waiting = p.seg.waiting().load(Ordering::SeqCst);
        if waiting != 0 {
            self.ring(&p.seg, t.bucket);
        }
        st.sealed.push(p);
        st.next_seq = next;
        st.last_segment = Some(next);
        st.dir_changed();
        st.appender = Some(Appender::new(Arc::new(seg), self.limits));
        self.flush.nudge();
        Ok(())
    }

    /// Makes the topic directory's entries durable before another segment is
    /// created in it, so that a later segment never outlives an earlier one
    /// in a crash (a hole at the start of the log). Rolls are rare; this is
    /// one directory sync at most per segment.
    fn sync_topic_dir(&self, t: &Topic, st: &mut TopicState) -> Result<()> {
        if !st.dir_dirty() {
            return Ok(());
        }
        let seen = st.dir_changes;
        crate::storage::file::sync_dir(&t.dir)
            .ctx("sync topic directory", &t.dir)
            .inspect_err(|e| self.poison_with(e))?;
        st.dir_synced = st.dir_synced.max(seen);
        Ok(())
    }

    /// Seals every active segment (stop and close).
    fn seal_all(&self) -> Result<()> {
        let topics: Vec<Arc<Topic>> = self.topics.read().values().cloned().collect();
        for t in topics {
            let mut st = t.state.lock();
            if let Some(mut app) = st.appender.take() {
                let p = app.seal(now_ns());
                let waiting = p.seg.waiting().load(Ordering::SeqCst);
                if waiting != 0 {
                    self.ring(&p.seg, t.bucket);
                }
                st.next_seq = p.next_seq;
                st.sealed.push(p);
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.check_usable()?;
        self.flush.flush_and_wait().map_err(|why| {
            if self.is_poisoned() {
                self.poison_error()
            } else if self.state.load(Ordering::SeqCst) == CLOSED {
                Error::Closed
            } else {
                Error::Poisoned { op: "flush", path: self.layout.base.clone(), cause: why }
            }
        })
    }

    fn check_usable(&self) -> Result<()> {
        if fork_generation() != self.fork_gen {
            return Err(Error::Forked { opened_by: self.pid, used_in: std::process::id() });
        }
        match self.state.load(Ordering::SeqCst) {
            CLOSED => Err(Error::Closed),
            POISONED => Err(self.poison_error()),
            _ => Ok(()),
        }
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.state_lock.lock().is_some()
    }

    pub(crate) fn poison_error(&self) -> Error {
        match &*self.state_lock.lock() {
            Some(p) => Error::Poisoned { op: p.op, path: p.path.clone(), cause: p.cause.clone() },
            None => Error::Closed,
        }
    }

    /// Records the first failure and refuses all further writes and flushes.
    pub(crate) fn poison_with(&self, e: &Error) {
        let (op, path) = match e {
            Error::Io { op, path, .. } => (*op, path.clone()),
            Error::NoSpace { path, .. } => ("sync", path.clone()),
            _ => ("sync", self.layout.base.clone()),
        };
        let mut g = self.state_lock.lock();
        if g.is_none() {
            log::error!("writer of {} poisoned: {e}", self.layout.base.display());
            *g = Some(Poison { op, path, cause: e.to_string() });
        }
        self.state.store(POISONED, Ordering::SeqCst);
        self.state_cv.notify_all();
    }
}
