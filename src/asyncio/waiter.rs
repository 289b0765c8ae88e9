//! The `logstream-async-wait` thread: one per log directory in a process,
//! shared by every [`super::AsyncTopicReader`] of that directory. It holds a
//! doorbell slot and sleeps on its futex word, so that async readers wait
//! for records without a runtime worker sleeping and without polling.
//!
//! An async reader that caught up registers its topic's bucket, sets the
//! slot's bit in the segment's `waiting` word and looks once more (the
//! doorbell's protocol, `doorbell.rs`), then awaits its `Notify`. A writer
//! that publishes a frame rings the slot: the thread wakes, takes the dirty
//! buckets and notifies the readers of those buckets. `Notify::notify_one`
//! keeps a permit when the reader is not awaiting yet, so a ring between
//! arming and awaiting is not lost.
//!
//! A topic that does not exist yet has no segment to arm: a file watcher on
//! `topics/` (inotify) notifies its readers when its directory appears.
//! Every `poll_interval` the thread notifies every reader: the threaded
//! reader's fallback poll (for a read-only mapping, or more than 64 reader
//! processes, when no doorbell slot is left).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::doorbell::{Doorbell, Slot, claim_slot};
use crate::error::{Error, IoContext, Result};
use crate::format::meta::topic_bucket;
use crate::layout::Layout;

/// The waiters of every log directory this process reads asynchronously.
static WAITERS: Mutex<Option<HashMap<PathBuf, Weak<Waiter>>>> = Mutex::new(None);

/// A registration: the reader's topic bucket and its wake-up.
struct Interest {
    bucket: usize,
    notify: Weak<Notify>,
}

/// What the thread and the readers share.
struct State {
    bell: Arc<Doorbell>,
    slot: Option<Slot>,
    stop: AtomicBool,
    /// Fallback poll (ms): the shortest `poll_interval` of the readers.
    poll_ms: AtomicU64,
    interests: Mutex<Vec<Interest>>,
}

impl State {
    fn notify(&self, dirty: Option<&[usize]>) {
        let mut list = self.interests.lock();
        list.retain(|i| match i.notify.upgrade() {
            Some(n) => {
                if dirty.is_none_or(|d| d.contains(&i.bucket)) {
                    n.notify_one();
                }
                true
            }
            None => false,
        });
    }

    fn run(&self) {
        let mut dirty = Vec::new();
        while !self.stop.load(Ordering::Acquire) {
            let poll = Duration::from_millis(self.poll_ms.load(Ordering::Relaxed).max(1));
            match &self.slot {
                Some(slot) => {
                    let seen = self.bell.seen(slot.index);
                    dirty.clear();
                    self.bell.take_dirty(slot.index, &mut dirty);
                    if !dirty.is_empty() {
                        self.notify(Some(&dirty));
                    }
                    let before = std::time::Instant::now();
                    self.bell.wait(slot.index, seen, poll);
                    if before.elapsed() >= poll {
                        self.notify(None);
                    }
                }
                None => {
                    std::thread::park_timeout(poll);
                    self.notify(None);
                }
            }
        }
    }
}

/// The shared waiter of one log directory; the thread stops when the last
/// reader holding it is dropped.
pub(crate) struct Waiter {
    state: Arc<State>,
    thread: Mutex<Option<JoinHandle<()>>>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter").field("doorbell", &self.state.bell.path()).finish()
    }
}

impl Waiter {
    /// The waiter of `base_dir`, started if this process has none yet.
    pub(crate) fn for_dir(base_dir: &Path, poll: Duration) -> Result<Arc<Waiter>> {
        let key = std::fs::canonicalize(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
        let mut all = WAITERS.lock();
        let map = all.get_or_insert_with(HashMap::new);
        map.retain(|_, w| w.strong_count() > 0);
        let poll_ms = poll.as_millis().min(u128::from(u64::MAX)) as u64;
        if let Some(w) = map.get(&key).and_then(Weak::upgrade) {
            w.state.poll_ms.fetch_min(poll_ms, Ordering::Relaxed);
            return Ok(w);
        }
        let bell = Arc::new(Doorbell::open(base_dir)?);
        let slot = claim_slot(base_dir, &bell)?;
        if slot.is_none() {
            log::warn!("all doorbell slots of {} are taken; async readers fall back to polling", base_dir.display());
        }
        let state = Arc::new(State {
            bell,
            slot,
            stop: AtomicBool::new(false),
            poll_ms: AtomicU64::new(poll_ms),
            interests: Mutex::new(Vec::new()),
        });
        let s2 = state.clone();
        let name = "logstream-async-wait".to_owned();
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || s2.run())
            .map_err(|source| Error::Thread { name, source })?;
        let watcher = watch_topics(&Layout::new(base_dir).topics(), Arc::downgrade(&state));
        let w = Arc::new(Waiter { state, thread: Mutex::new(Some(thread)), _watcher: watcher });
        map.insert(key, Arc::downgrade(&w));
        Ok(w)
    }

    /// The doorbell slot readers arm segments with (`None`: polling only).
    pub(crate) fn slot(&self) -> Option<usize> {
        self.state.slot.as_ref().map(|s| s.index)
    }

    /// Registers a reader of the topic in `bucket`: `notify` is woken when
    /// the topic may have new records.
    pub(crate) fn register(&self, bucket: usize, notify: &Arc<Notify>) {
        self.state.interests.lock().push(Interest { bucket, notify: Arc::downgrade(notify) });
    }
}

/// Watches `topics/` (created if missing, as a reader does) for new topic
/// directories, waking their readers. Without a watcher (inotify limits)
/// new topics are found by the poll.
fn watch_topics(dir: &Path, state: Weak<State>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let made = crate::storage::file::create_dir_durable(dir).ctx("create topics directory", dir);
    let topics = dir.to_path_buf();
    let watcher = made.map_err(|e| e.to_string()).and_then(|()| {
        let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            let (Ok(ev), Some(state)) = (ev, state.upgrade()) else { return };
            let buckets: Vec<usize> = ev
                .paths
                .iter()
                .filter(|p| p.parent() == Some(topics.as_path()))
                .filter_map(|p| p.file_name().and_then(|n| n.to_str()))
                .map(topic_bucket)
                .collect();
            if !buckets.is_empty() {
                state.notify(Some(&buckets));
            }
        })
        .map_err(|e| e.to_string())?;
        w.watch(dir, notify::RecursiveMode::NonRecursive).map_err(|e| e.to_string())?;
        Ok(w)
    });
    watcher
        .map_err(|e| log::warn!("cannot watch {} for new topics (found by polling instead): {e}", dir.display()))
        .ok()
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        let thread = self.thread.lock().take();
        if let Some(h) = thread {
            match &self.state.slot {
                Some(slot) => self.state.bell.bump(slot.index),
                None => h.thread().unpark(),
            }
            if h.join().is_err() {
                log::error!("the logstream-async-wait thread panicked");
            }
        }
    }
}
