//! Delivery: the `logstream-fwd-N` workers. A worker takes the next ready
//! topic from the scheduler, cuts a batch from its cursor (or takes its
//! pending retry), waits for memory within `mem_max_size`, runs the user's
//! closure, turns what it returned into an [`Outcome`] (confirmed, sought,
//! dead-lettered, failed) and hands that back to the scheduler.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::sched::{Finished, Outcome, Retry, Sched, TState};
use super::{Core, NotDelivered};
use crate::error::{Error, Result};
use crate::reader::batch::Batch;
use crate::reader::cursor::{Corruption, Cursor, Fill};

impl Core {
    pub(super) fn spawn_worker(self: &Arc<Core>, s: &mut Sched) -> Result<()> {
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

    /// Marks the topics in dirty buckets, or all idle ones on a poll, as ready.
    pub(super) fn collect_ready(&self, s: &mut Sched, all: bool) {
        let mut buckets = Vec::new();
        self.wake.take_dirty(&mut buckets);
        s.ring(all, &buckets);
    }

    pub(super) fn worker_loop(self: Arc<Core>) {
        loop {
            let job = {
                let mut s = self.sched.lock();
                loop {
                    if s.stopping {
                        s.workers -= 1;
                        self.cv.notify_all();
                        return;
                    }
                    let next_retry = s.promote_retries(Instant::now());
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
                    if let Some(job) = s.pop_ready() {
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

    pub(super) fn report(&self, events: &mut Vec<Corruption>) {
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
    pub(super) fn run_job(&self, name: Arc<str>, cursor: Option<Cursor>, retry: Option<Retry>) {
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
            if unchecked || !s.fits(batch.bytes, self.cfg.mem_max_size()) {
                // Re-queued when a batch finishes (see `finish`), or when
                // the leases were checked (`heartbeat` wakes the workers).
                s.defer(name, cursor, batch, Instant::now() + Duration::from_millis(1));
                drop(s);
                if unchecked {
                    self.request_heartbeat();
                }
                return;
            }
            s.hand_over(&name, &batch, Instant::now());
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
        } else if !undelivered && !batch.is_revoked() && self.retry.max_attempts.is_some_and(|max| batch.attempt >= max)
        {
            // Out of attempts: the failing records become dead letters and
            // the topic moves on (only once they are durably stored). Not
            // those of a batch taken away meanwhile: its outcome is ignored
            // (see `finish`) and the topic's new owner delivers them.
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
    pub(super) fn dead_letter(&self, batch: &Batch, from: u64, error: &str) -> Result<u64> {
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
        crate::reader::dead::append(&self.layout.group(&self.group), &batch.topic, &letters)?;
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
    pub(super) fn fill(&self, cursor: &mut Cursor, events: &mut Vec<Corruption>) -> Result<Option<Batch>> {
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
    pub(super) fn adopt_clamps(&self, name: &Arc<str>, events: &[Corruption]) {
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

    pub(super) fn release(&self, name: &Arc<str>, cursor: Option<Cursor>, state: TState) {
        self.sched.lock().release(name, cursor, state);
    }

    /// Records a delivered batch's outcome: the topic's new position
    /// (`done`, where it goes on from), and what runs next for it.
    pub(super) fn finish(&self, name: &Arc<str>, cursor: Cursor, batch: &Batch, done: u64, outcome: Outcome) {
        let persist_now =
            self.cfg.checkpoint_interval().is_zero() && (done > batch.first_seq || outcome == Outcome::Sought);
        let mut s = self.sched.lock();
        let rest = || retry_batch(batch, done);
        match s.finish(name, cursor, batch, done, outcome, persist_now, rest, &self.retry, Instant::now()) {
            Finished::Gone => return,
            Finished::Revoked => {
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
            Finished::Settle => {
                // The ckpt thread gives the topic up or moves it, now that
                // no batch is in flight.
                self.cv.notify_one();
                drop(s);
                self.request_balance();
                return;
            }
            Finished::Next { retried } => {
                if retried {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
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
            self.sched.lock().persisted_after_finish(name);
        }
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
