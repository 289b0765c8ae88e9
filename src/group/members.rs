//! Members of a consumer group and the topics they own, across processes,
//! with no server: only files and OS locks under `groups/<group>/`.
//!
//! ```text
//! members/<id>.lock   flock held by a live member for its lifetime; its
//!                     first 8 bytes: the member's heartbeat (CLOCK_MONOTONIC
//!                     ns, little-endian), refreshed by its ckpt thread
//! members/<id>.json   what it says about itself: pid, start time, topics
//!                     owned, topics whose closure is stuck; since format 2
//!                     also its delivery counters and the topics waiting to
//!                     retry a failed batch (see `MEMBER_INFO_FORMAT`)
//! owners.lock         byte-range locks: the byte at a topic's slot is held
//!                     by the member that owns the topic
//! leases/<topic>      the topic's claim: epoch and owner (format/lease.rs)
//! ```
//! A member delivers a topic while it holds the topic's byte. The kernel
//! drops a dead member's locks at once (kill -9 included); the survivors see
//! the topics free at their next balancing tick and take them over,
//! starting after the last persisted position.
//!
//! A member that is alive but stuck keeps its locks, so locks alone cannot
//! move its topics. Its heartbeat can: one older than `member_timeout_ms`
//! makes it *stale*, and the others take the topics it lists over without
//! the byte, by claiming the topic's lease (a new epoch). Positions are
//! fenced by the lease, not the byte: a member appends a position only
//! while the lease names it and its epoch (checked under `checkpoints.lock`),
//! so a stale member that wakes up delivers at most what it had in hand
//! again (duplicates within at-least-once) and never moves a position back.
//! It gives such topics up as soon as it notices; the new owner then takes
//! the byte too.
//!
//! Balancing is leaderless and sticky: with `T` topics and `M` live members
//! each member aims at `floor(T/M)..=ceil(T/M)` topics. A member above the
//! ceiling (or above the floor while another is below it) releases topics,
//! those with the smallest backlog first, after persisting their positions;
//! a member below the ceiling takes free topics, the largest backlog first
//! (one at or above the floor only after they have stayed free for one tick,
//! so the members furthest behind choose first).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::storage::file::{now_ns, random_u64, try_lock};
use crate::storage::range_lock::{RangeLocks, slot_of};

/// Directory of the member files.
pub(crate) const MEMBERS_DIR: &str = "members";
/// The topic ownership lock file.
pub(crate) const OWNERS_FILE: &str = "owners.lock";

/// Format of the member info file this library writes: 1 had pid, start
/// time, topics and stuck topics; 2 adds `format`, `counters` and
/// `retrying`. Both are read (a format-1 file has no `format` key); keys a
/// reader does not know are ignored, so an older library reads format 2.
pub(crate) const MEMBER_INFO_FORMAT: u32 = 2;

fn format_1() -> u32 {
    1
}

/// A member's delivery counters since it started (member file format 2):
/// what `logstream top` and `logstream groups` show of a reader running in
/// another process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemberCounters {
    /// Records its closure confirmed.
    pub records: u64,
    /// Batches its closure returned `Ok` for.
    pub batches: u64,
    /// Batches its closure failed (errors and panics).
    pub failures: u64,
    /// Batches it scheduled again after a failure.
    pub retries: u64,
    /// Records it stored as dead letters.
    pub dead_letters: u64,
}

/// A topic whose last batch failed and waits to be tried again.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetryingTopic {
    /// The topic.
    pub topic: String,
    /// Failed attempts of its current batch so far.
    pub attempts: u32,
    /// What the closure said the last time (the error's text).
    pub error: String,
}

/// What a member publishes about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemberInfo {
    /// Format of the file it was read from (1 or 2, see the counters; 0
    /// when the file could not be read).
    #[serde(default = "format_1")]
    pub format: u32,
    /// Random id of the member (one per running `Reader`).
    pub id: String,
    /// Process id.
    pub pid: u32,
    /// When it joined (ns since the Unix epoch).
    pub started: u64,
    /// Topics it owns, as it last said.
    pub topics: Vec<String>,
    /// Topics whose closure has held one batch longer than `max_forward_ms`,
    /// as it last said (each is handed to another member when there is one).
    #[serde(default)]
    pub stuck: Vec<String>,
    /// Its delivery counters, as it last said (`None` from a member of an
    /// older version, format 1). Published at most about once a second.
    #[serde(default)]
    pub counters: Option<MemberCounters>,
    /// Topics whose last batch failed and waits for a retry, as it last
    /// said (empty from a member of an older version).
    #[serde(default)]
    pub retrying: Vec<RetryingTopic>,
    /// How long ago it last proved it runs (its heartbeat); `None` for a
    /// member of an older version that does not heartbeat.
    #[serde(skip)]
    pub heartbeat_age_ms: Option<u64>,
    /// No heartbeat for longer than `member_timeout_ms`: frozen, paused or
    /// starved. The others take its topics over; it gives them up when it
    /// wakes.
    #[serde(skip)]
    pub stale: bool,
}

/// The machine's monotonic clock (ns), shared by every process on it, so a
/// heartbeat written by one member is comparable with another's clock.
pub(crate) fn mono_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(t.tv_nsec as u64)
}

/// Numeric form of a member id (ids are 16 hex digits); 0 for anything else.
pub(crate) fn id_number(id: &str) -> u64 {
    u64::from_str_radix(id, 16).unwrap_or(0)
}

/// What is known of one member from its lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// Its process is gone (the lock is free), or it left.
    Gone,
    /// Alive; heartbeat age in ns if it writes one.
    Alive(Option<u64>),
}

/// Probes the member `id` of the group in `group_dir`.
pub(crate) fn liveness(group_dir: &Path, id: &str) -> Result<Liveness> {
    let lock_path = group_dir.join(MEMBERS_DIR).join(format!("{id}.lock"));
    let f = match crate::storage::file::open_rw(&lock_path, false) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Liveness::Gone),
        Err(e) => return Err(Error::io("open member lock", &lock_path, e)),
    };
    if try_lock(&f).ctx("probe member lock", &lock_path)? {
        return Ok(Liveness::Gone);
    }
    Ok(Liveness::Alive(heartbeat_age(&f)))
}

/// Age of the heartbeat in a member's lock file (`None`: none written).
fn heartbeat_age(f: &File) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; 8];
    match f.read_at(&mut b, 0) {
        Ok(8) => {}
        _ => return None,
    }
    let beat = u64::from_le_bytes(b);
    (beat != 0).then(|| mono_ns().saturating_sub(beat))
}

/// Whether a heartbeat age (ns) is beyond `timeout`.
pub(crate) fn is_stale(age: Option<u64>, timeout: Option<std::time::Duration>) -> bool {
    match (age, timeout) {
        (Some(a), Some(t)) => u128::from(a) > t.as_nanos(),
        _ => false,
    }
}

/// This reader's membership: its lock, and the locks of the topics it owns.
pub(crate) struct Membership {
    dir: PathBuf,
    pub(crate) id: String,
    started: u64,
    lock: File,
    lock_path: PathBuf,
    owners: RangeLocks,
    /// Owned topics, their slots, and whether this member holds the slot's
    /// byte (not yet, after taking a topic over from a stale member).
    owned: HashMap<String, (u64, bool)>,
    /// Topics whose closure is stuck, as published.
    pub(crate) stuck: Vec<String>,
    published_stuck: Vec<String>,
    /// Delivery counters and retrying topics to publish (format 2).
    pub(crate) report: (MemberCounters, Vec<RetryingTopic>),
    published_report: (MemberCounters, Vec<RetryingTopic>),
    /// When `report` was last published: counters alone change with every
    /// batch, so they are written at most once a second.
    report_at: std::time::Instant,
    /// Topics seen free at the last tick.
    pub(crate) seen_free: std::collections::HashSet<String>,
    published: Vec<String>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership").field("dir", &self.dir).field("id", &self.id).finish()
    }
}

impl Membership {
    /// Joins the group in `group_dir`.
    pub(crate) fn join(group_dir: &Path) -> Result<Membership> {
        let mdir = group_dir.join(MEMBERS_DIR);
        std::fs::create_dir_all(&mdir).ctx("create members directory", &mdir)?;
        let id = format!("{:016x}", random_u64());
        // Lock under a temporary name, then rename: a peer probing liveness
        // never sees an unlocked file of a live member.
        let tmp = mdir.join(format!(".join-{id}"));
        let f = crate::storage::file::open_rw(&tmp, true).ctx("create member lock", &tmp)?;
        if !try_lock(&f).ctx("lock member file", &tmp)? {
            return Err(Error::io("lock member file", &tmp, std::io::Error::other("held by another process")));
        }
        write_beat(&f, &tmp)?;
        let lock_path = mdir.join(format!("{id}.lock"));
        std::fs::rename(&tmp, &lock_path).ctx("register member", &lock_path)?;
        let owners_path = group_dir.join(OWNERS_FILE);
        let owners = RangeLocks::open(&owners_path).ctx("open topic owner locks", &owners_path)?;
        let m = Membership {
            dir: group_dir.to_path_buf(),
            id,
            started: now_ns(),
            lock: f,
            lock_path,
            owners,
            owned: HashMap::new(),
            stuck: Vec::new(),
            published_stuck: Vec::new(),
            report: Default::default(),
            published_report: Default::default(),
            report_at: std::time::Instant::now(),
            seen_free: Default::default(),
            published: vec!["-".into()],
        };
        m.publish_now()?;
        Ok(m)
    }

    fn info_path(&self) -> PathBuf {
        self.dir.join(MEMBERS_DIR).join(format!("{}.json", self.id))
    }

    /// Writes this member's info file if what it owns changed.
    pub(crate) fn publish(&mut self) -> Result<()> {
        let mut now: Vec<String> = self.owned.keys().cloned().collect();
        now.sort();
        let report_due = self.report.1 != self.published_report.1
            || (self.report.0 != self.published_report.0
                && self.report_at.elapsed() >= std::time::Duration::from_secs(1));
        if now == self.published && self.stuck == self.published_stuck && !report_due {
            return Ok(());
        }
        self.published = now;
        self.published_stuck = self.stuck.clone();
        self.published_report = self.report.clone();
        self.report_at = std::time::Instant::now();
        self.publish_now()
    }

    /// Refreshes this member's heartbeat.
    pub(crate) fn beat(&self) -> Result<()> {
        write_beat(&self.lock, &self.lock_path)
    }

    /// Another handle on this member's lock file (same open description, so
    /// closing it keeps the lock), to heartbeat while waiting elsewhere.
    pub(crate) fn beat_handle(&self) -> Result<(File, PathBuf)> {
        Ok((self.lock.try_clone().ctx("duplicate member lock", &self.lock_path)?, self.lock_path.clone()))
    }

    fn publish_now(&self) -> Result<()> {
        let mut topics: Vec<String> = self.owned.keys().cloned().collect();
        topics.sort();
        let info = MemberInfo {
            format: MEMBER_INFO_FORMAT,
            id: self.id.clone(),
            pid: std::process::id(),
            started: self.started,
            topics,
            stuck: self.stuck.clone(),
            counters: Some(self.report.0),
            retrying: self.report.1.clone(),
            ..MemberInfo::default()
        };
        let path = self.info_path();
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec(&info).map_err(|e| Error::io("encode member info", &path, e.into()))?;
        // Informational (for balancing and operators): no fsync needed. On
        // a full disk a slice of the emergency reserve pays for it.
        let base = self.dir.parent().and_then(Path::parent).unwrap_or(&self.dir);
        crate::storage::reserve::with_reserve(base, text.len() as u64, || {
            std::fs::write(&tmp, &text).ctx("write member info", &tmp)?;
            std::fs::rename(&tmp, &path).ctx("write member info", &path)
        })
    }

    /// Whether this member owns `topic`.
    pub(crate) fn owns(&self, topic: &str) -> bool {
        self.owned.contains_key(topic)
    }

    /// Tries to take `topic`; true if this member owns it now.
    pub(crate) fn try_own(&mut self, topic: &str) -> Result<bool> {
        if self.owns(topic) {
            return Ok(true);
        }
        let slot = slot_of(topic);
        let path = self.dir.join(OWNERS_FILE);
        if self.owners.try_lock(slot).ctx("lock topic owner slot", &path)? {
            self.owned.insert(topic.to_owned(), (slot, true));
            return Ok(true);
        }
        Ok(false)
    }

    /// Records `topic` as owned after its lease was claimed from a stale
    /// member, whose process still holds the topic's byte.
    pub(crate) fn take_over(&mut self, topic: &str) {
        let slot = slot_of(topic);
        let locked = self.owned.values().any(|&(s, l)| s == slot && l);
        self.owned.entry(topic.to_owned()).or_insert((slot, locked));
    }

    /// Takes the bytes of topics taken over, once their old owner let go.
    pub(crate) fn relock(&mut self) -> Result<()> {
        let path = self.dir.join(OWNERS_FILE);
        let pending: Vec<(String, u64)> =
            self.owned.iter().filter(|(_, (_, l))| !l).map(|(t, (s, _))| (t.clone(), *s)).collect();
        for (t, slot) in pending {
            if self.owners.try_lock(slot).ctx("lock topic owner slot", &path)?
                && let Some(e) = self.owned.get_mut(&t)
            {
                e.1 = true;
            }
        }
        Ok(())
    }

    /// Whether some other member owns `topic`.
    pub(crate) fn owned_by_other(&self, topic: &str) -> Result<bool> {
        if self.owns(topic) {
            return Ok(false);
        }
        let path = self.dir.join(OWNERS_FILE);
        self.owners.held_by_other(slot_of(topic)).ctx("probe topic owner slot", &path)
    }

    /// Gives `topic` up (its position must be persisted first).
    pub(crate) fn release(&mut self, topic: &str) -> Result<()> {
        let Some((slot, locked)) = self.owned.remove(topic) else { return Ok(()) };
        // Another owned topic may share the slot (a hash collision): keep it.
        if !locked || self.owned.values().any(|&(s, _)| s == slot) {
            return Ok(());
        }
        let path = self.dir.join(OWNERS_FILE);
        self.owners.unlock(slot).ctx("unlock topic owner slot", &path)
    }

    /// Every live member (this one included). Files of dead members are removed.
    pub(crate) fn live(&self, timeout: Option<std::time::Duration>) -> Result<Vec<MemberInfo>> {
        live_members(&self.dir, Some(&self.id), timeout)
    }

    /// Leaves the group: removes this member's files (its locks go when the
    /// membership is dropped).
    pub(crate) fn leave(&mut self) {
        let mdir = self.dir.join(MEMBERS_DIR);
        let _ = std::fs::remove_file(self.info_path());
        let _ = std::fs::remove_file(mdir.join(format!("{}.lock", self.id)));
        let topics: Vec<String> = self.owned.keys().cloned().collect();
        for t in topics {
            if let Err(e) = self.release(&t) {
                log::warn!("releasing topic {t:?}: {e}");
            }
        }
    }
}

/// Writes the heartbeat (now) into a member's lock file.
pub(crate) fn write_beat(f: &File, path: &Path) -> Result<()> {
    use std::os::unix::fs::FileExt;
    // Read by peers through the page cache only: no fsync (see format/mod.rs).
    f.write_all_at(&mono_ns().to_le_bytes(), 0).ctx("write member heartbeat", path)
}

/// The live members of the group in `group_dir`; removes the files of dead
/// ones (`me`, if given, is known to be alive and not probed). A member
/// whose heartbeat is older than `timeout` is marked stale.
pub(crate) fn live_members(
    group_dir: &Path,
    me: Option<&str>,
    timeout: Option<std::time::Duration>,
) -> Result<Vec<MemberInfo>> {
    let mdir = group_dir.join(MEMBERS_DIR);
    let rd = match std::fs::read_dir(&mdir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list group members", &mdir, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.ctx("list group members", &mdir)?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        let Some(id) = name.strip_suffix(".lock") else { continue };
        let lock_path = entry.path();
        let info_path = mdir.join(format!("{id}.json"));
        let mut age = None;
        if me != Some(id) {
            let f = match crate::storage::file::open_rw(&lock_path, false) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("open member lock", &lock_path, e)),
            };
            if try_lock(&f).ctx("probe member lock", &lock_path)? {
                // Its process is gone: clean up after it.
                let _ = std::fs::remove_file(&info_path);
                let _ = std::fs::remove_file(&lock_path);
                continue;
            }
            age = heartbeat_age(&f);
        }
        let mut info = std::fs::read(&info_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<MemberInfo>(&b).ok())
            .unwrap_or_else(|| MemberInfo { id: id.to_owned(), ..MemberInfo::default() });
        info.heartbeat_age_ms = age.map(|a| a / 1_000_000);
        info.stale = is_stale(age, timeout);
        out.push(info);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// What one balancing tick decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Topics to give up (positions persisted first).
    pub release: Vec<String>,
    /// Topics to try to take, in order.
    pub take: Vec<String>,
}

/// Decides what this member releases and takes. `topics`: every topic the
/// group consumes, with its backlog (records not yet confirmed); `mine`:
/// those this member owns; `others`: how many topics each other live member
/// owns; `free`: topics nobody owns, and whether each was already free at
/// the last tick; `orphans`: topics a healthy member's closure is stuck on
/// (that member gave them up and cannot take them back before its closure
/// returns). Orphans are taken at once, beyond the fair share, and never
/// given up to even the load out: a member stuck on all its topics shows
/// none, and the fair share alone would leave them with nobody.
pub(crate) fn plan(
    topics: &[(String, u64)],
    mine: &[String],
    others: &[usize],
    free: &[(String, bool)],
    orphans: &HashSet<&str>,
) -> Plan {
    let t = topics.len();
    let m = others.len() + 1;
    let (floor, ceil) = (t / m, t.div_ceil(m));
    let backlog: HashMap<&str, u64> = topics.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let by_backlog = |v: &mut Vec<String>, largest_first: bool| {
        v.sort_by(|a, b| {
            let (x, y) = (backlog.get(a.as_str()).copied().unwrap_or(0), backlog.get(b.as_str()).copied().unwrap_or(0));
            if largest_first { y.cmp(&x).then(a.cmp(b)) } else { x.cmp(&y).then(a.cmp(b)) }
        });
    };
    let mut out = Plan::default();
    // Topics no longer consumed are always released.
    let mut kept: Vec<String> =
        mine.iter().filter(|n| backlog.contains_key(n.as_str()) && !orphans.contains(n.as_str())).cloned().collect();
    out.release.extend(mine.iter().filter(|n| !backlog.contains_key(n.as_str())).cloned());
    let excess = if kept.len() > ceil {
        kept.len() - ceil
    } else if kept.len() > floor && others.iter().any(|&o| o < floor) {
        1
    } else {
        0
    };
    if excess > 0 {
        by_backlog(&mut kept, false);
        out.release.extend(kept.drain(..excess));
        return out;
    }
    let room = ceil.saturating_sub(kept.len());
    let mut stranded: Vec<String> = free
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| orphans.contains(n.as_str()) && backlog.contains_key(n.as_str()))
        .collect();
    let mut candidates: Vec<String> = free
        .iter()
        .filter(|(n, waited)| !orphans.contains(n.as_str()) && (kept.len() < floor || *waited))
        .map(|(n, _)| n.clone())
        .filter(|n| backlog.contains_key(n.as_str()))
        .collect();
    by_backlog(&mut candidates, true);
    candidates.truncate(room);
    by_backlog(&mut stranded, true);
    stranded.extend(candidates);
    out.take = stranded;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(n: usize) -> Vec<(String, u64)> {
        (0..n).map(|i| (format!("t{i:02}"), i as u64)).collect()
    }

    #[test]
    fn a_member_file_of_format_1_reads_with_no_counters_and_format_2_round_trips() {
        let v1 = r#"{"id":"00000000000000aa","pid":7,"started":5,"topics":["a"],"stuck":[]}"#;
        let m: MemberInfo = serde_json::from_str(v1).unwrap();
        assert_eq!((m.format, m.counters, m.retrying.len()), (1, None, 0));
        assert_eq!(m.topics, ["a"]);
        let v2 = MemberInfo {
            format: MEMBER_INFO_FORMAT,
            id: "00000000000000bb".into(),
            counters: Some(MemberCounters { records: 9, batches: 3, failures: 2, retries: 2, dead_letters: 1 }),
            retrying: vec![RetryingTopic { topic: "a".into(), attempts: 2, error: "503".into() }],
            ..MemberInfo::default()
        };
        let back: MemberInfo = serde_json::from_str(&serde_json::to_string(&v2).unwrap()).unwrap();
        assert_eq!(back, v2);
    }

    fn none() -> HashSet<&'static str> {
        HashSet::new()
    }

    #[test]
    fn topics_a_healthy_member_is_stuck_on_are_taken_beyond_the_fair_share_and_kept() {
        // Two members, ten topics: the other one's closures hang on its five,
        // which it gave up; its file now lists none of them.
        let t = topics(10);
        let mine: Vec<String> = t[..5].iter().map(|(n, _)| n.clone()).collect();
        let stuck: HashSet<&str> = t[5..].iter().map(|(n, _)| n.as_str()).collect();
        let free: Vec<(String, bool)> = t[5..].iter().map(|(n, _)| (n.clone(), false)).collect();
        let p = plan(&t, &mine, &[0], &free, &stuck);
        assert!(p.release.is_empty(), "{p:?}");
        assert_eq!(p.take.len(), 5, "all stranded topics are taken at once: {p:?}");
        // Owning all ten, it gives none up while the other is still stuck...
        let all: Vec<String> = t.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(plan(&t, &all, &[0], &[], &stuck), Plan::default());
        // ...and evens the load out once its closures returned.
        assert_eq!(plan(&t, &all, &[0], &[], &none()).release.len(), 5);
    }

    #[test]
    fn a_lone_member_takes_every_free_topic_at_once() {
        let t = topics(5);
        let free: Vec<(String, bool)> = t.iter().map(|(n, _)| (n.clone(), false)).collect();
        let p = plan(&t, &[], &[], &free, &none());
        assert_eq!(p.take.len(), 5);
        assert_eq!(p.take[0], "t04", "largest backlog first");
    }

    #[test]
    fn a_member_above_the_ceiling_releases_its_smallest_topics() {
        let t = topics(30);
        let mine: Vec<String> = t.iter().map(|(n, _)| n.clone()).collect();
        let p = plan(&t, &mine, &[0, 0], &[], &none());
        assert_eq!(p.release.len(), 20);
        assert_eq!(p.release[0], "t00");
        assert!(p.take.is_empty());
    }

    #[test]
    fn a_member_at_the_floor_waits_a_tick_before_taking_and_stops_at_the_ceiling() {
        let t = topics(31);
        let mine: Vec<String> = t[..10].iter().map(|(n, _)| n.clone()).collect();
        let free = vec![("t30".to_owned(), false)];
        assert!(plan(&t, &mine, &[10, 10], &free, &none()).take.is_empty());
        let free = vec![("t30".to_owned(), true)];
        assert_eq!(plan(&t, &mine, &[10, 10], &free, &none()).take, ["t30"]);
        let mine: Vec<String> = t[..11].iter().map(|(n, _)| n.clone()).collect();
        assert!(plan(&t, &mine, &[10, 10], &free, &none()).take.is_empty());
    }

    #[test]
    fn a_member_above_the_floor_gives_one_topic_to_a_member_below_it() {
        let t = topics(31);
        let mine: Vec<String> = t[..11].iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(plan(&t, &mine, &[11, 9], &[], &none()).release.len(), 1);
        assert!(plan(&t, &mine, &[10, 10], &[], &none()).release.is_empty());
    }

    #[test]
    fn topics_no_longer_consumed_are_released() {
        let t = topics(2);
        let p = plan(&t, &["gone".to_owned()], &[], &[], &none());
        assert_eq!(p.release, ["gone"]);
    }
}
