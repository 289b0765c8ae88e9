//! Checkpoint persistence and the `logstream-ckpt` thread. A position is
//! persisted only after the records it counts are durable in the data file,
//! and only while this member holds the topic's lease: a refused one makes
//! the topic lost here. The same thread keeps this member's heartbeat (and,
//! after the member itself went stale, checks which leases others took),
//! runs the balancing ticks (`balance.rs`) and the retention passes
//! (`retention.rs`), and publishes the stats.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Core;
use super::sched::Span;
use crate::error::Result;
use crate::format::checkpoint::Kind;
use crate::group::members::{is_stale, mono_ns};
use crate::reader::batch::Batch;

impl Core {
    /// Asks the ckpt thread to balance now rather than at its next tick.
    pub(crate) fn request_balance(&self) {
        self.balance_soon.store(true, Ordering::Release);
        let _g = self.ckpt_lock.lock();
        self.ckpt_cv.notify_all();
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
    pub(super) fn lose(&self, topics: &[String]) {
        if topics.is_empty() {
            return;
        }
        let mut s = self.sched.lock();
        let mut lost = self.lost.lock();
        for n in s.lose(topics) {
            self.counters.topics_lost.fetch_add(1, Ordering::Relaxed);
            log::warn!(
                "group {:?}: topic {n:?} was taken over by another member (this one went without a heartbeat for longer than member_timeout_ms); positions confirmed here since its last persist are dropped and those records delivered again",
                self.group
            );
            lost.push(n);
        }
        drop(lost);
        drop(s);
        self.request_balance();
    }

    /// True when this member went longer than `member_timeout_ms` without
    /// a heartbeat and the ckpt thread has not yet checked its leases since.
    pub(super) fn leases_unchecked(&self) -> bool {
        let last = self.last_beat.load(Ordering::Acquire).max(self.leases_checked.load(Ordering::Acquire));
        let since = mono_ns().saturating_sub(last);
        is_stale(Some(since), self.cfg.member_timeout())
    }

    /// Asks the ckpt thread to beat (and check its leases) now.
    pub(super) fn request_heartbeat(&self) {
        self.beat_soon.store(true, Ordering::Release);
        let _g = self.ckpt_lock.lock();
        self.ckpt_cv.notify_all();
    }

    /// Refreshes the heartbeat when due. If this member itself went longer
    /// than `member_timeout_ms` without one (it was frozen or starved),
    /// others may have taken its topics over: it checks its leases first.
    pub(super) fn heartbeat(&self, every: Duration) {
        let last = self.last_beat.load(Ordering::Acquire);
        let since = mono_ns().saturating_sub(last);
        if u128::from(since) < every.as_nanos() {
            return;
        }
        if is_stale(Some(since), self.cfg.member_timeout()) {
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
            self.leases_checked.store(mono_ns(), Ordering::Release);
        }
        let now = mono_ns();
        match self.members.lock().beat() {
            Ok(()) => self.last_beat.store(now, Ordering::Release),
            Err(e) => log::warn!("group {:?}: {e}", self.group),
        }
    }

    pub(super) fn checkpoint_loop(self: Arc<Core>) {
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
                self.publish_stats();
            }
        }
    }
}
