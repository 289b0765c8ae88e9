//! The pool's scheduler: which topic runs next. It owns every topic's slot
//! (state, ownership, position in memory, pending retry or move), the ready
//! queue, the retry deadlines and the in-flight budget (`mem_max_size`),
//! and decides from them alone: no threads, no I/O, no clock reads (callers
//! pass `now`). It lives behind `Core::sched`; waking the workers, counting,
//! logging and the group's files (which topics to take or give up is
//! `balance.rs`'s call) are the callers' part. One concept, so one file
//! even past 600 lines (a quarter of them its tests).
//!
//! A topic's states: `Idle` (caught up, or not owned) → `Queued` (in the
//! ready queue) → `Busy` (a worker or the ckpt thread holds it) → back to
//! `Idle` or `Queued`, or to `Retry` (its batch failed or waits for memory;
//! queued again at its deadline). Ownership: `own` (a lease claimed) →
//! `mark_releasing` → `take_settling` + `give_up` once no batch is in
//! flight; or `lose` (another member took the lease) and `find_stuck` (a
//! closure held its batch past `max_forward_ms`), which take the topic away
//! at once and revoke the batch in flight.

use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::format::checkpoint::Kind;
use crate::reader::ReaderPosition;
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

/// What balancing weighs of this member's topics (see `Sched::holdings`).
pub(super) struct Holdings {
    pub(super) consumed: Vec<String>,
    pub(super) mine: Vec<String>,
    pub(super) in_hand: HashSet<String>,
}

/// The topics to settle now: (those with a move pending and the move, those
/// to give up).
pub(super) type Settling = (Vec<(Arc<str>, Move)>, Vec<Arc<str>>);

/// What `Sched::find_stuck` found.
#[derive(Default)]
pub(super) struct Stuck {
    /// Newly found: (topic, first seq, last seq of its batch, held for how long).
    pub(super) found: Vec<(Arc<str>, u64, u64, Duration)>,
    /// Every topic whose closure is stuck now.
    pub(super) stuck: Vec<String>,
    /// The topics taken away.
    pub(super) revoked: Vec<Arc<str>>,
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

    /// What balancing weighs: the topics the lists let through, those owned
    /// and not being given up, and those taken away with a batch still in
    /// this member's closure (not ours to take again before it returns).
    pub(super) fn holdings(&self) -> Holdings {
        let t = || self.topics.values();
        Holdings {
            consumed: t().filter(|t| t.allowed).map(|t| t.name.to_string()).collect(),
            mine: t().filter(|t| t.owned && !t.releasing).map(|t| t.name.to_string()).collect(),
            in_hand: t().filter(|t| !t.owned && t.state == TState::Busy).map(|t| t.name.to_string()).collect(),
        }
    }

    /// Marks topics to be given up once no batch of them is in flight.
    pub(super) fn mark_releasing(&mut self, names: &[String]) {
        for n in names {
            if let Some(t) = self.topics.get_mut(n.as_str()) {
                t.releasing = true;
            }
        }
    }

    /// Holds (`Busy`) the owned topics with no batch in flight that have a
    /// move pending or are to be given up, and returns them: (moves, releases).
    pub(super) fn take_settling(&mut self) -> Settling {
        let mut moves = Vec::new();
        let mut releases = Vec::new();
        for t in self.topics.values_mut() {
            if !t.owned || t.state == TState::Busy {
                continue;
            }
            if let Some(mv) = t.moving.take() {
                moves.push((t.name.clone(), mv));
                t.state = TState::Busy;
            } else if t.releasing {
                releases.push(t.name.clone());
                t.state = TState::Busy;
            }
        }
        (moves, releases)
    }

    /// Asks for a held topic's position to move (see `take_settling`);
    /// returns the request it supersedes.
    pub(super) fn request_move(&mut self, name: &str, mv: Move) -> Option<Move> {
        self.topics.get_mut(name).and_then(|t| t.moving.replace(mv))
    }

    /// Moves a held topic's position, to be persisted as `mv` says.
    pub(super) fn apply_move(&mut self, name: &Arc<str>, mv: &Move) {
        if let Some(t) = self.topics.get_mut(name) {
            if let Some(c) = t.cursor.as_mut() {
                c.reset(mv.to);
            }
            t.confirmed = mv.to;
            t.retry = None;
            t.attempts = 0;
            t.spans.clear();
            t.dirty = Some(if mv.reset { Kind::Reset } else { Kind::Position });
        }
    }

    /// Lets go of a held topic after its move: queued, unless it is being
    /// given up.
    pub(super) fn moved(&mut self, name: &Arc<str>) {
        if let Some(t) = self.topics.get_mut(name) {
            t.state = if t.releasing { TState::Idle } else { TState::Queued };
            if t.state == TState::Queued {
                self.ready.push_back(name.clone());
            }
        }
    }

    /// A held topic given up (`done`: its position persisted and its locks
    /// released) is no longer owned; one that could not be is queued again.
    pub(super) fn give_up(&mut self, name: &Arc<str>, done: bool) {
        if let Some(t) = self.topics.get_mut(name) {
            if done {
                t.owned = false;
                t.releasing = false;
                t.cursor = None;
                t.retry = None;
                t.attempts = 0;
                t.spans.clear();
                t.state = TState::Idle;
            } else {
                t.state = TState::Queued;
                self.ready.push_back(name.clone());
            }
        }
    }

    /// Per name, whether a worker holds the topic (a batch taken away from
    /// this member may still be in the closure).
    pub(super) fn held(&self, names: &[String]) -> Vec<bool> {
        names.iter().map(|n| self.topics.get(n.as_str()).is_some_and(|t| t.state == TState::Busy)).collect()
    }

    /// Owns a topic from `next` on (its lease just claimed) and queues it;
    /// false if the topic is not known.
    pub(super) fn own(&mut self, name: &str, cursor: Cursor, next: u64, dirty: Option<Kind>) -> bool {
        let Some(t) = self.topics.get_mut(name) else { return false };
        t.owned = true;
        t.releasing = false;
        t.cursor = Some(cursor);
        t.retry = None;
        t.attempts = 0;
        t.spans.clear();
        t.confirmed = next;
        t.persisted = next;
        t.dirty = dirty;
        t.state = TState::Queued;
        let key = t.name.clone();
        self.ready.push_back(key);
        true
    }

    /// Finds the closures that at `now` have held one batch for `max` or
    /// longer. With `peers` (another healthy member can take over) their
    /// owned topics are taken away here: the batch revoked, its outcome to
    /// be ignored.
    pub(super) fn find_stuck(&mut self, now: Instant, max: Duration, peers: bool) -> Stuck {
        let mut out = Stuck::default();
        for t in self.topics.values_mut() {
            let Some(f) = &t.in_closure else { continue };
            let held = now.saturating_duration_since(f.since);
            if held < max {
                continue;
            }
            if !t.stuck {
                t.stuck = true;
                out.found.push((t.name.clone(), f.first, f.last, held));
            }
            out.stuck.push(t.name.to_string());
            if t.owned && peers {
                f.revoked.store(true, Ordering::Release);
                t.owned = false;
                t.releasing = false;
                t.spans.clear();
                out.revoked.push(t.name.clone());
            }
        }
        out
    }

    /// The position in memory of a topic this member owns.
    pub(super) fn owned_confirmed(&self, name: &str) -> Option<u64> {
        self.topics.get(name).filter(|t| t.owned).map(|t| t.confirmed)
    }

    /// (topic, confirmed, persisted) of the topics this member owns, by name.
    pub(super) fn owned_positions(&self) -> Vec<ReaderPosition> {
        let mut v: Vec<_> = self
            .topics
            .values()
            .filter(|t| t.owned)
            .map(|t| ReaderPosition { topic: t.name.to_string(), confirmed: t.confirmed, persisted: t.persisted })
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(s.owned_positions(), [ReaderPosition { topic: "b".into(), confirmed: 0, persisted: 0 }]);
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

    /// A batch of one record of topic "a", read from a log in `dir`.
    fn one_batch(dir: &std::path::Path) -> Batch {
        let w = crate::writer::Writer::open(&crate::config::Config::new(dir)).unwrap();
        w.write("a", b"x").unwrap();
        let topic = crate::layout::Layout::new(dir).topic("a");
        let mut c = Cursor::new(&topic, "a", 0, false, 1);
        match c.fill(1 << 20, &mut Vec::new()).unwrap() {
            crate::reader::cursor::Fill::Batch(b) => b,
            _ => panic!("the record written is not there"),
        }
    }

    fn cursor(next: u64) -> Cursor {
        Cursor::new(std::path::Path::new("/nonexistent"), "t", next, false, 1)
    }

    #[test]
    fn a_topic_taken_runs_from_its_claimed_position() {
        let mut s = Sched::new(Instant::now());
        s.add("a", 0, true);
        assert!(!s.own("x", cursor(0), 0, None), "unknown topics are not owned");
        assert!(s.own("a", cursor(42), 42, Some(Kind::Position)));
        assert_eq!(s.owned_positions(), [ReaderPosition { topic: "a".into(), confirmed: 42, persisted: 42 }]);
        assert_eq!(s.owned_confirmed("a"), Some(42));
        let (_, c, _) = s.pop_ready().unwrap();
        assert!(c.is_some());
    }

    #[test]
    fn a_topic_marked_for_release_is_settled_only_once_no_batch_is_in_flight() {
        let mut s = owning(&["a", "b"]);
        s.ring(true, &[]);
        let (held, _, _) = s.pop_ready().unwrap();
        s.mark_releasing(&["a".to_owned(), "b".to_owned()]);
        let (moves, releases) = s.take_settling();
        assert!(moves.is_empty());
        assert_eq!(releases.len(), 1, "the held one waits");
        assert_ne!(releases[0], held);
        assert_eq!(s.topics[&releases[0]].state, TState::Busy, "held by the settler");
        s.give_up(&releases[0], true);
        assert!(!s.topics[&releases[0]].owned);
        assert!(s.topics[&held].owned, "the held one stays owned until it is settled");
        assert!(s.holdings().mine.is_empty(), "one being given up is no longer counted as mine");
    }

    #[test]
    fn a_topic_that_could_not_be_given_up_runs_again() {
        let mut s = owning(&["a"]);
        s.mark_releasing(&["a".to_owned()]);
        let (_, releases) = s.take_settling();
        s.give_up(&releases[0], false);
        assert!(s.topics["a"].owned);
        assert_eq!(s.topics["a"].state, TState::Queued);
    }

    #[test]
    fn a_move_replaces_an_earlier_one_and_is_persisted_as_a_reset() {
        let mut s = owning(&["a"]);
        s.topics.get_mut("a").unwrap().cursor = Some(cursor(0));
        let first = Move { to: 5, reset: true, request: Some("r1".into()) };
        assert!(s.request_move("a", first).is_none());
        let old = s.request_move("a", Move { to: 7, reset: true, request: None }).unwrap();
        assert_eq!(old.to, 5);
        let (moves, _) = s.take_settling();
        let (name, mv) = &moves[0];
        s.apply_move(name, mv);
        assert_eq!((s.topics["a"].confirmed, s.topics["a"].dirty), (7, Some(Kind::Reset)));
        s.moved(name);
        assert_eq!(popped(&mut s).as_deref(), Some("a"));
    }

    #[test]
    fn a_closure_held_past_the_limit_is_reported_once_and_its_topic_taken_away_only_with_peers() {
        let t0 = Instant::now();
        let max = Duration::from_millis(100);
        let dir = tempfile::tempdir().unwrap();
        let batch = Arc::new(one_batch(dir.path()));
        let mut s = owning(&["a"]);
        s.ring(true, &[]);
        s.pop_ready();
        s.hand_over("a", &batch, t0);
        assert!(s.find_stuck(t0 + max / 2, max, true).stuck.is_empty());
        let alone = s.find_stuck(t0 + max, max, false);
        assert_eq!((alone.found.len(), alone.stuck.len(), alone.revoked.len()), (1, 1, 0));
        assert!(s.topics["a"].owned);
        let with_peers = s.find_stuck(t0 + max * 2, max, true);
        assert_eq!((with_peers.found.len(), with_peers.stuck.len(), with_peers.revoked.len()), (0, 1, 1));
        assert!(!s.topics["a"].owned);
        assert!(batch.revoked.load(Ordering::Acquire));
        assert_eq!(s.holdings().in_hand, HashSet::from(["a".to_owned()]), "not ours to take again yet");
        assert_eq!(s.held(&["a".to_owned(), "b".to_owned()]), [true, false]);
    }
}
