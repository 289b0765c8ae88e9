//! Retention, on the `logstream-retention` thread: measuring what the log
//! occupies (disk caps), deleting the oldest sealed segments beyond the
//! retention limits (age, bytes per topic, bytes in all), and, with the
//! `drop_oldest` policy, making room for a write at a cap.
//!
//! Its passes scan directories and delete files, which can be slow (a full
//! or busy disk): they run on their own thread, so that they never delay the
//! flush thread's syncs. The flush thread wakes it about once a second (its
//! timed housekeeping), and a write blocked at a cap (`full_policy: block`)
//! wakes it and waits for the end of a pass. Passes and `drop_oldest` never
//! overlap (one lock), so two deleters in this process never note the same
//! range twice. Deleting goes through [`crate::segment::remove`], with the
//! topic lock held only for the checks, never for the I/O.
//!
//! The thread is started by `Writer::open` and stopped and joined by
//! `close` (and the last clone's drop) before anything is sealed or synced
//! for the last time; a poisoned writer stops it at once (no deletion after
//! a failure).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::shared::Shared;
use super::topic::Topic;
use crate::error::{IoContext, Result};
use crate::format::naming::data_file_name;
use crate::segment::budget::disk_bytes;
use crate::segment::read_header;
use crate::segment::recovery::list_segments;

/// Requests to the retention thread, and the ends of its passes.
#[derive(Default)]
pub(crate) struct RetentionCtl {
    state: Mutex<CtlState>,
    /// The thread waits here for a request.
    work: Condvar,
    /// Rung at the end of every pass (and at shutdown): a write blocked at
    /// a cap tries again.
    passed: Condvar,
    /// Held by a pass and by `drop_oldest`: one deleter at a time.
    deleting: Mutex<()>,
}

#[derive(Default)]
struct CtlState {
    due: bool,
    shutdown: bool,
    passes: u64,
}

impl RetentionCtl {
    /// Asks for a pass soon.
    pub(crate) fn wake(&self) {
        let mut s = self.state.lock();
        s.due = true;
        self.work.notify_one();
    }

    /// Asks for a pass and waits `timeout`, or less: until a pass ends
    /// with `freed()` true (or the thread stops).
    pub(crate) fn wake_and_wait(&self, timeout: Duration, freed: impl Fn() -> bool) {
        let mut s = self.state.lock();
        s.due = true;
        self.work.notify_one();
        let deadline = std::time::Instant::now() + timeout;
        let mut seen = s.passes;
        while !s.shutdown {
            if self.passed.wait_until(&mut s, deadline).timed_out() {
                break;
            }
            if s.passes != seen {
                if freed() {
                    break;
                }
                seen = s.passes;
            }
        }
    }

    /// Tells the thread to exit after the pass it is in, if any.
    pub(crate) fn shutdown(&self) {
        let mut s = self.state.lock();
        s.shutdown = true;
        self.work.notify_one();
        self.passed.notify_all();
    }
}

/// Body of the `logstream-retention` thread.
pub(crate) fn run(shared: Arc<Shared>) {
    let ctl = &shared.retention;
    loop {
        {
            let mut s = ctl.state.lock();
            while !s.due && !s.shutdown {
                ctl.work.wait(&mut s);
            }
            if s.shutdown {
                return;
            }
            s.due = false;
        }
        if shared.is_poisoned() {
            return;
        }
        pass(&shared);
        let mut s = ctl.state.lock();
        s.passes += 1;
        ctl.passed.notify_all();
    }
}

/// One retention pass: disk measurement (with caps or retention limits),
/// the retention limits, the emergency reserve's refill. What fails is
/// logged and retried on the next pass.
pub(crate) fn pass(shared: &Shared) {
    let _one = shared.retention.deleting.lock();
    if shared.is_poisoned() {
        return;
    }
    let caps = shared.cfg.max_disk_bytes().is_some() || shared.cfg.max_topic_bytes().is_some();
    if caps && let Err(e) = remeasure(shared) {
        log::warn!("measuring the log's disk use failed: {e}");
    }
    if let Err(e) = apply_limits(shared) {
        log::warn!("applying retention limits failed (will retry): {e}");
    }
    // Space came back after a full disk took slices of the reserve.
    crate::storage::reserve::refill(&shared.layout.base);
}

/// Bytes the files of a topic directory occupy.
pub(crate) fn topic_disk_bytes(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.filter_map(|e| e.ok()?.metadata().ok()).filter(|m| m.is_file()).map(|m| disk_bytes(&m)).sum()
}

/// Counts again what every topic occupies (readers, maybe in other
/// processes, delete the segments they finished).
pub(crate) fn remeasure(shared: &Shared) -> Result<()> {
    let topics: Vec<Arc<Topic>> = shared.topics.read().values().cloned().collect();
    let mut total = 0;
    for t in topics {
        let used = topic_disk_bytes(&t.dir);
        t.usage.store(used, Ordering::Release);
        total += used;
    }
    shared.budget.used.store(total, Ordering::Release);
    Ok(())
}

/// Deletes the oldest sealed segment (of `only`, or of any topic), never the
/// newest segment of a topic. False if there is none to delete. Readers of
/// groups that had not read it report the gap when they reach it.
pub(crate) fn drop_oldest(shared: &Shared, only: Option<&Topic>, why: &str) -> Result<bool> {
    let _one = shared.retention.deleting.lock();
    drop_one(shared, only, why)
}

/// [`drop_oldest`], for a caller that holds `deleting`.
fn drop_one(shared: &Shared, only: Option<&Topic>, why: &str) -> Result<bool> {
    let topics: Vec<Arc<Topic>> = match only {
        Some(t) => shared.topics.read().get(&*t.name).cloned().into_iter().collect(),
        None => super::topic::in_pass_order(&shared.layout.base, shared.topics.read().values().cloned().collect()),
    };
    // The oldest candidate: the first segment of each topic with a later one
    // (every segment but a topic's newest is sealed: the writer sealed it
    // when it rolled, even if its final sync is still to come).
    let mut best: Option<(u64, Arc<Topic>, u64)> = None;
    for t in topics {
        let segs = list_segments(&t.dir)?;
        if segs.len() < 2 {
            continue;
        }
        let path = t.dir.join(data_file_name(segs[0]));
        let created = read_header(&path).map_or(0, |(h, _, _)| h.created);
        if best.as_ref().is_none_or(|b| created < b.0) {
            best = Some((created, t, segs[0]));
        }
    }
    let Some((_, t, base)) = best else { return Ok(false) };
    // Checked under the topic's lock: the topic may have been deleted since
    // it was listed, and its newest segment is never the one to go. The
    // lock is not held for the I/O (a slow disk would stall the topic's
    // writers and the flush thread's pass): the segment, sealed and not the
    // newest, cannot change under its name meanwhile, and a deletion of the
    // topic meanwhile makes the removal find nothing.
    {
        let st = t.state.lock();
        if st.deleted {
            return Ok(true); // its space is freed already: measure again
        }
        if st.last_segment.is_some_and(|last| last <= base) {
            return Ok(false);
        }
    }
    if shared.is_poisoned() {
        return Ok(false);
    }
    let next = list_segments(&t.dir)?.into_iter().find(|&b| b > base).unwrap_or(base);
    let data = t.dir.join(data_file_name(base));
    if !data.exists() {
        return Ok(true); // a group's retention came first: measure again
    }
    // Note the range first: a group that had not read it must hear of it.
    note_dropped(&t.dir, base, next)?;
    // A group's retention (maybe in another process) may have come first.
    let Some(freed) = crate::segment::remove::remove(&t.dir, base)? else { return Ok(true) };
    log::warn!(
        "{why}: deleted {} (records {base}..{next} of topic {:?}); groups that had not read them will report the gap",
        data.display(),
        t.name
    );
    let account = shared.account(&t);
    account.credit(freed);
    shared.stats.segments_dropped.fetch_add(1, Ordering::Relaxed);
    Ok(true)
}

/// Deletes the oldest sealed segments beyond the retention limits
/// (`retention_max_age_ms`, `retention_max_bytes`,
/// `retention_max_total_bytes`), consumed or not; each deletion is noted in
/// the topic's `DROPPED` file so groups that had not read it report the gap.
fn apply_limits(shared: &Shared) -> Result<()> {
    let cfg = &shared.cfg;
    if cfg.retention_max_age().is_none()
        && cfg.retention_max_bytes().is_none()
        && cfg.retention_max_total_bytes().is_none()
    {
        return Ok(());
    }
    remeasure(shared)?;
    let topics: Vec<Arc<Topic>> =
        super::topic::in_pass_order(&shared.layout.base, shared.topics.read().values().cloned().collect());
    if let Some(age) = cfg.retention_max_age() {
        let cutoff = crate::storage::file::now_ns().saturating_sub(age.as_nanos() as u64);
        for t in &topics {
            loop {
                let segs = list_segments(&t.dir)?;
                let [first, _, ..] = segs[..] else { break };
                // Its newest record is the last record before the next segment.
                let newest = match read_header(&t.dir.join(data_file_name(first))) {
                    Ok((_, Some(w), _)) if w.is_sealed() => w.last_time,
                    _ => break,
                };
                if newest == 0 || newest >= cutoff || !drop_one(shared, Some(t), "retention_max_age_ms")? {
                    break;
                }
            }
        }
    }
    if let Some(max) = cfg.retention_max_bytes() {
        for t in &topics {
            while t.usage.load(Ordering::Acquire) > max && drop_one(shared, Some(t), "retention_max_bytes")? {}
        }
    }
    if let Some(max) = cfg.retention_max_total_bytes() {
        while shared.budget.used.load(Ordering::Acquire) > max && drop_one(shared, None, "retention_max_total_bytes")? {
        }
    }
    Ok(())
}

/// Appends a deleted range to the topic's `DROPPED` file, durably.
pub(crate) fn note_dropped(dir: &std::path::Path, from: u64, to: u64) -> Result<()> {
    use crate::format::dropped::{Dropped, FILE, line};
    use std::io::Write;
    let path = dir.join(FILE);
    let d = Dropped { from, to, time: crate::storage::file::now_ns() };
    let text = line(&d);
    // Retention frees space, so it must work on a full disk: a slice of the
    // reserve pays for the line. A torn append is cut before trying again,
    // so the line is never glued to a fragment.
    let base = dir.parent().and_then(std::path::Path::parent).unwrap_or(dir);
    let created = !path.exists();
    crate::storage::reserve::with_reserve(base, text.len() as u64, || {
        let mut f = crate::storage::file::open_append(&path).ctx("open", &path)?;
        let len = f.metadata().ctx("stat", &path)?.len();
        let r = f.write_all(text.as_bytes()).ctx("append to", &path);
        if r.is_err() {
            let _ = f.set_len(len);
        }
        r?;
        crate::storage::file::sync_file(&f, &path).ctx("sync", &path)
    })?;
    // The note must outlive the deletion it announces: a new file's name is
    // durable only once its directory is synced (the removal that follows
    // could otherwise reach the disk first).
    if created {
        crate::storage::file::sync_dir(dir).ctx("sync topic directory", dir)?;
    }
    Ok(())
}
