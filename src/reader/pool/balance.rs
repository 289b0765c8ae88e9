//! Sharing a group's topics with its other members (see `group/members.rs` for
//! the protocol): one balancing tick gives up and takes topics, applies
//! operators' resets to the topics this member owns, and publishes what it
//! owns. Runs on the `logstream-ckpt` thread every `rebalance_interval_ms`,
//! and at once when topics appear, a release is pending or a reset arrives.
//!
//! Stale members (no heartbeat for `member_timeout_ms`) count for nothing:
//! the topics they list are free to take over, by lease. A topic whose
//! closure has held one batch longer than `max_forward_ms` is given up
//! (its lease and byte released, the batch revoked) when another healthy
//! member can take it; alone, this member keeps it and reports it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::sched::{Holdings, Stuck};
use super::{Core, Move};
use crate::error::{IoContext, Result};
use crate::format::checkpoint::Kind;
use crate::group::checkpoint::Position;
use crate::group::members::{Liveness, Membership, is_stale, liveness, plan};
use crate::reader::cursor::Cursor;
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
        let lost: Vec<Arc<str>> = std::mem::take(&mut *self.lost.lock());
        for n in &lost {
            m.release(n)?;
        }
        m.relock()?;
        self.take_requests(&m)?;
        self.settle(&mut m)?;

        let live = m.live(self.cfg.member_timeout())?;
        let healthy: Vec<&crate::reader::MemberInfo> = live.iter().filter(|i| i.id != m.id && !i.stale).collect();
        let others: Vec<usize> = healthy.iter().map(|i| i.topics.len()).collect();
        let alone = others.is_empty();
        let peers = live.iter().any(|i| i.id != m.id);
        self.check_stuck(&mut m, !alone)?;
        // Topics listed by stale members: taken over by lease, not by byte.
        let mut stale_topics: HashMap<&str, &crate::reader::MemberInfo> = HashMap::new();
        for i in live.iter().filter(|i| i.id != m.id && i.stale) {
            for t in &i.topics {
                stale_topics.insert(t.as_str(), i);
            }
        }
        let claimed: HashSet<&str> = healthy.iter().flat_map(|i| i.topics.iter().map(String::as_str)).collect();
        let orphans: HashSet<&str> = healthy.iter().flat_map(|i| i.stuck.iter().map(String::as_str)).collect();
        let Holdings { consumed, mine, in_hand } = self.sched.lock().holdings();
        let mut free = Vec::new();
        let mut now_free = HashSet::new();
        for name in &consumed {
            if m.owns(name) || in_hand.contains(name) || claimed.contains(name.as_str()) {
                continue;
            }
            if !stale_topics.contains_key(name.as_str()) && peers && m.owned_by_other(name)? {
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
        let p = plan(&topics, &mine, &others, &free, &orphans);
        if !p.release.is_empty() {
            self.sched.lock().mark_releasing(&p.release);
            self.settle(&mut m)?;
        }
        let mut names = Vec::new();
        let mut by_lease = Vec::new();
        for n in &p.take {
            if m.try_own(n)? {
                names.push(n.clone());
                by_lease.push(false);
            } else if stale_topics.contains_key(n.as_str()) {
                names.push(n.clone());
                by_lease.push(true);
            }
        }
        let claimed = match self.claim(&names) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("group {:?}: claiming topics failed: {e}", self.group);
                vec![None; names.len()]
            }
        };
        for ((n, saved), takeover) in names.iter().zip(claimed).zip(by_lease) {
            let started = match saved {
                None => false,
                Some(saved) => match self.start_topic(n, saved) {
                    Ok(()) => true,
                    Err(e) => {
                        log::warn!("group {:?}: taking topic {n:?} failed: {e}", self.group);
                        self.store.lock().release_lease(n)?;
                        false
                    }
                },
            };
            if !started {
                if !takeover {
                    m.release(n)?;
                }
                continue;
            }
            if takeover {
                m.take_over(n);
                self.counters.takeovers.fetch_add(1, Ordering::Relaxed);
                if let Some(from) = stale_topics.get(n.as_str()) {
                    log::warn!(
                        "group {:?}: took topic {n:?} over from member {} (pid {}), which has sent no heartbeat for {} ms (member_timeout_ms); it cannot persist positions of it any more",
                        self.group,
                        from.id,
                        from.pid,
                        from.heartbeat_age_ms.unwrap_or(0)
                    );
                }
            }
        }
        m.report = self.member_report();
        m.publish()
    }

    /// Finds closures that have held one batch longer than `max_forward_ms`:
    /// reports each once, and gives its topic up when another healthy member
    /// can take it (the batch is revoked; its outcome will be ignored).
    fn check_stuck(&self, m: &mut Membership, peers: bool) -> Result<()> {
        let Some(max) = self.cfg.max_forward() else { return Ok(()) };
        let Stuck { found, mut stuck, revoked: revoke } = self.sched.lock().find_stuck(Instant::now(), max, peers);
        for (name, first, last, held) in found {
            self.counters.stuck_found.fetch_add(1, Ordering::Relaxed);
            log::warn!(
                "group {:?}: the closure has held batch seq {first}..={last} of topic {name:?} for {held:?}, longer than max_forward_ms ({max:?}); {}",
                self.group,
                if peers {
                    "the topic is handed to another member"
                } else {
                    "no other member can take the topic, so it waits for the closure"
                }
            );
        }
        for name in revoke {
            // Lease first: from now on this member's positions are refused.
            self.store.lock().release_lease(&name)?;
            m.release(&name)?;
            self.counters.topics_released.fetch_add(1, Ordering::Relaxed);
        }
        stuck.sort();
        m.stuck = stuck;
        Ok(())
    }

    /// Gives up the topics marked for release, and applies pending moves,
    /// of the topics no batch of which is in flight.
    fn settle(&self, m: &mut Membership) -> Result<()> {
        let (moves, releases) = self.sched.lock().take_settling();
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
        self.sched.lock().apply_move(name, &mv);
        let persisted = self.persist(Some(name));
        self.sched.lock().moved(name);
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
        let persisted = self
            .persist(Some(name))
            .and_then(|()| self.store.lock().release_lease(name))
            .and_then(|()| m.release(name));
        self.sched.lock().give_up(name, persisted.is_ok());
        persisted?;
        self.counters.topics_released.fetch_add(1, Ordering::Relaxed);
        log::debug!("group {:?}: gave topic {name:?} up", self.group);
        Ok(())
    }

    /// Claims the leases of topics this member is taking, reading their
    /// positions again from disk (the previous owners persisted them last):
    /// per topic, `None` if its lease belongs to a healthy member (or a
    /// batch of it taken from this member is still in the closure).
    fn claim(&self, names: &[String]) -> Result<Vec<Option<Option<Position>>>> {
        // A batch taken away from us may still be in the closure.
        let busy = self.sched.lock().held(names);
        let free: Vec<String> = names.iter().zip(&busy).filter(|(_, b)| !**b).map(|(n, _)| n.clone()).collect();
        let dir = self.layout.group(&self.group);
        let timeout = self.cfg.member_timeout();
        let mut may_take = |owner: u64| -> Result<bool> {
            Ok(match liveness(&dir, &format!("{owner:016x}"))? {
                Liveness::Gone => true,
                Liveness::Alive(age) => is_stale(age, timeout),
            })
        };
        let mut claimed = self.store.lock().claim_all(&free, &mut may_take)?.into_iter();
        Ok(busy.iter().map(|&b| if b { None } else { claimed.next().flatten() }).collect())
    }

    /// Starts delivering a topic whose lease this member has just claimed,
    /// from its saved position (or where `StartFrom` says).
    fn start_topic(&self, name: &str, saved: Option<Position>) -> Result<()> {
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
        if !self.sched.lock().own(name, cursor, next, dirty) {
            return Ok(());
        }
        self.cv.notify_one();
        self.wake.wake();
        self.counters.topics_taken.fetch_add(1, Ordering::Relaxed);
        log::debug!("group {:?}: took topic {name:?} at seq {next}", self.group);
        Ok(())
    }

    /// The first sequence number of records of `topic` deleted unconsumed
    /// after this group was registered, if any.
    fn dropped_since_registered(&self, topic: &str) -> Option<u64> {
        let path = self.layout.topic(topic).join(crate::format::dropped::FILE);
        let text = std::fs::read_to_string(path).ok()?;
        crate::format::dropped::parse(&text).iter().filter(|d| d.time >= self.registered).map(|d| d.from).min()
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
            StartFrom::Latest => (crate::segment::extent::topic_info(&dir, name)?.next_seq, false),
            StartFrom::Seq(n) => (n, true),
            StartFrom::Time(t) => (crate::reader::cursor::seq_at_time(&dir, name, t, self.log_id)?, false),
        })
    }

    /// Records of `name` not yet confirmed by this group (as far as this
    /// member knows).
    fn backlog(&self, name: &str) -> u64 {
        let confirmed = self.sched.lock().owned_confirmed(name);
        let confirmed = confirmed.or_else(|| self.store.lock().get(name).map(|p| p.next_seq)).unwrap_or(0);
        crate::segment::extent::topic_info(&self.layout.topic(name), name)
            .map_or(0, |i| i.next_seq.saturating_sub(confirmed))
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
            if let Some(old) = s.request_move(&r.topic, Move { to: r.seq, reset: true, request: Some(path) })
                && let Some(p) = old.request
            {
                let _ = std::fs::remove_file(p); // superseded by the newer one
            }
        }
        Ok(())
    }
}
