//! The reader's engine: the [`Core`] its threads share, its start and its
//! stop. Each concept has its file:
//! - `sched.rs`: which topic runs next (topic slots, ready queue, retries,
//!   ownership flags, the in-flight budget); pure, no threads or I/O;
//! - `deliver.rs`: the bounded pool of `logstream-fwd-N` workers that cut
//!   batches, run the closure and record its outcome;
//! - `persist.rs`: the `logstream-ckpt` thread, persisting positions,
//!   heartbeats and leases; `balance.rs`: sharing topics with the other
//!   members of the group; `retention.rs`: deleting consumed segments;
//! - `topics.rs`: the topics known, and the black/white lists;
//! - `wake.rs`: how idle workers sleep and are woken; `stats.rs`: counters.
//!
//! Invariants:
//! - A topic is held by at most one worker (state `Busy`), so batches of a
//!   topic are delivered one after another, in order.
//! - At most `max_concurrent_forward` workers exist, so at most that many
//!   closures run at once.
//! - The data bytes of batches handed to closures and not yet finished never
//!   exceed `mem_max_size` (a batch that would cross it waits, unless nothing
//!   is in flight).
//! - A position is persisted only after the records before it are durable
//!   in the data file.
//! - One idle worker at a time sleeps on the doorbell; the others sleep on a
//!   condition variable and are woken one per ready topic.
//! - A topic is delivered only while this member owns it (holds its lock in
//!   the group's `owners.lock`, or its lease after taking it over from a
//!   stale member); it is given up only when no batch of it is in flight and
//!   its position is persisted, or taken away (`max_forward_ms`, a takeover
//!   after this member went stale) with its batch still in the closure:
//!   that batch's outcome is then ignored and the topic is not delivered
//!   here again before the closure returns.
//! - A position is persisted only while this member holds the topic's lease
//!   (see `group/members.rs`); a refused one makes the topic lost here.

pub(crate) mod balance;
mod deliver;
mod persist;
mod retention;
mod sched;
mod stats;
mod topics;
mod wake;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

pub(crate) use self::sched::Move;
use self::sched::Sched;
pub(crate) use self::stats::Counters;
pub(crate) use self::wake::Wake;
use super::ReaderPosition;
use super::batch::Batch;
use super::cursor::Corruption;
use super::filter::Filter;
use super::policy::{RetryPolicy, StartFrom};
use super::watch::Flags;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::group::checkpoint::CheckpointStore;
use crate::group::members::{self, Membership};
use crate::layout::Layout;

/// Error type the closure's errors are turned into.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
/// The user's forwarder, type-erased. It gets the batch's `Arc` so that a
/// forwarder can hand it on (the async API moves it into a future).
pub(crate) type Forward = Box<dyn Fn(&Arc<Batch>) -> std::result::Result<(), BoxError> + Send + Sync>;

/// What a forwarder returns for a batch that never reached the user's code
/// (the async reader's runtime shut down): retried like a failure, but never
/// counted towards moving the batch to the dead letters.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct NotDelivered(pub String);
/// The corruption hook, type-erased.
pub(crate) type OnCorruption = Box<dyn Fn(&Corruption) + Send + Sync>;

/// Who the reader consumes as.
pub(crate) struct GroupInfo {
    pub name: String,
    /// When the group was registered (ns since the Unix epoch).
    pub registered: u64,
}

/// Everything the reader's threads share.
pub(crate) struct Core {
    pub cfg: Config,
    pub layout: Layout,
    pub group: String,
    pub registered: u64,
    pub log_id: u64,
    forward: Forward,
    on_corruption: Option<OnCorruption>,
    sched: Mutex<Sched>,
    cv: Condvar,
    pub wake: Wake,
    pub flags: Arc<Flags>,
    filter: RwLock<Filter>,
    store: Mutex<CheckpointStore>,
    pub counters: Counters,
    ckpt_cv: Condvar,
    ckpt_lock: Mutex<bool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_worker: AtomicU32,
    stopped: AtomicBool,
    members: Mutex<Membership>,
    start_from: StartFrom,
    retry: RetryPolicy,
    /// Set when the ckpt thread should balance before its next tick.
    balance_soon: AtomicBool,
    /// Set when a worker waits for the ckpt thread to check its leases.
    beat_soon: AtomicBool,
    /// Held by one `persist` at a time, from reading the confirmed positions
    /// to writing them: two persists (the ckpt thread's and a worker's with
    /// `checkpoint_interval_ms: 0`) could otherwise write in the other order
    /// than they read, the older position last, moving the group back.
    persisting: Mutex<()>,
    /// The positions `stop` left (set once stopped).
    final_positions: Mutex<Option<Vec<ReaderPosition>>>,
    /// When this member's heartbeat was last written (monotonic ns).
    last_beat: AtomicU64,
    /// When the ckpt thread last finished checking which of this member's
    /// leases others took over (monotonic ns; see `leases_unchecked`).
    leases_checked: AtomicU64,
    /// Topics whose lease another member took: to be given up by the ckpt
    /// thread (their byte lock released).
    lost: Mutex<Vec<Arc<str>>>,
}

impl Core {
    #[expect(clippy::too_many_arguments, reason = "assembled once, by the builder")]
    pub(crate) fn new(
        cfg: Config,
        layout: Layout,
        group: GroupInfo,
        log_id: u64,
        forward: Forward,
        on_corruption: Option<OnCorruption>,
        wake: Wake,
        store: CheckpointStore,
        members: Membership,
        start_from: StartFrom,
        retry: RetryPolicy,
    ) -> Core {
        let filter = Filter::new(cfg.black_topics(), cfg.white_topics());
        let mut store = store;
        let beat = members.beat_handle().map_err(|e| log::warn!("{e}")).ok();
        store.set_member(members::id_number(&members.id), cfg.member_timeout(), beat);
        Core {
            cfg,
            layout,
            group: group.name,
            registered: group.registered,
            log_id,
            forward,
            on_corruption,
            sched: Mutex::new(Sched::new(Instant::now())),
            cv: Condvar::new(),
            wake,
            flags: Arc::new(Flags::default()),
            filter: RwLock::new(filter),
            store: Mutex::new(store),
            counters: Counters::default(),
            ckpt_cv: Condvar::new(),
            ckpt_lock: Mutex::new(false),
            threads: Mutex::new(Vec::new()),
            next_worker: AtomicU32::new(0),
            stopped: AtomicBool::new(false),
            members: Mutex::new(members),
            start_from,
            retry,
            balance_soon: AtomicBool::new(false),
            beat_soon: AtomicBool::new(false),
            persisting: Mutex::new(()),
            final_positions: Mutex::new(None),
            last_beat: AtomicU64::new(members::mono_ns()),
            leases_checked: AtomicU64::new(members::mono_ns()),
            lost: Mutex::new(Vec::new()),
        }
    }

    /// Finds topics on disk and takes its share of them, then starts the
    /// first worker and the checkpoint thread.
    pub(crate) fn start(self: &Arc<Core>) -> Result<()> {
        self.rescan_topics()?;
        self.balance()?;
        let me = self.clone();
        let h = std::thread::Builder::new()
            .name("logstream-ckpt".into())
            .spawn(move || me.checkpoint_loop())
            .map_err(|source| Error::Thread { name: "logstream-ckpt".into(), source })?;
        self.threads.lock().push(h);
        let mut s = self.sched.lock();
        self.spawn_worker(&mut s)?;
        Ok(())
    }

    /// Graceful stop: in-flight batches finish, workers exit, positions are
    /// persisted. A closure that holds its batch past `max_forward_ms` is
    /// not waited for any longer: its thread is left running, its topic
    /// given up like the others, and the stop reports it.
    pub(crate) fn stop(&self) -> Result<()> {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let mut s = self.sched.lock();
            s.stopping = true;
            self.cv.notify_all();
        }
        self.wake.wake();
        {
            let mut stop = self.ckpt_lock.lock();
            *stop = true;
            self.ckpt_cv.notify_all();
        }
        let abandoned = self.wait_for_closures();
        loop {
            let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *self.threads.lock());
            if handles.is_empty() {
                break;
            }
            for h in handles {
                if !abandoned.is_empty() && !h.is_finished() && h.thread().name() != Some("logstream-ckpt") {
                    // A worker inside a closure that does not return: it
                    // cannot be joined; dropping the handle detaches it.
                    log::warn!("leaving reader thread {:?} running in its closure", h.thread().name());
                    continue;
                }
                if h.join().is_err() {
                    log::error!("a reader thread panicked");
                }
                self.wake.wake();
            }
        }
        let persisted = self.persist(None);
        {
            let mut s = self.sched.lock();
            // What `positions()` reports once stopped: where this member
            // left its topics.
            *self.final_positions.lock() = Some(s.owned_positions());
            for t in s.topics.values_mut() {
                if let Some(f) = &t.in_closure {
                    f.revoked.store(true, Ordering::Release);
                }
                t.owned = false;
            }
        }
        // Give every topic up at once, so peers take over without waiting
        // for the kernel to notice anything.
        if let Err(e) = self.store.lock().release_all_leases() {
            log::warn!("group {:?}: releasing topic leases failed: {e}", self.group);
        }
        self.members.lock().leave();
        persisted?;
        if abandoned.is_empty() {
            return Ok(());
        }
        Err(Error::StopAbandoned {
            group: self.group.clone(),
            topics: abandoned,
            waited: self.cfg.max_forward().unwrap_or_default(),
        })
    }

    /// Waits for the workers to exit, each closure in flight for at most
    /// `max_forward_ms` since it took its batch (forever with no limit);
    /// returns the topics whose closure was still running then.
    fn wait_for_closures(&self) -> Vec<String> {
        let max = self.cfg.max_forward();
        let mut s = self.sched.lock();
        while s.workers > 0 {
            let deadline =
                max.and_then(|m| s.topics.values().filter_map(|t| t.in_closure.as_ref()).map(|f| f.since + m).max());
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                let mut v: Vec<String> =
                    s.topics.values().filter(|t| t.in_closure.is_some()).map(|t| t.name.to_string()).collect();
                v.sort();
                log::warn!(
                    "group {:?}: stopping without waiting any longer for the closure on topic(s) {v:?} (held longer than max_forward_ms)",
                    self.group
                );
                return v;
            }
            let wait = deadline.map_or(Duration::from_millis(100), |d| (d - now).min(Duration::from_millis(100)));
            self.cv.wait_for(&mut s, wait);
            drop(s);
            self.wake.wake();
            s = self.sched.lock();
        }
        Vec::new()
    }

    /// This member's id in the group.
    pub(crate) fn member_id(&self) -> String {
        self.members.lock().id.clone()
    }

    /// Snapshot of the positions in memory of the topics this member owns:
    /// (topic, confirmed, persisted).
    pub(crate) fn positions(&self) -> Vec<ReaderPosition> {
        if let Some(v) = self.final_positions.lock().as_ref() {
            return v.clone();
        }
        self.sched.lock().owned_positions()
    }
}
