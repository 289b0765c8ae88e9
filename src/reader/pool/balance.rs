//! Sharing a group's topics with its other members (see `members.rs` for
//! the protocol): one balancing tick gives up and takes topics, applies
//! operators' resets to the topics this member owns, and publishes what it
//! owns. Runs on the `logstream-ckpt` thread every `rebalance_interval_ms`,
//! and at once when topics appear, a release is pending or a reset arrives.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Core, Move, TState};
use crate::error::{IoContext, Result};
use crate::format::checkpoint::Kind;
use crate::reader::cursor::Cursor;
use crate::reader::members::{Membership, plan};
use crate::reader::policy::StartFrom;

/// Directory of reset requests in a group directory.
pub(crate) const REQUESTS_DIR: &str = "requests";

/// A reset request, as an operator's tool writes it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Request {
    pub topic: String,
    pub seq: u64,
}

impl Core {
    /// One balancing tick.
    pub(crate) fn balance(&self) -> Result<()> {
        let mut m = self.members.lock();
        self.take_requests(&m)?;
        self.settle(&mut m)?;

        let live = m.live()?;
        let others: Vec<usize> = live.iter().filter(|i| i.id != m.id).map(|i| i.topics.len()).collect();
        let alone = others.is_empty();
        let (consumed, mine): (Vec<String>, Vec<String>) = {
            let s = self.sched.lock();
            let consumed = s.topics.values().filter(|t| t.allowed).map(|t| t.name.to_string()).collect();
            let mine = s.topics.values().filter(|t| t.owned && !t.releasing).map(|t| t.name.to_string()).collect();
            (consumed, mine)
        };
        let mut free = Vec::new();
        let mut now_free = HashSet::new();
        for name in &consumed {
            if m.owns(name) || (!alone && m.owned_by_other(name)?) {
                continue;
            }
            free.push((name.clone(), alone || m.seen_free.contains(name)));
            now_free.insert(name.clone());
        }
        m.seen_free = now_free;
        // Backlogs only matter when choosing among topics with peers around.
        let free_names: HashSet<&str> = free.iter().map(|(n, _)| n.as_str()).collect();
        let topics: Vec<(String, u64)> = consumed
            .iter()
            .map(|n| {
                let b = if alone || !(free_names.contains(n.as_str()) || m.owns(n)) { 0 } else { self.backlog(n) };
                (n.clone(), b)
            })
            .collect();
        let p = plan(&topics, &mine, &others, &free);
        if !p.release.is_empty() {
            let mut s = self.sched.lock();
            for n in &p.release {
                if let Some(t) = s.topics.get_mut(n.as_str()) {
                    t.releasing = true;
                }
            }
            drop(s);
            self.settle(&mut m)?;
        }
        for n in &p.take {
            if m.try_own(n)?
                && let Err(e) = self.acquire(n)
            {
                log::warn!("group {:?}: taking topic {n:?} failed: {e}", self.group);
                m.release(n)?;
            }
        }
        m.publish()
    }

    /// Gives up the topics marked for release, and applies pending moves,
    /// of the topics no batch of which is in flight.
    fn settle(&self, m: &mut Membership) -> Result<()> {
        let (moves, releases) = {
            let mut s = self.sched.lock();
            let mut moves = Vec::new();
            let mut releases = Vec::new();
            for t in s.topics.values_mut() {
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
        };
        for (name, mv) in moves {
            self.apply_move(&name, mv)?;
        }
        for name in releases {
            self.give_up(m, &name)?;
        }
        Ok(())
    }

    /// Moves an owned topic's position (the topic is held, state `Busy`).
    fn apply_move(&self, name: &Arc<str>, mv: Move) -> Result<()> {
        {
            let mut s = self.sched.lock();
            if let Some(t) = s.topics.get_mut(name) {
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
        let persisted = self.persist(Some(name));
        let mut s = self.sched.lock();
        if let Some(t) = s.topics.get_mut(name) {
            t.state = if t.releasing { TState::Idle } else { TState::Queued };
            if t.state == TState::Queued {
                s.ready.push_back(name.clone());
            }
        }
        drop(s);
        self.cv.notify_one();
        self.wake.wake();
        persisted?;
        if let Some(p) = mv.request {
            let _ = std::fs::remove_file(&p);
        }
        self.counters.resets.fetch_add(1, Ordering::Relaxed);
        log::info!("group {:?}: topic {name:?} moved to seq {}", self.group, mv.to);
        Ok(())
    }

    /// Persists an owned topic's position and gives the topic up (the topic
    /// is held, state `Busy`). On failure the topic stays owned.
    fn give_up(&self, m: &mut Membership, name: &Arc<str>) -> Result<()> {
        let persisted = self.persist(Some(name)).and_then(|()| m.release(name));
        let mut s = self.sched.lock();
        if let Some(t) = s.topics.get_mut(name) {
            if persisted.is_ok() {
                t.owned = false;
                t.releasing = false;
                t.cursor = None;
                t.retry = None;
                t.attempts = 0;
                t.spans.clear();
                t.state = TState::Idle;
            } else {
                t.state = TState::Queued;
                s.ready.push_back(name.clone());
            }
        }
        drop(s);
        persisted?;
        self.counters.topics_released.fetch_add(1, Ordering::Relaxed);
        log::debug!("group {:?}: gave topic {name:?} up", self.group);
        Ok(())
    }

    /// Starts delivering a topic this member has just taken: its position is
    /// read again from disk (the previous owner persisted it last).
    fn acquire(&self, name: &str) -> Result<()> {
        let saved = self.store.lock().reload(name)?;
        let (next, report_gaps, dirty) = match saved {
            Some(p) => (p.next_seq, true, None),
            None => {
                let (n, gaps) = self.initial_position(name)?;
                // A position chosen by `StartFrom` is saved at once, so that
                // a restart does not choose again.
                (n, gaps, (self.start_from != StartFrom::Earliest).then_some(Kind::Position))
            }
        };
        let cursor = Cursor::new(&self.layout.topic(name), name, next, report_gaps, self.log_id);
        let mut s = self.sched.lock();
        let Some(t) = s.topics.get_mut(name) else { return Ok(()) };
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
        s.ready.push_back(key);
        drop(s);
        self.cv.notify_one();
        self.wake.wake();
        self.counters.topics_taken.fetch_add(1, Ordering::Relaxed);
        log::debug!("group {:?}: took topic {name:?} at seq {next}", self.group);
        Ok(())
    }

    /// Where the group starts on a topic it has no position for, and
    /// whether records missing before it are reported as a gap.
    fn initial_position(&self, name: &str) -> Result<(u64, bool)> {
        let dir = self.layout.topic(name);
        Ok(match self.start_from {
            StartFrom::Earliest => {
                // Records deleted unconsumed after the group was registered
                // are reported as a gap, not skipped silently.
                let dropped = self.dropped_since_registered(name);
                (dropped.unwrap_or(0), dropped.is_some())
            }
            StartFrom::Latest => (crate::admin::topic_info(&dir, name)?.next_seq, false),
            StartFrom::Seq(n) => (n, true),
            StartFrom::Time(t) => (crate::reader::cursor::seq_at_time(&dir, name, t, self.log_id)?, false),
        })
    }

    /// Records of `name` not yet confirmed by this group (as far as this
    /// member knows).
    fn backlog(&self, name: &str) -> u64 {
        let confirmed = {
            let s = self.sched.lock();
            s.topics.get(name).filter(|t| t.owned).map(|t| t.confirmed)
        };
        let confirmed = confirmed.or_else(|| self.store.lock().get(name).map(|p| p.next_seq)).unwrap_or(0);
        crate::admin::topic_info(&self.layout.topic(name), name).map_or(0, |i| i.next_seq.saturating_sub(confirmed))
    }

    /// Picks up operators' reset requests for topics this member owns.
    fn take_requests(&self, m: &Membership) -> Result<()> {
        let dir = self.layout.group(&self.group).join(REQUESTS_DIR);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(crate::error::Error::io("list reset requests", &dir, e)),
        };
        let mut found: Vec<(PathBuf, Request)> = Vec::new();
        for entry in rd {
            let path = entry.ctx("list reset requests", &dir)?.path();
            if path.extension().is_none_or(|e| e != "req") {
                continue;
            }
            match std::fs::read(&path).map(|b| serde_json::from_slice::<Request>(&b)) {
                Ok(Ok(r)) if m.owns(&r.topic) => found.push((path, r)),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    log::warn!("ignoring unreadable reset request {}: {e}", path.display());
                    let _ = std::fs::remove_file(&path);
                }
                Err(_) => {} // taken back by the operator meanwhile
            }
        }
        if found.is_empty() {
            return Ok(());
        }
        let mut s = self.sched.lock();
        for (path, r) in found {
            if let Some(t) = s.topics.get_mut(r.topic.as_str())
                && let Some(old) = t.moving.replace(Move { to: r.seq, reset: true, request: Some(path) })
                && let Some(p) = old.request
            {
                let _ = std::fs::remove_file(p); // superseded by the newer one
            }
        }
        Ok(())
    }
}
