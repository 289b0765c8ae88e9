//! The pool's scheduler: which topic runs next. It owns every topic's slot
//! (state, ownership, position in memory, pending retry), the ready queue,
//! the retry deadlines and the in-flight budget (`mem_max_size`), and
//! decides from them alone: no threads, no I/O, no clock reads (callers
//! pass `now`). It lives behind `Core::sched`; waking the workers, counting
//! and logging what it decided are the callers' part.
//!
//! A topic's states: `Idle` (caught up, or not owned) → `Queued` (in the
//! ready queue) → `Busy` (a worker or the ckpt thread holds it) → back to
//! `Idle` or `Queued`, or to `Retry` (its batch failed or waits for memory;
//! queued again at its deadline).

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::format::checkpoint::Kind;
use crate::reader::batch::Batch;
use crate::reader::cursor::Cursor;
use crate::reader::policy::RetryPolicy;
use crate::segment::read::ReadSegment;

/// The batch a topic's closure holds now.
pub(super) struct InClosure {
    pub(super) since: Instant,
    pub(super) first: u64,
    pub(super) last: u64,
    /// The batch's flag, set when the topic is taken away meanwhile.
    pub(super) revoked: Arc<AtomicBool>,
    /// The batch itself: what its closure confirmed so far is persisted at
    /// the checkpoint interval, before the closure returns.
    pub(super) batch: Arc<Batch>,
}

/// Confirmed records of one segment: (segment, end offset, next seq).
pub(super) type Span = (Arc<ReadSegment>, u64, u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TState {
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
pub(super) struct Retry {
    pub(super) batch: Arc<Batch>,
}

/// What a worker takes to run: the topic, its cursor (none if the topic
/// was given up meanwhile) and its pending retry.
pub(super) type Job = (Arc<str>, Option<Cursor>, Option<Retry>);

pub(super) struct TopicSlot {
    pub(super) name: Arc<str>,
    pub(super) cursor: Option<Cursor>,
    pub(super) state: TState,
    pub(super) retry: Option<Retry>,
    pub(super) attempts: u32,
    /// What the closure said of the last failed attempt (cleared by a
    /// success); published in the member file for operators.
    pub(super) last_error: Option<Arc<str>>,
    /// Next sequence number to deliver, as confirmed in memory.
    pub(super) confirmed: u64,
    /// As persisted.
    pub(super) persisted: u64,
    /// Confirmed spans whose durability is not yet checked.
    pub(super) spans: Vec<Span>,
    pub(super) allowed: bool,
    /// Rung while a worker held it: look again before going idle.
    pub(super) rung: bool,
    /// This member holds the topic's owner lock.
    pub(super) owned: bool,
    /// To be given up once no batch is in flight.
    pub(super) releasing: bool,
    /// A move asked for (operator reset, or the closure's seek), applied
    /// once no batch is in flight.
    pub(super) moving: Option<Move>,
    /// The position moved (possibly backwards) since it was last persisted,
    /// or was chosen by `StartFrom`: persist it even if it equals `persisted`.
    pub(super) dirty: Option<Kind>,
    /// The batch in the closure, if one is.
    pub(super) in_closure: Option<InClosure>,
    /// The closure has held its batch longer than `max_forward_ms`.
    pub(super) stuck: bool,
}

/// How a delivered batch ended, as `finish` acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
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

impl Outcome {
    /// The topic goes on past the batch (else its unconfirmed rest is
    /// delivered again).
    fn moves_on(self) -> bool {
        self != Outcome::Failed
    }
}

/// What `Sched::finish` made of a batch's outcome, for the caller to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Finished {
    /// The topic is no longer known.
    Gone,
    /// The topic was taken away while the closure held the batch: its
    /// outcome was ignored.
    Revoked,
    /// The topic is to be given up or moved, now that no batch is in
    /// flight: the ckpt thread's turn.
    Settle,
    /// The topic goes on (`retried`: its failed rest waits for a deadline).
    Next { retried: bool },
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

pub(super) struct Sched {
    pub(super) topics: HashMap<Arc<str>, TopicSlot>,
    pub(super) buckets: HashMap<usize, Vec<Arc<str>>>,
    pub(super) ready: VecDeque<Arc<str>>,
    pub(super) retries: BinaryHeap<std::cmp::Reverse<(Instant, Arc<str>)>>,
    pub(super) in_flight_bytes: u64,
    pub(super) in_flight: usize,
    pub(super) workers: usize,
    pub(super) idle: usize,
    pub(super) waiter: bool,
    pub(super) stopping: bool,
    pub(super) last_poll: Instant,
}

impl Sched {
    pub(super) fn new(now: Instant) -> Sched {
        Sched {
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
            last_poll: now,
        }
    }

    /// Adds a topic not known yet, idle and not owned; false if known.
    pub(super) fn add(&mut self, name: &str, bucket: usize, allowed: bool) -> bool {
        if self.topics.contains_key(name) {
            return false;
        }
        let key: Arc<str> = name.into();
        self.buckets.entry(bucket).or_default().push(key.clone());
        self.topics.insert(
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
        true
    }

    /// Applies new black/white lists: idle owned topics they newly let
    /// through are queued.
    pub(super) fn allow(&mut self, allows: impl Fn(&str) -> bool) {
        let mut newly = Vec::new();
        for slot in self.topics.values_mut() {
            let allowed = allows(&slot.name);
            if allowed && !slot.allowed && slot.state == TState::Idle && slot.owned && !slot.releasing {
                slot.state = TState::Queued;
                newly.push(slot.name.clone());
            }
            slot.allowed = allowed;
        }
        self.ready.extend(newly);
    }

    /// Marks every topic, or those of the rung `buckets`, as ready: idle
    /// owned ones are queued, busy ones marked to look again.
    pub(super) fn ring(&mut self, all: bool, buckets: &[usize]) {
        let Sched { topics, buckets: by_bucket, ready, .. } = self;
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
                if let Some(names) = by_bucket.get(b) {
                    for n in names.clone() {
                        queue(&n, topics);
                    }
                }
            }
        }
    }

    /// Queues the topics whose retry is due at `now`; returns the next
    /// deadline not yet due.
    pub(super) fn promote_retries(&mut self, now: Instant) -> Option<Instant> {
        while let Some(std::cmp::Reverse((due, _))) = self.retries.peek() {
            if *due > now {
                return Some(*due);
            }
            let Some(std::cmp::Reverse((_, name))) = self.retries.pop() else { break };
            if let Some(t) = self.topics.get_mut(&name)
                && t.state == TState::Retry
            {
                t.state = TState::Queued;
                self.ready.push_back(name);
            }
        }
        None
    }

    /// Takes the next ready topic that may run now (allowed, owned, not
    /// being given up); the others are dropped from the queue, idle.
    pub(super) fn pop_ready(&mut self) -> Option<Job> {
        let n = self.ready.len();
        for _ in 0..n {
            let name = self.ready.pop_front()?;
            let Some(t) = self.topics.get_mut(&name) else { continue };
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

    /// Whether a batch of `bytes` may go to its closure now: the bytes in
    /// flight stay within `max`, unless nothing is in flight.
    pub(super) fn fits(&self, bytes: u64, max: u64) -> bool {
        self.in_flight == 0 || self.in_flight_bytes + bytes <= max
    }

    /// Puts a held topic's batch back, to be tried again at `due`.
    pub(super) fn defer(&mut self, name: Arc<str>, cursor: Cursor, batch: Arc<Batch>, due: Instant) {
        if let Some(t) = self.topics.get_mut(&name) {
            t.cursor = Some(cursor);
            t.retry = Some(Retry { batch });
            t.state = TState::Retry;
        }
        self.retries.push(std::cmp::Reverse((due, name)));
    }

    /// Counts a held topic's batch as in its closure from `now`.
    pub(super) fn hand_over(&mut self, name: &str, batch: &Arc<Batch>, now: Instant) {
        self.in_flight += 1;
        self.in_flight_bytes += batch.bytes;
        if let Some(t) = self.topics.get_mut(name) {
            t.in_closure = Some(InClosure {
                since: now,
                first: batch.first_seq(),
                last: batch.last_seq(),
                revoked: batch.revoked.clone(),
                batch: batch.clone(),
            });
        }
    }

    /// Lets go of a held topic (no batch went to its closure) in `state`;
    /// one rung meanwhile is queued rather than left idle.
    pub(super) fn release(&mut self, name: &Arc<str>, cursor: Option<Cursor>, state: TState) {
        if let Some(t) = self.topics.get_mut(name) {
            if cursor.is_some() {
                t.cursor = cursor;
            }
            // A ring that arrived while we held the topic may be for a frame
            // published after our last look: look again rather than sleep.
            let state = if state == TState::Idle && std::mem::take(&mut t.rung) { TState::Queued } else { state };
            t.state = state;
            if state == TState::Queued {
                self.ready.push_back(name.clone());
            }
        }
    }

    /// Records the outcome of a batch that left its closure: the topic now
    /// stands at `done`. `rest` makes the next attempt of a failed batch
    /// (`None`: nothing left to deliver); a failure is retried at `now`
    /// plus the policy's backoff. With `persist_now` a topic that goes on
    /// stays held (`Busy`) for the caller to persist and queue it.
    #[expect(clippy::too_many_arguments, reason = "one call, in deliver.rs")]
    pub(super) fn finish(
        &mut self,
        name: &Arc<str>,
        cursor: Cursor,
        batch: &Batch,
        done: u64,
        outcome: Outcome,
        persist_now: bool,
        rest: impl FnOnce() -> Option<Batch>,
        retry: &RetryPolicy,
        now: Instant,
    ) -> Finished {
        self.in_flight -= 1;
        self.in_flight_bytes -= batch.bytes;
        let Some(t) = self.topics.get_mut(name) else { return Finished::Gone };
        t.in_closure = None;
        t.stuck = false;
        if !t.owned {
            // Taken away while the closure held the batch: its outcome is
            // ignored (the new owner delivers these records again).
            t.state = TState::Idle;
            t.cursor = None;
            t.retry = None;
            t.spans.clear();
            return Finished::Revoked;
        }
        if outcome == Outcome::Sought {
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
            t.state = TState::Idle;
            if !outcome.moves_on() {
                t.retry = rest().map(|b| Retry { batch: Arc::new(b) });
            }
            return Finished::Settle;
        }
        if outcome.moves_on() {
            t.attempts = 0;
            t.last_error = None;
            t.state = if persist_now { TState::Busy } else { TState::Queued };
            if !persist_now {
                self.ready.push_back(name.clone());
            }
            return Finished::Next { retried: false };
        }
        t.attempts += 1;
        let due = now + retry.backoff(t.attempts);
        match rest() {
            Some(b) => {
                t.retry = Some(Retry { batch: Arc::new(b) });
                t.state = TState::Retry;
                self.retries.push(std::cmp::Reverse((due, name.clone())));
            }
            None => {
                t.state = TState::Queued;
                self.ready.push_back(name.clone());
            }
        }
        Finished::Next { retried: true }
    }

    /// Queues a topic held for persisting after its batch (see `finish`).
    pub(super) fn persisted_after_finish(&mut self, name: &Arc<str>) {
        if let Some(t) = self.topics.get_mut(name)
            && t.state == TState::Busy
        {
            t.state = TState::Queued;
            self.ready.push_back(name.clone());
        }
    }

    /// Topics whose lease another member took over: no longer delivered
    /// here; a batch still in its closure is revoked (its outcome ignored
    /// when it returns). Returns those that were owned until now.
    pub(super) fn lose(&mut self, topics: &[String]) -> Vec<Arc<str>> {
        let mut lost = Vec::new();
        for n in topics {
            let Some(t) = self.topics.get_mut(n.as_str()) else { continue };
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
        }
        lost
    }

    /// (topic, confirmed, persisted) of the topics this member owns, by name.
    pub(super) fn owned_positions(&self) -> Vec<(String, u64, u64)> {
        let mut v: Vec<_> =
            self.topics.values().filter(|t| t.owned).map(|t| (t.name.to_string(), t.confirmed, t.persisted)).collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A scheduler with the named topics, each owned, allowed and idle.
    fn owning(names: &[&str]) -> Sched {
        let mut s = Sched::new(Instant::now());
        for (i, n) in names.iter().enumerate() {
            assert!(s.add(n, i, true));
            s.topics.get_mut(*n).unwrap().owned = true;
        }
        s
    }

    fn popped(s: &mut Sched) -> Option<String> {
        s.pop_ready().map(|(n, _, _)| n.to_string())
    }

    #[test]
    fn a_topic_added_twice_is_added_once() {
        let mut s = owning(&["a"]);
        assert!(!s.add("a", 0, true));
        assert_eq!(s.topics.len(), 1);
        assert_eq!(s.buckets[&0].len(), 1);
    }

    #[test]
    fn a_rung_bucket_queues_only_its_owned_idle_topics() {
        let mut s = owning(&["a", "b"]);
        s.add("c", 0, true); // same bucket as "a", not owned
        s.ring(false, &[0]);
        assert_eq!(popped(&mut s).as_deref(), Some("a"));
        assert_eq!(popped(&mut s), None);
    }

    #[test]
    fn a_poll_queues_every_owned_topic_once() {
        let mut s = owning(&["a", "b"]);
        s.ring(true, &[]);
        s.ring(true, &[]);
        let mut got = vec![popped(&mut s).unwrap(), popped(&mut s).unwrap()];
        got.sort();
        assert_eq!(got, ["a", "b"]);
        assert_eq!(popped(&mut s), None);
    }

    #[test]
    fn a_held_topic_is_never_handed_to_a_second_worker() {
        let mut s = owning(&["a"]);
        s.ring(true, &[]);
        assert_eq!(popped(&mut s).as_deref(), Some("a"));
        s.ring(true, &[]);
        assert_eq!(popped(&mut s), None, "busy: rung, not queued");
        assert!(s.topics["a"].rung);
    }

    #[test]
    fn a_topic_rung_while_held_is_looked_at_again_rather_than_left_idle() {
        let mut s = owning(&["a"]);
        s.ring(true, &[]);
        let (name, cursor, _) = s.pop_ready().unwrap();
        s.ring(false, &[0]);
        s.release(&name, cursor, TState::Idle);
        assert_eq!(s.topics["a"].state, TState::Queued);
        assert_eq!(popped(&mut s).as_deref(), Some("a"));
        s.release(&name, None, TState::Idle);
        assert_eq!(s.topics["a"].state, TState::Idle, "no ring meanwhile: idle");
    }

    #[test]
    fn topics_not_owned_not_allowed_or_being_given_up_do_not_run() {
        let mut s = owning(&["a", "b", "c"]);
        s.ring(true, &[]);
        s.topics.get_mut("a").unwrap().owned = false;
        s.topics.get_mut("b").unwrap().allowed = false;
        s.topics.get_mut("c").unwrap().releasing = true;
        assert_eq!(popped(&mut s), None);
        assert!(s.topics.values().all(|t| t.state == TState::Idle));
    }

    #[test]
    fn a_topic_the_lists_newly_allow_is_queued_and_one_they_drop_does_not_run() {
        let mut s = owning(&["a", "b"]);
        s.allow(|n| n == "b");
        s.ring(true, &[]);
        assert_eq!(popped(&mut s).as_deref(), Some("b"));
        assert_eq!(popped(&mut s), None);
        s.allow(|_| true);
        assert_eq!(popped(&mut s).as_deref(), Some("a"));
    }

    #[test]
    fn retries_are_queued_at_their_deadline_earliest_first() {
        let mut s = owning(&["a", "b"]);
        let t0 = Instant::now();
        for (n, after) in [("a", 20), ("b", 10)] {
            s.topics.get_mut(n).unwrap().state = TState::Retry;
            s.retries.push(std::cmp::Reverse((t0 + Duration::from_millis(after), n.into())));
        }
        assert_eq!(s.promote_retries(t0), Some(t0 + Duration::from_millis(10)));
        assert_eq!(popped(&mut s), None);
        assert_eq!(s.promote_retries(t0 + Duration::from_millis(15)), Some(t0 + Duration::from_millis(20)));
        assert_eq!(popped(&mut s).as_deref(), Some("b"));
        assert_eq!(s.promote_retries(t0 + Duration::from_millis(20)), None);
        assert_eq!(popped(&mut s).as_deref(), Some("a"));
    }

    #[test]
    fn a_retry_deadline_of_a_topic_no_longer_retrying_is_dropped() {
        let mut s = owning(&["a"]);
        let t0 = Instant::now();
        s.retries.push(std::cmp::Reverse((t0, "a".into())));
        assert_eq!(s.promote_retries(t0), None);
        assert_eq!(popped(&mut s), None);
        assert!(s.retries.is_empty());
    }

    #[test]
    fn a_batch_over_the_memory_limit_waits_unless_nothing_is_in_flight() {
        let mut s = owning(&[]);
        assert!(s.fits(1000, 10), "nothing in flight: any batch goes");
        s.in_flight = 1;
        s.in_flight_bytes = 6;
        assert!(s.fits(4, 10));
        assert!(!s.fits(5, 10));
    }

    #[test]
    fn a_lost_topic_stops_running_and_is_reported_once() {
        let mut s = owning(&["a", "b"]);
        s.ring(true, &[]);
        let lost = s.lose(&["a".to_owned(), "x".to_owned()]);
        assert_eq!(lost, [Arc::<str>::from("a")]);
        assert!(s.lose(&["a".to_owned()]).is_empty());
        assert_eq!(popped(&mut s).as_deref(), Some("b"));
        assert_eq!(popped(&mut s), None);
        assert_eq!(s.owned_positions(), [("b".to_owned(), 0, 0)]);
    }

    #[test]
    fn a_held_topic_that_is_lost_stays_held_until_its_worker_returns() {
        let mut s = owning(&["a"]);
        s.ring(true, &[]);
        popped(&mut s);
        s.lose(&["a".to_owned()]);
        assert_eq!(s.topics["a"].state, TState::Busy);
        assert!(!s.topics["a"].owned);
    }
}
