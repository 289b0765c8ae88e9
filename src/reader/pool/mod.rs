//! The reader's engine: topic slots, the ready queue, the bounded pool of
//! `logstream-fwd-N` workers that cut batches and run the closure, and the
//! `logstream-ckpt` thread that persists positions, balances topics with the
//! other members of the group (`balance.rs`) and deletes consumed segments.
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
//!   (see `members.rs`); a refused one makes the topic lost here.

pub(crate) mod balance;

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use super::batch::Batch;
use super::checkpoint::CheckpointStore;
use super::cursor::{Corruption, Cursor, Fill};
use super::filter::Filter;
use super::members::Membership;
use super::policy::{RetryPolicy, StartFrom};
use super::watch::Flags;
use crate::config::Config;
use crate::doorbell::{Doorbell, Slot};
use crate::error::{Error, Result};
use crate::format::checkpoint::Kind;
use crate::format::meta::topic_bucket;
use crate::layout::{Layout, list_topics};
use crate::segment::read::ReadSegment;

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

/// Counters of a running reader.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub batches: AtomicU64,
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub failures: AtomicU64,
    pub panics: AtomicU64,
    pub corruptions: AtomicU64,
    pub checkpoints: AtomicU64,
    pub segments_deleted: AtomicU64,
    pub checkpoint_errors: AtomicU64,
    pub config_reloads: AtomicU64,
    pub config_reload_failures: AtomicU64,
    /// Why the last reload failed (`None` once one succeeds again).
    pub last_config_error: parking_lot::Mutex<Option<String>>,
    pub retention_passes: AtomicU64,
    pub retries: AtomicU64,
    pub dead_letters: AtomicU64,
    pub topics_taken: AtomicU64,
    pub topics_released: AtomicU64,
    pub resets: AtomicU64,
    pub takeovers: AtomicU64,
    pub topics_lost: AtomicU64,
    pub revoked_batches: AtomicU64,
    pub stuck_found: AtomicU64,
}

/// The batch a topic's closure holds now.
struct InClosure {
    since: Instant,
    first: u64,
    last: u64,
    /// The batch's flag, set when the topic is taken away meanwhile.
    revoked: Arc<AtomicBool>,
    /// The batch itself: what its closure confirmed so far is persisted at
    /// the checkpoint interval, before the closure returns.
    batch: Arc<Batch>,
}

/// Confirmed records of one segment: (segment, end offset, next seq).
type Span = (Arc<ReadSegment>, u64, u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TState {
    /// Caught up; waiting for the doorbell or a poll.
    Idle,
    /// In the ready queue.
    Queued,
    /// A worker holds it.
    Busy,
    /// Its last batch failed; retried at the deadline.
    Retry,
}

/// A batch waiting to be delivered again (after a failure, or for memory).
struct Retry {
    batch: Arc<Batch>,
}

struct TopicSlot {
    name: Arc<str>,
    cursor: Option<Cursor>,
    state: TState,
    retry: Option<Retry>,
    attempts: u32,
    /// What the closure said of the last failed attempt (cleared by a
    /// success); published in the member file for operators.
    last_error: Option<Arc<str>>,
    /// Next sequence number to deliver, as confirmed in memory.
    confirmed: u64,
    /// As persisted.
    persisted: u64,
    /// Confirmed spans whose durability is not yet checked.
    spans: Vec<Span>,
    allowed: bool,
    /// Rung while a worker held it: look again before going idle.
    rung: bool,
    /// This member holds the topic's owner lock.
    owned: bool,
    /// To be given up once no batch is in flight.
    releasing: bool,
    /// A move asked for (operator reset, or the closure's seek), applied
    /// once no batch is in flight.
    moving: Option<Move>,
    /// The position moved (possibly backwards) since it was last persisted,
    /// or was chosen by `StartFrom`: persist it even if it equals `persisted`.
    dirty: Option<Kind>,
    /// The batch in the closure, if one is.
    in_closure: Option<InClosure>,
    /// The closure has held its batch longer than `max_forward_ms`.
    stuck: bool,
}

/// How a delivered batch ended, as `finish` acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The closure returned `Ok`: the whole batch is confirmed.
    Confirmed,
    /// The closure returned `Ok` after asking to go on from another
    /// position (`Batch::seek`), which may lie behind the batch.
    Sought,
    /// The closure failed on its last attempt: the unconfirmed records were
    /// stored as dead letters and the topic goes on past them.
    DeadLettered,
    /// The closure failed or panicked: the unconfirmed rest is retried.
    Failed,
}

/// A position change not made by confirming records.
#[derive(Debug, Clone)]
pub(crate) struct Move {
    pub to: u64,
    /// Persisted as an operator's reset (else as a consumer's position).
    pub reset: bool,
    /// The request file to remove once applied.
    pub request: Option<PathBuf>,
}

struct Sched {
    topics: HashMap<Arc<str>, TopicSlot>,
    buckets: HashMap<usize, Vec<Arc<str>>>,
    ready: VecDeque<Arc<str>>,
    retries: BinaryHeap<std::cmp::Reverse<(Instant, Arc<str>)>>,
    in_flight_bytes: u64,
    in_flight: usize,
    workers: usize,
    idle: usize,
    waiter: bool,
    stopping: bool,
    last_poll: Instant,
}

/// How the idle worker sleeps: on its doorbell slot, or locally (no slot).
pub(crate) enum Wake {
    Slot { bell: Arc<Doorbell>, slot: Slot },
    Local { bell: Option<Arc<Doorbell>>, word: Mutex<u32>, cv: Condvar },
}

impl Wake {
    fn seen(&self) -> u32 {
        match self {
            Wake::Slot { bell, slot } => bell.seen(slot.index),
            Wake::Local { word, .. } => *word.lock(),
        }
    }

    fn wait(&self, seen: u32, timeout: Duration) {
        match self {
            Wake::Slot { bell, slot } => bell.wait(slot.index, seen, timeout),
            Wake::Local { word, cv, .. } => {
                let mut w = word.lock();
                if *w == seen {
                    cv.wait_for(&mut w, timeout);
                }
            }
        }
    }

    pub(crate) fn wake(&self) {
        match self {
            Wake::Slot { bell, slot } => bell.bump(slot.index),
            Wake::Local { word, cv, .. } => {
                let mut w = word.lock();
                *w = w.wrapping_add(1);
                cv.notify_all();
            }
        }
    }

    fn slot(&self) -> Option<usize> {
        match self {
            Wake::Slot { slot, .. } => Some(slot.index),
            Wake::Local { .. } => None,
        }
    }

    fn take_dirty(&self, out: &mut Vec<usize>) {
        if let Wake::Slot { bell, slot } = self {
            bell.take_dirty(slot.index, out);
        }
    }

    pub(crate) fn doorbell_path(&self) -> Option<PathBuf> {
        match self {
            Wake::Slot { .. } => None,
            Wake::Local { bell, .. } => bell.as_ref().map(|b| b.path().to_path_buf()),
        }
    }
}

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
    final_positions: Mutex<Option<Vec<(String, u64, u64)>>>,
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
        store.set_member(super::members::id_number(&members.id), cfg.member_timeout(), beat);
        Core {
            cfg,
            layout,
            group: group.name,
            registered: group.registered,
            log_id,
            forward,
            on_corruption,
            sched: Mutex::new(Sched {
                topics: HashMap::new(),
                buckets: HashMap::new(),
                ready: VecDeque::new(),
                retries: BinaryHeap::new(),
                in_flight_bytes: 0,
                in_flight: 0,
                workers: 0,
                idle: 0,
                waiter: false,
                stopping: false,
                last_poll: Instant::now(),
            }),
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
            last_beat: AtomicU64::new(super::members::mono_ns()),
            leases_checked: AtomicU64::new(super::members::mono_ns()),
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

    fn spawn_worker(self: &Arc<Core>, s: &mut Sched) -> Result<()> {
        let n = self.next_worker.fetch_add(1, Ordering::Relaxed);
        let name = format!("logstream-fwd-{n}");
        let me = self.clone();
        let h = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || me.worker_loop())
            .map_err(|source| Error::Thread { name, source })?;
        s.workers += 1;
        self.threads.lock().push(h);
        Ok(())
    }

    /// Adds every topic on disk not known yet.
    fn rescan_topics(&self) -> Result<()> {
        let names = list_topics(&self.layout)?;
        self.add_topics(names);
        Ok(())
    }

    /// Adds the named topics (those whose directory exists and is new). They
    /// are delivered once this member owns them (see `balance`).
    fn add_topics(&self, names: Vec<String>) {
        let mut s = self.sched.lock();
        let filter = self.filter.read();
        let mut added = 0;
        for name in names {
            if s.topics.contains_key(name.as_str())
                || crate::format::naming::name_problem(&name).is_some()
                || !self.layout.topic(&name).is_dir()
            {
                continue;
            }
            let key: Arc<str> = name.as_str().into();
            let allowed = filter.allows(&name);
            s.buckets.entry(topic_bucket(&name)).or_default().push(key.clone());
            s.topics.insert(
                key.clone(),
                TopicSlot {
                    name: key,
                    cursor: None,
                    state: TState::Idle,
                    retry: None,
                    attempts: 0,
                    last_error: None,
                    confirmed: 0,
                    persisted: 0,
                    spans: Vec::new(),
                    allowed,
                    rung: false,
                    owned: false,
                    releasing: false,
                    moving: None,
                    dirty: None,
                    in_closure: None,
                    stuck: false,
                },
            );
            added += 1;
        }
        drop(filter);
        drop(s);
        if added > 0 {
            self.request_balance();
        }
    }

    /// Asks the ckpt thread to balance now rather than at its next tick.
    pub(crate) fn request_balance(&self) {
        self.balance_soon.store(true, Ordering::Release);
        let _g = self.ckpt_lock.lock();
        self.ckpt_cv.notify_all();
    }

    /// The first sequence number of records of `topic` deleted unconsumed
    /// after this group was registered, if any.
    fn dropped_since_registered(&self, topic: &str) -> Option<u64> {
        let path = self.layout.topic(topic).join(crate::format::dropped::FILE);
        let text = std::fs::read_to_string(path).ok()?;
        crate::format::dropped::parse(&text).iter().filter(|d| d.time >= self.registered).map(|d| d.from).min()
    }

    /// Re-reads the black and white lists from the config file.
    fn reload_filter(&self) {
        let Some(path) = self.cfg.source() else { return };
        let cfg = match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("config reload skipped, keeping the current black/white lists: {e}");
                // Counted and kept, so it shows with no logger installed.
                self.counters.config_reload_failures.fetch_add(1, Ordering::Relaxed);
                *self.counters.last_config_error.lock() = Some(e.to_string());
                return;
            }
        };
        *self.counters.last_config_error.lock() = None;
        let f = Filter::new(cfg.black_topics(), cfg.white_topics());
        if *self.filter.read() == f {
            return;
        }
        log::info!("black/white lists reloaded from {}", path.display());
        *self.filter.write() = f.clone();
        self.counters.config_reloads.fetch_add(1, Ordering::Relaxed);
        let mut s = self.sched.lock();
        let mut newly = Vec::new();
        for slot in s.topics.values_mut() {
            let allowed = f.allows(&slot.name);
            if allowed && !slot.allowed && slot.state == TState::Idle && slot.owned && !slot.releasing {
                slot.state = TState::Queued;
                newly.push(slot.name.clone());
            }
            slot.allowed = allowed;
        }
        s.ready.extend(newly);
        self.cv.notify_all();
        drop(s);
        // Topics no longer consumed are given up; newly allowed ones shared.
        self.request_balance();
    }

    /// Marks the topics in dirty buckets, or all idle ones on a poll, as ready.
    fn collect_ready(&self, s: &mut Sched, all: bool) {
        let mut buckets = Vec::new();
        self.wake.take_dirty(&mut buckets);
        let Sched { topics, buckets: by_bucket, ready, .. } = s;
        let mut queue = |name: &Arc<str>, topics: &mut HashMap<Arc<str>, TopicSlot>| {
            if let Some(t) = topics.get_mut(name) {
                if !t.owned || t.releasing {
                    return;
                }
                if t.state == TState::Idle {
                    t.state = TState::Queued;
                    ready.push_back(t.name.clone());
                } else {
                    t.rung = true;
                }
            }
        };
        if all {
            let names: Vec<Arc<str>> = topics.keys().cloned().collect();
            for n in &names {
                queue(n, topics);
            }
        } else {
            for b in buckets {
                if let Some(names) = by_bucket.get(&b) {
                    for n in names.clone() {
                        queue(&n, topics);
                    }
                }
            }
        }
    }

    fn promote_retries(&self, s: &mut Sched) -> Option<Instant> {
        let now = Instant::now();
        while let Some(std::cmp::Reverse((due, _))) = s.retries.peek() {
            if *due > now {
                return Some(*due);
            }
            let Some(std::cmp::Reverse((_, name))) = s.retries.pop() else { break };
            if let Some(t) = s.topics.get_mut(&name)
                && t.state == TState::Retry
            {
                t.state = TState::Queued;
                s.ready.push_back(name);
            }
        }
        None
    }

    /// Takes the next ready topic that may run now.
    fn pop_ready(&self, s: &mut Sched) -> Option<(Arc<str>, Option<Cursor>, Option<Retry>)> {
        let n = s.ready.len();
        for _ in 0..n {
            let name = s.ready.pop_front()?;
            let Some(t) = s.topics.get_mut(&name) else { continue };
            if t.state != TState::Queued {
                continue;
            }
            if !t.allowed || !t.owned || t.releasing {
                t.state = TState::Idle;
                continue;
            }
            t.state = TState::Busy;
            t.rung = false;
            return Some((name, t.cursor.take(), t.retry.take()));
        }
        None
    }

    fn worker_loop(self: Arc<Core>) {
        loop {
            let job = {
                let mut s = self.sched.lock();
                loop {
                    if s.stopping {
                        s.workers -= 1;
                        self.cv.notify_all();
                        return;
                    }
                    let next_retry = self.promote_retries(&mut s);
                    let poll = self.cfg.poll_interval();
                    if s.last_poll.elapsed() >= poll {
                        s.last_poll = Instant::now();
                        self.flags.rescan_topics.store(true, Ordering::Release);
                        self.collect_ready(&mut s, true);
                    }
                    if self.flags.rescan_topics.load(Ordering::Acquire)
                        || self.flags.reload_config.load(Ordering::Acquire)
                        || !self.flags.new_topics.lock().is_empty()
                    {
                        drop(s);
                        self.handle_flags();
                        s = self.sched.lock();
                        continue;
                    }
                    if let Some(job) = self.pop_ready(&mut s) {
                        // More ready work than takers: wake or add a worker.
                        if !s.ready.is_empty() {
                            if s.idle > 0 {
                                self.cv.notify_one();
                            } else if s.workers < self.cfg.max_concurrent_forward() {
                                if let Err(e) = self.spawn_worker(&mut s) {
                                    log::warn!("cannot add a forwarder thread: {e}");
                                }
                            } else if s.waiter {
                                self.wake.wake();
                            }
                        }
                        break job;
                    }
                    let until_poll = poll.saturating_sub(s.last_poll.elapsed());
                    let timeout = next_retry
                        .map_or(until_poll, |d| d.saturating_duration_since(Instant::now()).min(until_poll))
                        .max(Duration::from_micros(100));
                    if !s.waiter {
                        s.waiter = true;
                        let seen = self.wake.seen();
                        self.collect_ready(&mut s, false);
                        if s.ready.is_empty() && !s.stopping {
                            parking_lot::MutexGuard::unlocked(&mut s, || self.wake.wait(seen, timeout));
                            self.collect_ready(&mut s, false);
                        }
                        s.waiter = false;
                    } else {
                        s.idle += 1;
                        self.cv.wait_for(&mut s, timeout);
                        s.idle -= 1;
                    }
                }
            };
            self.run_job(job.0, job.1, job.2);
        }
    }

    fn handle_flags(&self) {
        if self.flags.reload_config.swap(false, Ordering::AcqRel) {
            self.reload_filter();
        }
        let new = std::mem::take(&mut *self.flags.new_topics.lock());
        if !new.is_empty() {
            self.add_topics(new);
        }
        if self.flags.rescan_topics.swap(false, Ordering::AcqRel)
            && let Err(e) = self.rescan_topics()
        {
            log::warn!("listing topics failed: {e}");
        }
    }

    fn report(&self, events: &mut Vec<Corruption>) {
        for e in events.drain(..) {
            self.counters.corruptions.fetch_add(1, Ordering::Relaxed);
            // Damage and clamps are logged where they are found; gaps here.
            if matches!(e, Corruption::Gap { .. }) {
                log::warn!("group {:?}: {e}", self.group);
            }
            if let Some(f) = &self.on_corruption
                && catch_unwind(AssertUnwindSafe(|| f(&e))).is_err()
            {
                log::error!("the on_corruption hook panicked on {e:?}");
            }
        }
    }

    /// Cuts a batch for a topic (or takes its pending retry), delivers it and
    /// records the outcome.
    fn run_job(&self, name: Arc<str>, cursor: Option<Cursor>, retry: Option<Retry>) {
        let Some(mut cursor) = cursor else {
            self.release(&name, None, TState::Idle);
            return;
        };
        let mut events = Vec::new();
        let batch = match retry {
            Some(r) => r.batch,
            None => match self.fill(&mut cursor, &mut events) {
                Ok(Some(b)) => Arc::new(b),
                Ok(None) => {
                    self.adopt_clamps(&name, &events);
                    self.report(&mut events);
                    self.release(&name, Some(cursor), TState::Idle);
                    return;
                }
                Err(e) => {
                    self.report(&mut events);
                    log::warn!("reading topic {name:?} failed, retrying later: {e}");
                    self.release(&name, Some(cursor), TState::Idle);
                    return;
                }
            },
        };
        self.adopt_clamps(&name, &events);
        self.report(&mut events);

        // Respect mem_max_size: wait for memory unless nothing is in flight.
        // And a member that went without a heartbeat for longer than
        // member_timeout_ms (frozen, paused, starved) starts no batch until
        // the ckpt thread has checked which of its topics others took over:
        // its workers wake together with that thread, and would otherwise
        // each deliver one more batch of a topic it no longer owns.
        {
            let unchecked = self.leases_unchecked();
            let mut s = self.sched.lock();
            if unchecked || (s.in_flight > 0 && s.in_flight_bytes + batch.bytes > self.cfg.mem_max_size()) {
                let t = s.topics.get_mut(&name);
                if let Some(t) = t {
                    t.cursor = Some(cursor);
                    t.retry = Some(Retry { batch });
                    t.state = TState::Retry;
                }
                // Re-queued when a batch finishes (see `finish`), or when
                // the leases were checked (`heartbeat` wakes the workers).
                s.retries.push(std::cmp::Reverse((Instant::now() + Duration::from_millis(1), name)));
                drop(s);
                if unchecked {
                    self.request_heartbeat();
                }
                return;
            }
            s.in_flight += 1;
            s.in_flight_bytes += batch.bytes;
            if let Some(t) = s.topics.get_mut(&name) {
                t.in_closure = Some(InClosure {
                    since: Instant::now(),
                    first: batch.first_seq(),
                    last: batch.last_seq(),
                    revoked: batch.revoked.clone(),
                    batch: batch.clone(),
                });
            }
        }

        let returned = catch_unwind(AssertUnwindSafe(|| (self.forward)(&batch)));
        let mut error = None;
        let ok = match &returned {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                error = Some(e.to_string());
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "forwarder failed on topic {name:?} seq {}..={} (attempt {}): {e}",
                    batch.first_seq(),
                    batch.last_seq(),
                    batch.attempt
                );
                false
            }
            Err(_) => {
                error = Some("the forwarder panicked".to_owned());
                self.counters.panics.fetch_add(1, Ordering::Relaxed);
                log::error!(
                    "forwarder panicked on topic {name:?} seq {}..={} (attempt {}); treated as a failure",
                    batch.first_seq(),
                    batch.last_seq(),
                    batch.attempt
                );
                false
            }
        };
        let mut done = if ok { batch.first_seq + batch.count } else { batch.confirmed_next() };
        let delivered = done - batch.first_seq;
        if delivered > 0 {
            self.counters.records.fetch_add(delivered, Ordering::Relaxed);
        }
        if ok {
            self.counters.batches.fetch_add(1, Ordering::Relaxed);
            self.counters.bytes.fetch_add(batch.bytes, Ordering::Relaxed);
        }
        let undelivered = matches!(&returned, Ok(Err(e)) if e.is::<NotDelivered>());
        let outcome = if ok {
            // The closure asked to go on from another position (Batch::seek).
            match batch.seek_target() {
                Some(to) => {
                    done = to;
                    Outcome::Sought
                }
                None => Outcome::Confirmed,
            }
        } else if !undelivered && self.retry.max_attempts.is_some_and(|max| batch.attempt >= max) {
            // Out of attempts: the failing records become dead letters and
            // the topic moves on (only once they are durably stored).
            match self.dead_letter(&batch, done, error.as_deref().unwrap_or("")) {
                Ok(next) => {
                    done = next;
                    Outcome::DeadLettered
                }
                Err(e) => {
                    log::error!(
                        "topic {name:?}: storing seq {done}..={} as dead letters failed (retrying the batch): {e}",
                        batch.last_seq()
                    );
                    Outcome::Failed
                }
            }
        } else {
            Outcome::Failed
        };
        match outcome {
            Outcome::Sought => cursor.reset(done),
            _ => cursor.advance(&batch, done),
        }
        if let Some(e) = &error
            && let Some(t) = self.sched.lock().topics.get_mut(&name)
        {
            t.last_error = Some(e.as_str().into());
        }
        self.finish(&name, cursor, &batch, done, outcome);
    }

    /// Stores the records of a failed batch from `from` on as dead letters
    /// (only the one the closure named with `Batch::fail_record`, if it did);
    /// returns the position after them.
    fn dead_letter(&self, batch: &Batch, from: u64, error: &str) -> Result<u64> {
        let only = batch.failed_record().filter(|&k| k >= from);
        let now = crate::storage::file::now_ns();
        let letters: Vec<crate::format::dead_letter::Envelope<'_>> = batch
            .records()
            .filter(|r| r.seq() >= from && only.is_none_or(|k| r.seq() == k))
            .map(|r| crate::format::dead_letter::Envelope {
                seq: r.seq(),
                timestamp: r.timestamp(),
                time: now,
                attempts: batch.attempt,
                error,
                data: r.data(),
            })
            .collect();
        super::dead::append(&self.layout.group(&self.group), &batch.topic, &letters)?;
        self.counters.dead_letters.fetch_add(letters.len() as u64, Ordering::Relaxed);
        log::warn!(
            "topic {:?}: {} record(s) from seq {from} moved to the dead letters of group {:?} after {} attempts: {error}",
            batch.topic,
            letters.len(),
            self.group,
            batch.attempt
        );
        Ok(only.map_or(batch.first_seq + batch.count, |k| k + 1))
    }

    /// Cuts a batch; when caught up, arms the doorbell and looks once more.
    fn fill(&self, cursor: &mut Cursor, events: &mut Vec<Corruption>) -> Result<Option<Batch>> {
        let max = self.cfg.max_batch_bytes();
        match cursor.fill(max, events)? {
            Fill::Batch(b) => Ok(Some(b)),
            Fill::CaughtUp(seg) => {
                let (Some(seg), Some(slot)) = (seg, self.wake.slot()) else { return Ok(None) };
                if !seg.arm(slot) {
                    return Ok(None);
                }
                // The writer may have published between our look and the
                // arming, and its check of `waiting` has no full fence: a
                // store still in its store buffer becomes visible well within
                // a microsecond, so look again for a few before sleeping.
                let deadline = Instant::now() + Duration::from_micros(3);
                loop {
                    if let Fill::Batch(b) = cursor.fill(max, events)? {
                        return Ok(Some(b));
                    }
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    while !cursor.peek() && Instant::now() < deadline {
                        std::hint::spin_loop();
                    }
                }
            }
        }
    }

    /// A saved position found past the end of its topic was moved back to the
    /// end by the cursor: the group's position follows (and is persisted), so
    /// records written there later are not skipped.
    fn adopt_clamps(&self, name: &Arc<str>, events: &[Corruption]) {
        for e in events {
            if let Corruption::PastEnd { end, .. } = e {
                let mut s = self.sched.lock();
                if let Some(t) = s.topics.get_mut(name) {
                    t.confirmed = *end;
                    t.spans.clear();
                }
            }
        }
    }

    fn release(&self, name: &Arc<str>, cursor: Option<Cursor>, state: TState) {
        let mut s = self.sched.lock();
        if let Some(t) = s.topics.get_mut(name) {
            if cursor.is_some() {
                t.cursor = cursor;
            }
            // A ring that arrived while we held the topic may be for a frame
            // published after our last look: look again rather than sleep.
            let state = if state == TState::Idle && std::mem::take(&mut t.rung) { TState::Queued } else { state };
            t.state = state;
            if state == TState::Queued {
                s.ready.push_back(name.clone());
            }
        }
    }

    /// Records a delivered batch's outcome: the topic's new position
    /// (`done`, where it goes on from), and what runs next for it.
    fn finish(&self, name: &Arc<str>, cursor: Cursor, batch: &Batch, done: u64, outcome: Outcome) {
        let seeked = outcome == Outcome::Sought;
        // The topic goes on past the batch (else its unconfirmed rest is retried).
        let moves_on = outcome != Outcome::Failed;
        let persist_now = self.cfg.checkpoint_interval().is_zero() && (done > batch.first_seq || seeked);
        let mut s = self.sched.lock();
        s.in_flight -= 1;
        s.in_flight_bytes -= batch.bytes;
        let Some(t) = s.topics.get_mut(name) else { return };
        t.in_closure = None;
        t.stuck = false;
        if !t.owned {
            // Taken away while the closure held the batch: its outcome is
            // ignored (the new owner delivers these records again).
            t.state = TState::Idle;
            t.cursor = None;
            t.retry = None;
            t.spans.clear();
            self.counters.revoked_batches.fetch_add(1, Ordering::Relaxed);
            log::info!(
                "group {:?}: the closure returned batch seq {}..={} of topic {name:?}, which another member took over meanwhile; its outcome is ignored",
                self.group,
                batch.first_seq(),
                batch.last_seq()
            );
            self.cv.notify_one();
            drop(s);
            self.request_balance();
            return;
        }
        if seeked {
            t.confirmed = done;
            t.spans.clear();
            t.dirty = Some(Kind::Position);
        } else if done != t.confirmed {
            // The topic is serial: `done` is where the group now stands.
            t.confirmed = done;
            let seg = batch.source.seg();
            t.spans.retain(|(s, _, _)| !Arc::ptr_eq(s, seg));
            // A compressed segment is sealed and durable: nothing to sync.
            if seg.blocks.is_none() {
                t.spans.push((seg.clone(), batch.offset_of(done), done));
            }
        }
        t.cursor = Some(cursor);
        if t.releasing || t.moving.is_some() {
            // The ckpt thread gives the topic up or moves it, now that no
            // batch is in flight.
            t.state = TState::Idle;
            if !moves_on {
                t.retry = retry_batch(batch, done).map(|b| Retry { batch: Arc::new(b) });
            }
            self.cv.notify_one();
            drop(s);
            self.request_balance();
            return;
        }
        if moves_on {
            t.attempts = 0;
            t.last_error = None;
            t.state = if persist_now { TState::Busy } else { TState::Queued };
            if !persist_now {
                s.ready.push_back(name.clone());
            }
        } else {
            t.attempts += 1;
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            let due = Instant::now() + self.retry.backoff(t.attempts);
            let rest = retry_batch(batch, done);
            match rest {
                Some(b) => {
                    t.retry = Some(Retry { batch: Arc::new(b) });
                    t.state = TState::Retry;
                    s.retries.push(std::cmp::Reverse((due, name.clone())));
                }
                None => {
                    t.state = TState::Queued;
                    s.ready.push_back(name.clone());
                }
            }
        }
        // A finished batch frees memory: let memory-blocked topics try again.
        self.cv.notify_one();
        if s.waiter && s.idle == 0 && !s.ready.is_empty() {
            self.wake.wake();
        }
        drop(s);
        if persist_now {
            if let Err(e) = self.persist(Some(name)) {
                self.counters.checkpoint_errors.fetch_add(1, Ordering::Relaxed);
                log::error!("persisting the position of topic {name:?} failed: {e}");
            }
            let mut s = self.sched.lock();
            if let Some(t) = s.topics.get_mut(name)
                && t.state == TState::Busy
            {
                t.state = TState::Queued;
                s.ready.push_back(name.clone());
            }
        }
    }

    /// Persists confirmed positions (all topics, or one), after making sure
    /// the records they count are durable.
    pub(crate) fn persist(&self, only: Option<&Arc<str>>) -> Result<()> {
        let _one_at_a_time = self.persisting.lock();
        let mut todo: Vec<(Arc<str>, u64, Vec<Span>, Kind)> = Vec::new();
        // Batches still in their closure with a confirmed prefix past the
        // topic's position (`Batch::confirm`, a `Confirmer`): that prefix is
        // persisted too, so a restart re-delivers only what was not confirmed.
        let mut partial: Vec<(usize, Arc<Batch>, u64)> = Vec::new();
        {
            let s = self.sched.lock();
            for t in s.topics.values() {
                if only.is_some_and(|o| *o != t.name) {
                    continue;
                }
                let part = match (&t.in_closure, t.dirty) {
                    (Some(f), None) if !f.revoked.load(Ordering::Acquire) => {
                        let next = f.batch.confirmed_next();
                        (next > t.confirmed && next > t.persisted).then(|| (f.batch.clone(), next))
                    }
                    _ => None,
                };
                // `persisted` is past `confirmed` after a partial prefix was
                // saved: writing `confirmed` again would move the saved
                // position back to the batch's start.
                if part.is_none() && t.confirmed <= t.persisted && t.dirty.is_none() {
                    continue;
                }
                if let Some((b, next)) = part {
                    partial.push((todo.len(), b, next));
                }
                todo.push((t.name.clone(), t.confirmed, t.spans.clone(), t.dirty.unwrap_or(Kind::Position)));
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        for (i, b, next) in partial {
            // Outside the scheduler's lock: finding the offset walks the batch.
            let seg = b.source.seg();
            let item = &mut todo[i];
            item.1 = next;
            if seg.blocks.is_none() {
                item.2.retain(|(s, _, _)| !Arc::ptr_eq(s, seg));
                item.2.push((seg.clone(), b.offset_of(next), next));
            }
        }
        for (name, _, spans, _) in &todo {
            for (seg, end_off, end_seq) in spans {
                let durable = seg.watermark().is_some_and(|w| w.durable_next >= *end_seq && w.durable_end >= *end_off);
                if !durable {
                    // The writer has not synced these records yet: do it
                    // (any process may), including the directory entries.
                    seg.sync(*end_off)?;
                    seg.sync_entries(&self.layout.topic(name), &self.layout.topics())?;
                }
            }
        }
        let updates: Vec<(String, u64, Kind)> = todo.iter().map(|(n, c, _, k)| (n.to_string(), *c, *k)).collect();
        let fenced = self.store.lock().persist(&updates)?;
        self.counters.checkpoints.fetch_add((updates.len() - fenced.len()) as u64, Ordering::Relaxed);
        self.lose(&fenced);
        let mut s = self.sched.lock();
        for (n, c, _, _) in &todo {
            if fenced.iter().any(|f| **f == **n) {
                continue;
            }
            if let Some(t) = s.topics.get_mut(n) {
                // A moved position may lie behind the persisted one.
                t.persisted = if t.dirty.take().is_some() { *c } else { t.persisted.max(*c) };
                let p = t.persisted;
                t.spans.retain(|(_, _, end)| *end > p);
            }
        }
        Ok(())
    }

    /// Topics whose lease another member took over: no longer delivered
    /// here (a batch still in the closure is ignored when it returns); the
    /// ckpt thread releases their byte locks.
    fn lose(&self, topics: &[String]) {
        if topics.is_empty() {
            return;
        }
        let mut s = self.sched.lock();
        let mut lost = self.lost.lock();
        for n in topics {
            let Some(t) = s.topics.get_mut(n.as_str()) else { continue };
            if !t.owned {
                continue;
            }
            t.owned = false;
            t.releasing = false;
            t.spans.clear();
            if let Some(f) = &t.in_closure {
                f.revoked.store(true, Ordering::Release);
            }
            if t.state != TState::Busy {
                t.state = TState::Idle;
                t.cursor = None;
                t.retry = None;
            }
            lost.push(t.name.clone());
            self.counters.topics_lost.fetch_add(1, Ordering::Relaxed);
            log::warn!(
                "group {:?}: topic {n:?} was taken over by another member (this one went without a heartbeat for longer than member_timeout_ms); positions confirmed here since its last persist are dropped and those records delivered again",
                self.group
            );
        }
        drop(lost);
        drop(s);
        self.request_balance();
    }

    /// What the member file says of this member's deliveries (format 2):
    /// its counters and the topics waiting to retry a failed batch.
    pub(crate) fn member_report(&self) -> (super::members::MemberCounters, Vec<super::members::RetryingTopic>) {
        let c = &self.counters;
        let counters = super::members::MemberCounters {
            records: c.records.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed) + c.panics.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dead_letters: c.dead_letters.load(Ordering::Relaxed),
        };
        let s = self.sched.lock();
        let mut retrying: Vec<super::members::RetryingTopic> = s
            .topics
            .values()
            .filter(|t| t.owned && t.attempts > 0)
            .map(|t| super::members::RetryingTopic {
                topic: t.name.to_string(),
                attempts: t.attempts,
                error: t.last_error.as_deref().unwrap_or("").chars().take(200).collect(),
            })
            .collect();
        drop(s);
        retrying.sort_by(|a, b| a.topic.cmp(&b.topic));
        (counters, retrying)
    }

    /// True when this member went longer than `member_timeout_ms` without
    /// a heartbeat and the ckpt thread has not yet checked its leases since.
    fn leases_unchecked(&self) -> bool {
        let last = self.last_beat.load(Ordering::Acquire).max(self.leases_checked.load(Ordering::Acquire));
        let since = super::members::mono_ns().saturating_sub(last);
        super::members::is_stale(Some(since), self.cfg.member_timeout())
    }

    /// Asks the ckpt thread to beat (and check its leases) now.
    fn request_heartbeat(&self) {
        self.beat_soon.store(true, Ordering::Release);
        let _g = self.ckpt_lock.lock();
        self.ckpt_cv.notify_all();
    }

    /// Refreshes the heartbeat when due. If this member itself went longer
    /// than `member_timeout_ms` without one (it was frozen or starved),
    /// others may have taken its topics over: it checks its leases first.
    fn heartbeat(&self, every: Duration) {
        let last = self.last_beat.load(Ordering::Acquire);
        let since = super::members::mono_ns().saturating_sub(last);
        if u128::from(since) < every.as_nanos() {
            return;
        }
        if super::members::is_stale(Some(since), self.cfg.member_timeout()) {
            let owned: Vec<String> = {
                let s = self.sched.lock();
                s.topics.values().filter(|t| t.owned).map(|t| t.name.to_string()).collect()
            };
            log::warn!(
                "group {:?}: this member went {} ms without a heartbeat (frozen, paused or starved); checking which of its {} topics others took over",
                self.group,
                since / 1_000_000,
                owned.len()
            );
            match self.store.lock().lost(&owned) {
                Ok(lost) => self.lose(&lost),
                Err(e) => log::warn!("group {:?}: checking topic leases failed: {e}", self.group),
            }
            // Checked (or failed to, which a persist refused later still
            // catches): the workers held back by `leases_unchecked` go on.
            self.leases_checked.store(super::members::mono_ns(), Ordering::Release);
        }
        let now = super::members::mono_ns();
        match self.members.lock().beat() {
            Ok(()) => self.last_beat.store(now, Ordering::Release),
            Err(e) => log::warn!("group {:?}: {e}", self.group),
        }
    }

    fn checkpoint_loop(self: Arc<Core>) {
        let interval = self.cfg.checkpoint_interval();
        let persist_every = if interval.is_zero() { Duration::from_secs(1) } else { interval };
        let balance_every = self.cfg.rebalance_interval();
        // Four heartbeats per timeout, so one late beat never looks stale.
        let beat_every = self.cfg.member_timeout().map_or(balance_every, |t| (t / 4).min(balance_every));
        let mut last_persist = Instant::now();
        let mut last_balance = Instant::now();
        let mut last_beat = Instant::now();
        let mut last_retention = Instant::now();
        let mut retained: HashMap<Arc<str>, u64> = HashMap::new();
        // A requested tick waits until three times the last tick's duration
        // (at most 100 ms) has passed since it began. A tick costs O(topics)
        // (and rewrites the member file), and topics created in a burst each
        // request one: so they share ticks, and discovering n topics costs
        // O(n) in all rather than a tick over every topic per new one, for a
        // delay of a few ticks' duration (about a millisecond at 10 000
        // topics; measured at 5 000 created in a burst: 994 ticks and 2.0 s of
        // this thread's CPU before, 189 and 0.9 s after).
        let mut spacing = Duration::ZERO;
        loop {
            {
                let mut stop = self.ckpt_lock.lock();
                let mut next =
                    (last_persist + persist_every).min(last_balance + balance_every).min(last_beat + beat_every);
                if self.balance_soon.load(Ordering::Acquire) {
                    next = next.min(last_balance + spacing);
                }
                let wait = next.saturating_duration_since(Instant::now());
                if !*stop && !wait.is_zero() {
                    self.ckpt_cv.wait_for(&mut stop, wait);
                }
                if *stop {
                    return;
                }
            }
            if last_beat.elapsed() >= beat_every || self.beat_soon.swap(false, Ordering::AcqRel) {
                last_beat = Instant::now();
                self.heartbeat(beat_every);
            }
            let requested = self.balance_soon.load(Ordering::Acquire) && last_balance.elapsed() >= spacing;
            if requested || last_balance.elapsed() >= balance_every {
                self.balance_soon.store(false, Ordering::Release);
                last_balance = Instant::now();
                if let Err(e) = self.balance() {
                    log::warn!("balancing topics of group {:?} failed (will retry): {e}", self.group);
                }
                spacing = (last_balance.elapsed() * 3).min(Duration::from_millis(100));
            }
            if last_persist.elapsed() >= persist_every {
                last_persist = Instant::now();
                if let Err(e) = self.persist(None) {
                    self.counters.checkpoint_errors.fetch_add(1, Ordering::Relaxed);
                    log::error!("persisting positions of group {:?} failed (will retry): {e}", self.group);
                }
            }
            if last_retention.elapsed() >= Duration::from_secs(1) {
                last_retention = Instant::now();
                self.retention(&mut retained);
                self.counters.retention_passes.fetch_add(1, Ordering::Relaxed);
                if cfg!(feature = "metrics") {
                    crate::metrics::reader(&self.layout.base, &self.group, &self.stats());
                }
            }
        }
    }

    /// Deletes sealed segments that every registered group has consumed.
    /// `done` remembers, per topic, the lowest position last acted on, so a
    /// topic is only looked at again when some group moved.
    fn retention(&self, done: &mut HashMap<Arc<str>, u64>) {
        if self.cfg.retain_consumed() {
            return;
        }
        let topics: Vec<(Arc<str>, u64)> = {
            let s = self.sched.lock();
            s.topics.values().filter(|t| t.owned).map(|t| (t.name.clone(), t.persisted)).collect()
        };
        let others = match super::group::other_positions(&self.layout, &self.group) {
            Ok(o) => o,
            Err(e) => {
                log::warn!("retention skipped: {e}");
                return;
            }
        };
        for (name, mine) in topics {
            let min = others.iter().map(|g| g.get(&*name).map_or(0, |p| p.next_seq)).fold(mine, u64::min);
            if done.get(&name) == Some(&min) {
                continue;
            }
            match super::group::delete_consumed(&self.layout.topic(&name), min) {
                Ok(n) => {
                    done.insert(name, min);
                    self.counters.segments_deleted.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => log::warn!("deleting consumed segments of {name:?} failed: {e}"),
            }
        }
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
            *self.final_positions.lock() = Some(Self::owned_positions(&s));
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

    /// Whether the black/white lists in force now let `topic` through.
    pub(crate) fn consumes(&self, topic: &str) -> bool {
        self.filter.read().allows(topic)
    }

    /// Records written to the topics this member owns and not yet confirmed.
    pub(crate) fn lag(&self) -> u64 {
        let owned: Vec<(Arc<str>, u64)> = {
            let s = self.sched.lock();
            s.topics.values().filter(|t| t.owned).map(|t| (t.name.clone(), t.confirmed)).collect()
        };
        owned
            .iter()
            .map(|(n, c)| {
                crate::segment::extent::next_seq(&self.layout.topic(n)).map_or(0, |end| end.saturating_sub(*c))
            })
            .sum()
    }

    /// Counters since start.
    pub(crate) fn stats(&self) -> super::ReaderStats {
        let c = &self.counters;
        let stuck_topics = self.sched.lock().topics.values().filter(|t| t.stuck).count() as u64;
        super::ReaderStats {
            batches: c.batches.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            panics: c.panics.load(Ordering::Relaxed),
            corruptions: c.corruptions.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            segments_deleted: c.segments_deleted.load(Ordering::Relaxed),
            checkpoint_errors: c.checkpoint_errors.load(Ordering::Relaxed),
            config_reloads: c.config_reloads.load(Ordering::Relaxed),
            config_reload_failures: c.config_reload_failures.load(Ordering::Relaxed),
            last_config_error: c.last_config_error.lock().clone(),
            retention_passes: c.retention_passes.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dead_letters: c.dead_letters.load(Ordering::Relaxed),
            topics_taken: c.topics_taken.load(Ordering::Relaxed),
            topics_released: c.topics_released.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            takeovers: c.takeovers.load(Ordering::Relaxed),
            topics_lost: c.topics_lost.load(Ordering::Relaxed),
            revoked_batches: c.revoked_batches.load(Ordering::Relaxed),
            stuck_found: c.stuck_found.load(Ordering::Relaxed),
            stuck_topics,
            topics_owned: self.positions().len() as u64,
            lag: self.lag(),
        }
    }

    /// This member's id in the group.
    pub(crate) fn member_id(&self) -> String {
        self.members.lock().id.clone()
    }

    /// Snapshot of the positions in memory of the topics this member owns:
    /// (topic, confirmed, persisted).
    pub(crate) fn positions(&self) -> Vec<(String, u64, u64)> {
        if let Some(v) = self.final_positions.lock().as_ref() {
            return v.clone();
        }
        Self::owned_positions(&self.sched.lock())
    }

    fn owned_positions(s: &Sched) -> Vec<(String, u64, u64)> {
        let mut v: Vec<_> =
            s.topics.values().filter(|t| t.owned).map(|t| (t.name.to_string(), t.confirmed, t.persisted)).collect();
        v.sort();
        v
    }
}

/// The part of a failed batch not confirmed, as the next attempt.
fn retry_batch(b: &Batch, done: u64) -> Option<Batch> {
    let last = b.first_seq + b.count;
    if done >= last {
        return None;
    }
    let start = b.offset_of(done);
    let skipped = done - b.first_seq;
    let bytes: u64 = b.records().skip(skipped as usize).map(|r| r.data().len() as u64).sum();
    Some(Batch {
        topic: b.topic.clone(),
        source: b.source.clone(),
        start,
        end: b.end,
        first_seq: done,
        count: last - done,
        bytes,
        confirmed: Arc::new(AtomicU64::new(done)),
        attempt: b.attempt + 1,
        log_id: b.log_id,
        skipped_before: 0,
        seek_to: AtomicU64::new(u64::MAX),
        failed: AtomicU64::new(u64::MAX),
        revoked: Default::default(),
    })
}
