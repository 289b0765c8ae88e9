//! The `logstream-flush` thread: grows active segments ahead of the writers,
//! makes written records durable every `flush_interval`, and on request.
//!
//! A sync pass takes, under each topic lock, where the active segment stands
//! and the segments sealed since the last pass; it then syncs outside the
//! lock (writers keep writing), and only after the sync succeeded writes the
//! durable watermark into the segment header. Sealed segments get their
//! watermark synced too, so recovery can skip them. With many dirty topics one
//! `syncfs` replaces a sync per file.
//!
//! A durable write (`write_durable`, `Durability::Sync`) with no other caller
//! waiting runs its pass on its own thread instead of handing it to this one
//! ([`commit`]); concurrent callers share the thread's passes. Passes never
//! overlap, whichever thread runs them.
//!
//! About once a second it rolls active segments older than
//! `segment_max_age` and wakes the `logstream-retention` thread
//! (`retention.rs`), which scans and deletes off this thread.
//!
//! Any failed sync poisons the writer: `write()` and `flush()` fail from then
//! on, and no sync is retried and reported as success.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::Shared;
use super::topic::Topic;
use crate::error::{IoContext, Result};
use crate::format::frame::SEAL_LEN;
use crate::format::segment::{DATA_START, Watermark};

use crate::segment::appender::Progress;
use crate::segment::{read_watermark, write_watermark};
use crate::storage::file::{punch_hole, sync_dir, sync_fs};

/// Above this many dirty files in one pass, one `syncfs` is cheaper than a sync per file.
const SYNCFS_THRESHOLD: usize = 64;

/// Flush requests and completions, shared by `flush()` callers and the thread.
#[derive(Default)]
pub(crate) struct FlushCtl {
    state: Mutex<FlushState>,
    /// The flush thread waits here for requests. Kept apart from `done` so
    /// that a caller's request wakes the thread alone, not every other
    /// caller waiting for a pass (8 group-commit callers on 2 cores spent
    /// more time waking each other than syncing).
    work: Condvar,
    /// Callers wait here for their pass to complete.
    done: Condvar,
    /// A pass about to start waits here for the callers it should carry
    /// (see `gather`); every request rings it.
    arrivals: Condvar,
}

#[derive(Default)]
struct FlushState {
    requested: u64,
    completed: u64,
    wake: bool,
    shutdown: bool,
    exited: bool,
    failed: Option<String>,
    /// The request numbers of the callers blocked in `flush_until` now.
    /// Those at or below `completed` are satisfied and about to leave; the
    /// rest wait for a pass (counting them all made a pass start while half
    /// the callers it should carry were still waking up from the last one).
    waiters: std::collections::BTreeSet<u64>,
    /// Most callers seen waiting at once lately (group commit: the next
    /// pass waits a little for that many).
    peak: usize,
    /// A caller wants the durable watermarks written too (`Writer::flush`).
    publish: bool,
    /// A sync pass is running (on the flush thread or on a caller's thread):
    /// passes never overlap.
    running: bool,
    /// How long the last pass took.
    last_pass: Duration,
    /// Completions registered by callers that do not wait on `done` (the
    /// async API): each runs, under the state lock, once a pass that started
    /// after its request finished, or with the failure or closing that ends
    /// all waiting. They must not block.
    notify: Vec<(u64, Completion)>,
}

/// A completion run from the flush thread's pass (see `FlushCtl::flush_then`).
pub(crate) type Completion = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

impl FlushState {
    /// Callers waiting for a pass that has not completed yet.
    fn unsatisfied(&self) -> usize {
        self.waiters.range(self.completed + 1..).count()
    }
}

impl FlushCtl {
    /// Asks for a sync pass that writes the durable watermarks too, and
    /// waits until one that started after this call finished.
    pub(crate) fn flush_and_publish(&self) -> std::result::Result<(), String> {
        self.state.lock().publish = true;
        self.flush_until(None).map(|_| ())
    }

    /// Asks for a sync pass and waits until one that started after this call
    /// finished, giving up at `deadline`: `Ok(false)` if the pass had not
    /// completed by then.
    pub(crate) fn flush_until(&self, deadline: Option<Instant>) -> std::result::Result<bool, String> {
        let mut s = self.state.lock();
        s.requested += 1;
        let mine = s.requested;
        s.wake = true;
        s.waiters.insert(mine);
        s.peak = s.peak.max(s.unsatisfied());
        self.work.notify_one();
        self.arrivals.notify_all();
        let r = self.wait_for(&mut s, mine, deadline);
        s.waiters.remove(&mine);
        r
    }

    /// Asks for a sync pass (one that writes the durable watermarks too,
    /// with `publish`) and returns at once: `done` runs when a pass that
    /// started after this call finished, or with the reason none will. The
    /// pass is the flush thread's, so nothing blocks the caller.
    #[cfg(feature = "tokio")]
    pub(crate) fn flush_then(&self, publish: bool, done: Completion) {
        let mut s = self.state.lock();
        if let Some(why) = &s.failed {
            let why = why.clone();
            drop(s);
            return done(Err(why));
        }
        if s.exited {
            drop(s);
            return done(Err("the writer is closed".into()));
        }
        s.requested += 1;
        let mine = s.requested;
        s.publish |= publish;
        s.notify.push((mine, done));
        s.wake = true;
        self.work.notify_one();
        self.arrivals.notify_all();
    }

    fn wait_for(
        &self,
        s: &mut parking_lot::MutexGuard<'_, FlushState>,
        mine: u64,
        deadline: Option<Instant>,
    ) -> std::result::Result<bool, String> {
        loop {
            if let Some(why) = &s.failed {
                return Err(why.clone());
            }
            if s.completed >= mine {
                return Ok(true);
            }
            if s.exited {
                return Err("the writer is closed".into());
            }
            match deadline {
                Some(d) => {
                    if self.done.wait_until(s, d).timed_out() && s.completed < mine {
                        return Ok(false);
                    }
                }
                None => self.done.wait(s),
            }
        }
    }

    /// Asks for a sync pass soon, without waiting for it.
    pub(crate) fn request(&self) {
        let mut s = self.state.lock();
        s.requested += 1;
        s.wake = true;
        self.work.notify_one();
    }

    /// Wakes the thread without asking for a sync.
    pub(crate) fn nudge(&self) {
        let mut s = self.state.lock();
        s.wake = true;
        self.work.notify_one();
    }

    /// Tells the thread to make a last sync pass and exit.
    pub(crate) fn shutdown(&self) {
        let mut s = self.state.lock();
        s.shutdown = true;
        s.wake = true;
        self.work.notify_one();
    }
}

/// Body of the `logstream-flush` thread.
pub(crate) fn run(shared: Arc<Shared>) {
    let interval = shared.cfg.flush_interval();
    let mut next_tick = Instant::now() + interval;
    let mut last_housekeeping = Instant::now();
    loop {
        let (shutdown, sync_now, publish) = {
            let mut s = shared.flush.state.lock();
            while !s.wake && !s.shutdown && Instant::now() < next_tick {
                shared.flush.work.wait_until(&mut s, next_tick);
            }
            s.wake = false;
            let due = Instant::now() >= next_tick;
            if !due && !s.shutdown && s.requested > s.completed {
                gather(&shared.flush, &mut s);
            }
            let publish = due || s.shutdown || std::mem::take(&mut s.publish);
            (s.shutdown, due || s.requested > s.completed || s.shutdown, publish)
        };
        if last_housekeeping.elapsed() >= Duration::from_secs(1) {
            last_housekeeping = Instant::now();
            let base = &shared.layout.base;
            if crate::storage::hook::each(base, |h| h.before_timed_housekeeping(base)).is_ok() {
                roll_old_segments(&shared);
                // Retention's scans run on their own thread: a slow one
                // must not delay the syncs.
                shared.retention.wake();
                publish_metrics(&shared);
            }
        }
        if sync_now {
            next_tick = Instant::now() + interval;
            let mut s = shared.flush.state.lock();
            // A caller may be leading a pass (see `commit`): ours comes after.
            while s.running {
                shared.flush.done.wait(&mut s);
            }
            lead(&shared, &mut s, publish);
            // Poisoned after a failure: nothing more will be made durable;
            // flush requests keep getting the failure until shutdown.
        }
        if shutdown {
            let mut s = shared.flush.state.lock();
            s.exited = true;
            complete_notified(&mut s);
            shared.flush.done.notify_all();
            drop(s);
            // Closed: another writer may take the directory now (after
            // `close_timeout` gave up, this is the last thing that ran).
            if let Err(e) = crate::storage::file::unlock(&shared.lock_file) {
                log::warn!("releasing {} failed: {e}", shared.layout.lock().display());
            }
            return;
        }
    }
}

/// Age rolls, then a retention pass (disk measurement, retention limits),
/// now and on the calling thread: what the flush thread and the retention
/// thread do about once a second, for `Writer::run_housekeeping`.
#[cfg(feature = "fault-injection")]
pub(crate) fn housekeeping(shared: &Shared) {
    roll_old_segments(shared);
    super::retention::pass(shared);
    publish_metrics(shared);
}

fn publish_metrics(shared: &Shared) {
    if cfg!(feature = "metrics") {
        crate::metrics::publish(
            &[("dir", shared.layout.base.display().to_string())],
            &shared.stats_snapshot().figures(),
        );
    }
}

/// Makes every record written before the call durable, as
/// `FlushCtl::flush_until`. A caller that has had no company lately (no
/// other caller waited for a pass at the same time) runs the pass itself,
/// on its own thread, as soon as no pass is running: no hand-off to the
/// flush thread and back, which for a lone caller is most of what a durable
/// write costs beyond its sync. Callers that come together leave the pass to
/// the flush thread, whose `gather` makes one sync carry all of them (a
/// caller leading at once would sync its record alone and split the rest
/// into a second pass).
pub(crate) fn commit(shared: &Shared) -> std::result::Result<(), String> {
    let ctl = &shared.flush;
    let mut s = ctl.state.lock();
    s.requested += 1;
    let mine = s.requested;
    s.waiters.insert(mine);
    s.peak = s.peak.max(s.unsatisfied());
    let alone = s.peak <= 1;
    if !alone {
        s.wake = true;
        ctl.work.notify_one();
    }
    ctl.arrivals.notify_all();
    let r = loop {
        if let Some(why) = &s.failed {
            break Err(why.clone());
        }
        if s.completed >= mine {
            break Ok(());
        }
        if s.exited {
            break Err("the writer is closed".into());
        }
        if !alone || s.running || s.shutdown {
            // The flush thread's pass, or one running now (if it does not
            // carry this request, this caller leads the next).
            ctl.done.wait(&mut s);
            continue;
        }
        let publish = std::mem::take(&mut s.publish);
        lead(shared, &mut s, publish);
    };
    s.waiters.remove(&mine);
    r
}

/// Runs one sync pass, with the state lock released meanwhile; the pass
/// carries every request made before it starts. Passes never overlap.
fn lead(shared: &Shared, s: &mut parking_lot::MutexGuard<'_, FlushState>, publish: bool) {
    debug_assert!(!s.running);
    s.running = true;
    let generation = s.requested;
    let started = Instant::now();
    let pass = parking_lot::MutexGuard::unlocked(s, || {
        // A panic here must not leave `running` set (every durable write
        // would hang): it fails the pass like an I/O error.
        let pass = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sync_pass(shared, publish)))
            .unwrap_or_else(|_| {
                Err(crate::error::Error::io(
                    "sync pass",
                    shared.layout.base.clone(),
                    std::io::Error::other("the sync pass panicked"),
                ))
            });
        match &pass {
            Ok(true) => {
                shared.stats.sync_latency.record(started.elapsed());
                shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {}
            // Poisoned before anyone hears of the failure, so that every
            // caller sees the writer poisoned.
            Err(e) => shared.poison_with(e),
        }
        pass
    });
    s.running = false;
    s.last_pass = started.elapsed();
    match &pass {
        Ok(_) => s.completed = s.completed.max(generation),
        Err(e) => {
            s.failed.get_or_insert(e.to_string());
        }
    }
    complete_notified(s);
    shared.flush.done.notify_all();
    if matches!(pass, Ok(true)) {
        parking_lot::MutexGuard::unlocked(s, || shared.bell.poke_file());
    }
}

/// Runs the registered completions that the state now settles: those whose
/// request a completed pass carried, and all of them once the writer failed
/// or its thread exited.
fn complete_notified(s: &mut FlushState) {
    if s.notify.is_empty() {
        return;
    }
    let end = if s.failed.is_some() || s.exited { None } else { Some(s.completed) };
    let (settled, waiting): (Vec<_>, Vec<_>) =
        std::mem::take(&mut s.notify).into_iter().partition(|(mine, _)| end.is_none_or(|c| *mine <= c));
    s.notify = waiting;
    for (_, done) in settled {
        done(match (&s.failed, end) {
            (Some(why), _) => Err(why.clone()),
            (None, None) => Err("the writer is closed".into()),
            (None, Some(_)) => Ok(()),
        });
    }
}

/// Group commit: before a pass that callers asked for, waits a little (at
/// most as long as the last pass took, at most 1 ms) until as many callers wait as lately
/// did, so that one sync carries all of them instead of the half that came
/// back first. A lone caller never waits.
fn gather(ctl: &FlushCtl, s: &mut parking_lot::MutexGuard<'_, FlushState>) {
    let target = s.peak;
    let deadline = Instant::now() + s.last_pass.min(Duration::from_millis(1));
    while s.unsatisfied() < target && !s.shutdown {
        if ctl.arrivals.wait_until(s, deadline).timed_out() {
            break;
        }
    }
    // Callers that went away are forgotten slowly, one per pass.
    s.peak = s.unsatisfied().max(target.saturating_sub(1));
}

/// Rolls active segments older than `segment_max_age`, so that age-based
/// retention also works on quiet topics.
fn roll_old_segments(shared: &Shared) {
    let Some(max_age) = shared.cfg.segment_max_age() else { return };
    let topics: Vec<Arc<Topic>> =
        super::topic::in_pass_order(&shared.layout.base, shared.topics.read().values().cloned().collect());
    for t in topics {
        let mut st = t.state.lock();
        let old = st.appender.as_ref().is_some_and(|a| a.count > 0 && a.started.elapsed() >= max_age);
        if old && let Err(e) = shared.roll(&t, &mut st) {
            log::warn!("rolling the old segment of topic {:?} failed: {e}", t.name);
        }
    }
}

struct Work {
    topic: Arc<Topic>,
    /// `dir_changes` to record as synced once the directory sync is done.
    dir: Option<u64>,
    sealed: Vec<Progress>,
    active: Option<Progress>,
}

/// One sync pass over every topic with unsynced records. Returns whether any
/// record was newly made durable.
fn sync_pass(shared: &Shared, publish: bool) -> Result<bool> {
    if shared.is_poisoned() {
        return Err(shared.poison_error());
    }
    if shared.topics_dir_dirty.swap(false, Ordering::AcqRel) {
        let dir = shared.layout.topics();
        sync_dir(&dir).ctx("sync topics directory", &dir)?;
    }
    let topics: Vec<Arc<Topic>> =
        super::topic::in_pass_order(&shared.layout.base, shared.topics.read().values().cloned().collect());
    let mut work = Vec::new();
    for t in topics {
        let mut st = t.state.lock();
        let active = st
            .appender
            .as_ref()
            .map(|a| a.progress())
            .filter(|p| p.next_seq > st.synced_next || (publish && p.next_seq > st.wm_next));
        if active.is_none() && st.sealed.is_empty() && !st.dir_dirty() {
            continue;
        }
        let w = Work {
            topic: t.clone(),
            dir: st.dir_dirty().then_some(st.dir_changes),
            sealed: std::mem::take(&mut st.sealed),
            active,
        };
        drop(st);
        work.push(w);
    }
    if work.is_empty() {
        return Ok(false);
    }
    let files: usize = work.iter().map(|w| w.sealed.len() + usize::from(w.active.is_some())).sum();
    if files > SYNCFS_THRESHOLD {
        for w in &work {
            for p in w.sealed.iter().chain(w.active.iter()) {
                p.seg.release_written(p.end);
            }
        }
        sync_fs(&shared.lock_file, &shared.layout.base).ctx("sync file system", shared.layout.base.clone())?;
        for w in &work {
            if let Some(seen) = w.dir {
                let mut st = w.topic.state.lock();
                st.dir_synced = st.dir_synced.max(seen);
            }
        }
    } else {
        // Several files: start the writeback of all of them first, so that
        // their writes are in flight together and each sync below mostly
        // waits and flushes (8 durable writers on 8 topics: 10.1–10.3 k/s
        // before, 12.9–13.5 k/s after, `logstream-bench --only groupcommit`).
        if files > 1 {
            for w in &work {
                for p in w.sealed.iter().chain(w.active.iter()) {
                    p.seg.release_written(p.end);
                    p.seg.kick_writeback(p.end);
                }
            }
        }
        for w in &work {
            for p in &w.sealed {
                p.seg.release_written(p.end);
                p.seg.sync(p.end, Some(p.index_end))?;
            }
            if let Some(p) = &w.active {
                p.seg.release_written(p.end);
                p.seg.sync(p.end, None)?;
            }
            // The directory after the files: a segment's name becomes
            // durable only with its header, so a power loss never finds a
            // name whose file holds nothing (for a segment that replaced an
            // empty one, that would leave the topic without the segment
            // that says where it continues).
            if let Some(seen) = w.dir {
                match sync_dir(&w.topic.dir) {
                    Ok(()) => {}
                    // `delete_topic` ran since the work was taken: nothing
                    // of the topic needs to be durable any more.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && w.topic.state.lock().deleted => continue,
                    Err(e) => return Err(e).ctx("sync topic directory", &w.topic.dir),
                }
                let mut st = w.topic.state.lock();
                st.dir_synced = st.dir_synced.max(seen);
            }
        }
    }
    // Everything in `work` is durable now: publish the watermarks.
    let mut published = false;
    for w in work {
        for p in &w.sealed {
            finish_sealed(p)?;
            if shared.cfg.compress_topics().iter().any(|t| **t == *w.topic.name) {
                shared.compress.push(w.topic.clone(), p.seg.base_seq);
            }
        }
        if let Some(p) = &w.active {
            // Passes that callers asked for (durable writes, `flush`) leave
            // the watermark to the next timed pass: rewriting the header
            // page every time would add a second write to each sync.
            if publish {
                let prev = read_watermark(&p.seg.data);
                write_watermark(&p.seg.data, &watermark(p, prev));
                w.topic.state.lock().wm_next = p.next_seq;
            }
            published = true;
            // Rescue a wake-up the write path may have missed (it checks
            // `waiting` without a full fence): ring waiters of a topic that moved.
            if p.seg.waiting().load(Ordering::Relaxed) != 0 {
                let mask = p.seg.waiting().swap(0, Ordering::SeqCst);
                if mask != 0 {
                    shared.bell.ring(mask, w.topic.bucket);
                }
            }
            let mut st = w.topic.state.lock();
            st.synced_next = st.synced_next.max(p.next_seq);
        }
        if !w.sealed.is_empty() {
            published = true;
            let mut st = w.topic.state.lock();
            if let Some(last) = w.sealed.last() {
                st.synced_next = st.synced_next.max(last.next_seq);
            }
        }
    }
    Ok(published)
}

fn watermark(p: &Progress, prev: Option<Watermark>) -> Watermark {
    Watermark {
        durable_end: p.end,
        durable_next: p.next_seq,
        sealed_end: p.sealed_at.unwrap_or(0),
        sealed_next: if p.sealed_at.is_some() { p.next_seq } else { 0 },
        first_time: p.first_time,
        last_time: p.last_time,
        generation: prev.map_or(0, |w| w.generation) + 1,
    }
}

/// Last steps for a sealed segment whose data is durable: a sealed watermark,
/// synced, so recovery trusts it; then the unused preallocation is released.
fn finish_sealed(p: &Progress) -> Result<()> {
    let prev = read_watermark(&p.seg.data);
    write_watermark(&p.seg.data, &watermark(p, prev));
    p.seg.data.sync(0, DATA_START as usize).ctx("sync sealed segment header", &p.seg.data_path)?;
    let allocated = p.seg.data_allocated.load(Ordering::Acquire);
    let page = crate::storage::page_size() as u64;
    let keep = (p.end.max(DATA_START + SEAL_LEN as u64)).div_ceil(page) * page;
    // Through the segment's own file: its name may hold a new segment by now.
    if allocated > keep
        && let Ok(f) = p.seg.open_data()
    {
        punch_hole(&f, &p.seg.data_path, keep, allocated - keep);
        p.seg.credit(allocated - keep);
    }
    Ok(())
}
