//! A group's saved positions on disk: `checkpoints.snap` plus the journal
//! `checkpoints.log` (format in `format/checkpoint.rs`), shared by every
//! member of the group, in any process.
//!
//! `persist` appends one entry per changed topic and `fdatasync`s once; when
//! the journal grows past a few times the number of topics it is compacted
//! into a new snapshot (written atomically), after which the journal starts
//! over. Loading keeps each topic's highest-generation valid entry, so a crash
//! at any instant, a torn append or a damaged entry yields an older position
//! (records are redelivered), never a newer one.
//!
//! Members serialise on `checkpoints.lock` (`flock`): exclusive to append or
//! compact, shared to load. Only a topic's owner writes its position, and
//! it reloads the position when it takes the topic over, so generations
//! stay monotonic across owners. A member that finds the journal replaced
//! (another member compacted) reopens it; one that finds a torn entry at
//! its end (a member died mid-append) cuts it off before appending.
//!
//! A member reloads a topic's position each time it takes the topic over,
//! so `reload` remembers what it has read (the snapshot's and the journal's
//! identity, and how far into the journal) and reads only the entries
//! appended since; a replaced file (compaction, repair) is read whole again.
//! Taking over thousands of new topics thus costs linear time, not a pass
//! over the whole journal per topic.
//!
//! Positions are fenced by leases (`leases/<topic>`, `format/lease.rs`): a
//! member claims a topic's lease (a new epoch) when it takes the topic, and
//! `persist` drops, under the exclusive lock, every position of a topic whose
//! lease no longer names this member and epoch (another member took it over
//! while this one was stuck). An operator's tool (member id 0) is not fenced.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::members::{Liveness, is_stale, liveness};
use crate::error::{Error, IoContext, Result};
use crate::format::checkpoint::{
    ENTRY_LEN, Entry, FILE_HEADER_LEN, JOURNAL_MAGIC, Kind, SNAP_MAGIC, check_file_header, decode_entries,
    encode_file_header,
};
use crate::format::lease::{LEASE_LEN, Lease};
use crate::storage::file::{now_ns, sync_dir, sync_file, write_atomic};

/// Name of the snapshot file in a group directory.
pub(crate) const SNAP_FILE: &str = "checkpoints.snap";
/// Name of the journal file in a group directory.
pub(crate) const JOURNAL_FILE: &str = "checkpoints.log";
/// Name of the lock members take around the two files.
pub(crate) const LOCK_FILE: &str = "checkpoints.lock";

/// A topic's saved position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Position {
    /// Next sequence number to deliver (0 = nothing confirmed).
    pub next_seq: u64,
    /// Per-topic generation of the entry.
    pub generation: u64,
    /// When it was saved (ns since the Unix epoch).
    pub time: u64,
    /// Whether an operator set it (a reset) rather than a consumer.
    pub reset: bool,
}

/// Problems found while loading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LoadReport {
    /// Damaged entries skipped (file, byte offset).
    pub damaged: Vec<(PathBuf, u64)>,
    /// A file whose header was unreadable (its entries were ignored).
    pub unreadable: Vec<PathBuf>,
}

/// The positions of one group, as this member knows them.
pub(crate) struct CheckpointStore {
    dir: PathBuf,
    lock: Arc<File>,
    journal: File,
    journal_entries: u64,
    positions: HashMap<String, Position>,
    /// What `reload` has read of the files so far (`None`: read them whole).
    read: Option<ReadSoFar>,
    /// Entries `reload` has decoded, in all (what its cost grows with).
    reload_decoded: u64,
    /// This member's id (0: an operator's tool, never fenced).
    me: u64,
    /// `member_timeout_ms`: a lock holder this stale is broken.
    timeout: Option<Duration>,
    /// This member's lock file, to heartbeat while waiting for the lock (a
    /// member waiting for a frozen holder is not frozen itself).
    beat: Option<(File, PathBuf)>,
    /// The leases this member claimed: topic → epoch. (The files are
    /// opened when needed: descriptors must not grow with the topic count.)
    leases: HashMap<String, u64>,
}

/// Name of the directory of topic leases in a group directory.
pub(crate) const LEASES_DIR: &str = "leases";

/// The entries read so far, and how far into which files: a reload reads
/// only what was appended since, so a member taking over thousands of topics
/// one by one does not decode the whole journal once per topic.
struct ReadSoFar {
    /// The snapshot read (identity and length), `None` when there was none.
    snap: Option<(FileId, u64)>,
    /// The journal read, `None` when there was none: identity, and the
    /// offset just past the last whole entry read.
    journal: Option<(FileId, u64)>,
    merged: Merged,
}

/// Entries merged as loading does: each topic's highest generation, and
/// the highest generation of each topic's `Forget` entries.
#[derive(Default)]
struct Merged {
    best: HashMap<String, Position>,
    forgotten: HashMap<String, u64>,
}

impl Merged {
    fn absorb(&mut self, entries: Vec<Entry>) {
        for e in entries {
            if e.kind == Kind::Forget {
                let g = self.forgotten.entry(e.topic).or_default();
                *g = (*g).max(e.generation);
                continue;
            }
            let p =
                Position { next_seq: e.next_seq, generation: e.generation, time: e.time, reset: e.kind == Kind::Reset };
            match self.best.get(&e.topic) {
                Some(old) if old.generation >= p.generation => {}
                _ => {
                    self.best.insert(e.topic, p);
                }
            }
        }
    }

    /// `topic`'s position, unless a later `Forget` entry dropped it.
    fn get(&self, topic: &str) -> Option<Position> {
        let p = *self.best.get(topic)?;
        self.forgotten.get(topic).is_none_or(|&g| g < p.generation).then_some(p)
    }

    fn into_positions(self) -> HashMap<String, Position> {
        let Merged { mut best, forgotten } = self;
        best.retain(|t, p| forgotten.get(t).is_none_or(|&g| g < p.generation));
        best
    }
}

/// Identity of a file across replacements: device, inode, birth time.
type FileId = crate::storage::hook::FileId;

/// Bits of a generation below the owner's lease epoch: a generation is
/// `epoch << 40 | count`, so every entry of a later owner outranks every
/// entry of an earlier one, even one appended late by a member that was
/// frozen inside its critical section (generations written before leases
/// existed are epoch 0).
pub(crate) const EPOCH_SHIFT: u32 = 40;

/// Holds `checkpoints.lock` (exclusive or shared) until dropped.
struct Held(Arc<File>);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&*self.0, rustix::fs::FlockOperation::Unlock);
    }
}

/// Whether the open `lock` is the file at `path` now (it is replaced when
/// a stale holder's lock is broken).
fn same_file(lock: &File, path: &Path) -> Result<bool> {
    let mine = lock.metadata().ctx("stat checkpoint lock", path)?;
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.ino() == mine.ino() && m.dev() == mine.dev()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("stat checkpoint lock", path, e)),
    }
}

/// Takes `checkpoints.lock` of the group in `dir`, polling. An exclusive
/// holder writes its member id into the file; a waiter that finds the lock
/// held by a member that is stale (no heartbeat for `timeout`; frozen
/// inside its critical section, its kernel lock held) breaks it by putting
/// a new lock file in its place. What the frozen member appends when it
/// wakes carries its old epoch and loses to every newer entry.
fn acquire(
    dir: &Path,
    lock: &mut Arc<File>,
    exclusive: bool,
    (me, beat): (u64, Option<(&File, &Path)>),
    timeout: Option<Duration>,
) -> Result<Held> {
    use rustix::fs::FlockOperation::{NonBlockingLockExclusive, NonBlockingLockShared};
    use std::os::unix::fs::FileExt;
    let path = dir.join(LOCK_FILE);
    let mut pause = Duration::from_micros(50);
    let mut last_probe = Instant::now();
    loop {
        let op = if exclusive { NonBlockingLockExclusive } else { NonBlockingLockShared };
        match rustix::fs::flock(&**lock, op) {
            Ok(()) => {
                let held = Held(lock.clone());
                if same_file(lock, &path)? {
                    if exclusive && me != 0 {
                        lock.write_all_at(&me.to_le_bytes(), 0).ctx("write checkpoint lock holder", &path)?;
                    }
                    return Ok(held);
                }
                drop(held);
                *lock = Arc::new(open_lock(dir)?);
                continue;
            }
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {}
            Err(e) => return Err(Error::io("lock checkpoints", &path, e.into())),
        }
        if timeout.is_some() && last_probe.elapsed() >= Duration::from_millis(50) {
            last_probe = Instant::now();
            if let Some((f, p)) = beat {
                super::members::write_beat(f, p)?;
            }
            if !same_file(lock, &path)? {
                *lock = Arc::new(open_lock(dir)?);
                continue;
            }
            let mut b = [0u8; 8];
            let holder = match lock.read_at(&mut b, 0) {
                Ok(8) => u64::from_le_bytes(b),
                _ => 0,
            };
            if holder != 0
                && holder != me
                && let Liveness::Alive(age) = liveness(dir, &format!("{holder:016x}"))?
                && is_stale(age, timeout)
                && same_file(lock, &path)?
            {
                let tmp = dir.join(format!("{LOCK_FILE}.{:016x}.tmp", crate::storage::file::random_u64()));
                open_lock_at(&tmp)?;
                std::fs::rename(&tmp, &path).ctx("replace checkpoint lock of a stale member", &path)?;
                log::warn!(
                    "{}: held by member {holder:016x}, which has sent no heartbeat for {} ms; its lock was broken",
                    path.display(),
                    age.unwrap_or(0) / 1_000_000
                );
                *lock = Arc::new(open_lock(dir)?);
                continue;
            }
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

fn open_lock(dir: &Path) -> Result<File> {
    open_lock_at(&dir.join(LOCK_FILE))
}

fn open_lock_at(p: &Path) -> Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(p).ctx("open checkpoint lock", p)
}

impl CheckpointStore {
    /// Loads (creating if needed) the store in a group directory.
    pub(crate) fn open(dir: &Path) -> Result<(CheckpointStore, LoadReport)> {
        let mut lock = Arc::new(open_lock(dir)?);
        let held = acquire(dir, &mut lock, true, (0, None), None)?;
        let (positions, report) = load_unlocked(dir)?;
        let (journal, journal_entries) = open_journal(dir)?;
        drop(held);
        Ok((
            CheckpointStore {
                dir: dir.to_path_buf(),
                lock,
                journal,
                journal_entries,
                positions,
                read: None,
                reload_decoded: 0,
                me: 0,
                timeout: None,
                beat: None,
                leases: HashMap::new(),
            },
            report,
        ))
    }

    /// Makes this store persist for the member `me` (fenced by leases);
    /// lock holders stale for `timeout` are broken.
    pub(crate) fn set_member(&mut self, me: u64, timeout: Option<Duration>, beat: Option<(File, PathBuf)>) {
        self.me = me;
        self.timeout = timeout;
        self.beat = beat;
    }

    fn take_lock(&mut self, exclusive: bool) -> Result<Held> {
        let beat = self.beat.as_ref().map(|(f, p)| (f, p.as_path()));
        acquire(&self.dir, &mut self.lock, exclusive, (self.me, beat), self.timeout)
    }

    /// Claims `topic`'s lease for this member and reads the topic's position
    /// (see [`CheckpointStore::claim_all`]). `Ok(None)`: refused.
    #[cfg(test)]
    pub(crate) fn claim(
        &mut self,
        topic: &str,
        may_take: &mut dyn FnMut(u64) -> Result<bool>,
    ) -> Result<Option<Option<Position>>> {
        Ok(self.claim_all(&[topic.to_owned()], may_take)?.pop().flatten())
    }

    /// Claims the leases of `topics` for this member and reads their
    /// positions (after the previous owners' last ones), under one exclusive
    /// lock and one read of the files. A lease held by another member is
    /// taken only if `may_take(owner)` says so (the owner is gone or stale).
    /// Per topic: `None` if refused, else its saved position.
    pub(crate) fn claim_all(
        &mut self,
        topics: &[String],
        may_take: &mut dyn FnMut(u64) -> Result<bool>,
    ) -> Result<Vec<Option<Option<Position>>>> {
        use std::os::unix::fs::FileExt;
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let held = self.take_lock(true)?;
        let ldir = self.dir.join(LEASES_DIR);
        std::fs::create_dir_all(&ldir).ctx("create lease directory", &ldir)?;
        let (all, _) = load_unlocked(&self.dir)?;
        let mut out = Vec::with_capacity(topics.len());
        for topic in topics {
            let path = ldir.join(topic);
            let f = crate::storage::file::open_rw(&path, true).ctx("open topic lease", &path)?;
            let old = read_lease(&f, &path)?;
            if old.owner != 0 && old.owner != self.me && !may_take(old.owner)? {
                out.push(None);
                continue;
            }
            // Above the epoch of every entry too (a lease file is not synced,
            // so after a power loss it may lag behind the journal).
            let seen = all.get(topic).map_or(0, |p| p.generation >> EPOCH_SHIFT);
            let new = Lease { epoch: old.epoch.max(seen) + 1, owner: self.me };
            // Not synced: see "Heartbeats and leases" in format/mod.rs.
            f.write_all_at(&new.encode(), 0).ctx("write topic lease", &path)?;
            self.leases.insert(topic.clone(), new.epoch);
            match all.get(topic) {
                Some(p) => self.positions.insert(topic.clone(), *p),
                None => self.positions.remove(topic),
            };
            out.push(Some(all.get(topic).copied()));
        }
        drop(held);
        Ok(out)
    }

    /// Gives `topic`'s lease up, if this member still holds it, so that the
    /// next owner claims it without asking whether this member is alive.
    pub(crate) fn release_lease(&mut self, topic: &str) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let Some(epoch) = self.leases.remove(topic) else { return Ok(()) };
        let _held = self.take_lock(true)?;
        let path = self.dir.join(LEASES_DIR).join(topic);
        let f = match crate::storage::file::open_rw(&path, false) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("open topic lease", &path, e)),
        };
        if read_lease(&f, &path)? == (Lease { epoch, owner: self.me }) {
            f.write_all_at(&Lease { epoch, owner: 0 }.encode(), 0).ctx("release topic lease", &path)?;
        }
        Ok(())
    }

    /// Gives every lease this member holds up.
    pub(crate) fn release_all_leases(&mut self) -> Result<()> {
        let topics: Vec<String> = self.leases.keys().cloned().collect();
        for t in topics {
            self.release_lease(&t)?;
        }
        Ok(())
    }

    /// Of `topics`, those whose lease this member no longer holds (another
    /// member took them over); they are forgotten here.
    pub(crate) fn lost(&mut self, topics: &[String]) -> Result<Vec<String>> {
        let held = self.take_lock(false)?;
        let mut out = Vec::new();
        for t in topics {
            if !self.holds(t)? {
                out.push(t.clone());
            }
        }
        drop(held);
        for t in &out {
            self.leases.remove(t);
        }
        Ok(out)
    }

    /// Whether this member still holds `topic`'s lease (called under the lock).
    fn holds(&self, topic: &str) -> Result<bool> {
        if self.me == 0 {
            return Ok(true);
        }
        let Some(&epoch) = self.leases.get(topic) else { return Ok(false) };
        Ok(lease_of(&self.dir, topic)? == Lease { epoch, owner: self.me })
    }

    /// The saved position of `topic`, as this member last saw it.
    pub(crate) fn get(&self, topic: &str) -> Option<Position> {
        self.positions.get(topic).copied()
    }

    /// Reads `topic`'s position from disk again (after taking it over from
    /// another member, or to see an operator's reset).
    pub(crate) fn reload(&mut self, topic: &str) -> Result<Option<Position>> {
        let held = self.take_lock(false)?;
        let found = match read_on(&self.dir, self.read.take(), &mut self.reload_decoded)? {
            Some(read) => {
                let p = read.merged.get(topic);
                self.read = Some(read);
                p
            }
            // A file with an unreadable header: load as `open` does.
            None => load_unlocked(&self.dir)?.0.get(topic).copied(),
        };
        drop(held);
        match found {
            Some(p) => self.positions.insert(topic.to_owned(), p),
            None => self.positions.remove(topic),
        };
        Ok(found)
    }

    /// Saves positions durably (one append, one `fdatasync`). Returns the
    /// topics whose positions were refused because this member no longer
    /// holds their lease (nothing is written for them).
    pub(crate) fn persist(&mut self, updates: &[(String, u64, Kind)]) -> Result<Vec<String>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        // Confirming is how a consumer frees space, so it works on a full
        // disk: a slice of the emergency reserve pays for the entries. A
        // failed try leaves at most a torn entry, which the next one cuts.
        let base = self.dir.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| self.dir.clone());
        crate::storage::reserve::with_reserve(&base, (updates.len() * ENTRY_LEN) as u64, || self.persist_once(updates))
    }

    fn persist_once(&mut self, updates: &[(String, u64, Kind)]) -> Result<Vec<String>> {
        let held = self.take_lock(true)?;
        let mut fenced = Vec::new();
        let mut kept = Vec::with_capacity(updates.len());
        for u in updates {
            let prev = self.positions.get(&u.0).map(|p| p.generation);
            let epoch = if self.me == 0 { None } else { self.leases.get(&u.0).copied() };
            match next_generation(prev, epoch) {
                Some(g) if self.holds(&u.0)? => kept.push((u, g)),
                _ => fenced.push(u.0.clone()),
            }
        }
        for t in &fenced {
            self.leases.remove(t);
        }
        if kept.is_empty() {
            return Ok(fenced);
        }
        self.journal_current()?;
        let now = now_ns();
        let mut buf = Vec::with_capacity(kept.len() * ENTRY_LEN);
        let mut staged = Vec::with_capacity(kept.len());
        for ((topic, next_seq, kind), generation) in kept.iter().copied() {
            let e = Entry { kind: *kind, generation, next_seq: *next_seq, time: now, epoch: 0, topic: topic.clone() };
            buf.extend_from_slice(&e.encode());
            staged.push((
                topic.clone(),
                Position { next_seq: *next_seq, generation, time: now, reset: *kind == Kind::Reset },
            ));
        }
        let jpath = self.dir.join(JOURNAL_FILE);
        self.journal.write_all(&buf).ctx("append to checkpoint journal", &jpath)?;
        sync_file(&self.journal, &jpath).ctx("sync checkpoint journal", &jpath)?;
        self.journal_entries += kept.len() as u64;
        for (t, p) in staged {
            self.positions.insert(t, p);
        }
        if self.journal_entries > 1024 && self.journal_entries > 4 * self.positions.len() as u64 {
            self.compact_locked()?;
        }
        drop(held);
        Ok(fenced)
    }

    /// Reopens the journal if another member replaced it, and cuts off a
    /// torn entry at its end. Called with the lock held exclusively.
    fn journal_current(&mut self) -> Result<()> {
        let jpath = self.dir.join(JOURNAL_FILE);
        let mine = self.journal.metadata().ctx("stat checkpoint journal", &jpath)?;
        let replaced = match std::fs::metadata(&jpath) {
            Ok(m) => m.ino() != mine.ino() || m.dev() != mine.dev(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(Error::io("stat checkpoint journal", &jpath, e)),
        };
        if replaced {
            (self.journal, self.journal_entries) = open_journal(&self.dir)?;
            return Ok(());
        }
        let body = mine.len().saturating_sub(FILE_HEADER_LEN as u64);
        if body % ENTRY_LEN as u64 != 0 {
            let keep = FILE_HEADER_LEN as u64 + body / ENTRY_LEN as u64 * ENTRY_LEN as u64;
            self.journal.set_len(keep).ctx("cut torn checkpoint entry", &jpath)?;
        }
        self.journal_entries = body / ENTRY_LEN as u64;
        Ok(())
    }

    /// Writes every position into a new snapshot and starts the journal over.
    pub(crate) fn compact(&mut self) -> Result<()> {
        let held = self.take_lock(true)?;
        self.compact_locked()?;
        drop(held);
        Ok(())
    }

    fn compact_locked(&mut self) -> Result<()> {
        // Every member's entries, not only this one's topics.
        let (all, _) = load_unlocked(&self.dir)?;
        let mut buf = encode_file_header(SNAP_MAGIC).to_vec();
        let mut names: Vec<&String> = all.keys().collect();
        names.sort();
        for t in names {
            let p = all[t];
            let kind = if p.reset { Kind::Reset } else { Kind::Position };
            let e = Entry {
                kind,
                generation: p.generation,
                next_seq: p.next_seq,
                time: p.time,
                epoch: 0,
                topic: t.clone(),
            };
            buf.extend_from_slice(&e.encode());
        }
        let spath = self.dir.join(SNAP_FILE);
        write_atomic(&spath, &buf).ctx("write checkpoint snapshot", &spath)?;
        let jpath = self.dir.join(JOURNAL_FILE);
        write_atomic(&jpath, &encode_file_header(JOURNAL_MAGIC)).ctx("restart checkpoint journal", &jpath)?;
        self.journal = OpenOptions::new().append(true).open(&jpath).ctx("open checkpoint journal", &jpath)?;
        self.journal_entries = 0;
        Ok(())
    }
}

/// Reads a lease file (unreadable or short bytes: no lease yet).
fn read_lease(f: &File, path: &Path) -> Result<Lease> {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; LEASE_LEN];
    let mut got = 0;
    while got < LEASE_LEN {
        match f.read_at(&mut b[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read topic lease", path, e)),
        }
    }
    Ok(Lease::decode(&b[..got]).unwrap_or_default())
}

/// Opens the journal for appending (creating it, or rewriting it without a
/// torn entry at its end); returns it and its entry count. Called with the
/// lock held exclusively.
fn open_journal(dir: &Path) -> Result<(File, u64)> {
    let jpath = dir.join(JOURNAL_FILE);
    let existing = match std::fs::read(&jpath) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("read checkpoint journal", &jpath, e)),
    };
    let fresh = match &existing {
        Some(b) => check_file_header(b, JOURNAL_MAGIC).is_err(),
        None => true,
    };
    let mut journal_entries = 0;
    if fresh {
        write_atomic(&jpath, &encode_file_header(JOURNAL_MAGIC)).ctx("create checkpoint journal", &jpath)?;
    } else if let Some(b) = &existing {
        journal_entries = ((b.len() - FILE_HEADER_LEN) / ENTRY_LEN) as u64;
        if !(b.len() - FILE_HEADER_LEN).is_multiple_of(ENTRY_LEN) {
            // A torn append: rewrite the journal without it so that new
            // entries stay aligned.
            let keep = FILE_HEADER_LEN + journal_entries as usize * ENTRY_LEN;
            write_atomic(&jpath, &b[..keep]).ctx("repair checkpoint journal", &jpath)?;
        }
    }
    let journal = OpenOptions::new().append(true).open(&jpath).ctx("open checkpoint journal", &jpath)?;
    Ok((journal, journal_entries))
}

/// Reads a group's positions for a decision (retention, deleting a topic),
/// under the shared lock: a position is appended and then synced under the
/// exclusive lock, so one read under the lock is durable, and retention
/// never deletes records behind a position a power loss could take back.
/// A holder frozen inside its critical section keeps the lock: after a few
/// seconds the positions are read without it, as [`peek`] does.
pub(crate) fn load(dir: &Path) -> Result<(HashMap<String, Position>, LoadReport)> {
    load_within(dir, Duration::from_secs(3))
}

/// [`load`], waiting at most `patience` for the lock.
pub(crate) fn load_within(dir: &Path, patience: Duration) -> Result<(HashMap<String, Position>, LoadReport)> {
    let lpath = dir.join(LOCK_FILE);
    // A read-only directory (an operator's copy) has no lock to take.
    let Ok(f) = OpenOptions::new().read(true).open(&lpath) else { return peek(dir) };
    let deadline = Instant::now() + patience;
    loop {
        match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Ok(()) => {
                let held = Held(Arc::new(f));
                let r = load_unlocked(dir);
                drop(held);
                return r;
            }
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                if Instant::now() >= deadline {
                    log::debug!("{}: still held after {patience:?}; reading positions without it", lpath.display());
                    return peek(dir);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(Error::io("lock checkpoints", &lpath, e.into())),
        }
    }
}

/// Reads a group's positions to show them (`Group::lag`, `positions`,
/// `logstream top`) **without taking the lock**: a tool that is itself
/// frozen (`logstream top` stopped with Ctrl-Z) must never hold up the
/// members' persists. It may see an appended position whose sync is still
/// running, which is fine to show and is why decisions use [`load`]. The
/// files make a lock-free read consistent: entries are CRC'd and appended
/// whole (a torn last entry is skipped), and compaction or a repair
/// replaces the snapshot first and the journal second, each by rename. So a
/// read that finds the snapshot it opened still at its path after reading
/// the journal saw either the old pair, the new snapshot with the old
/// journal (entries twice, merged by generation), or the new pair; the one
/// mix that would lose entries (old snapshot, new journal) replaced the
/// snapshot in between, and is read again.
pub(crate) fn peek(dir: &Path) -> Result<(HashMap<String, Position>, LoadReport)> {
    let spath = dir.join(SNAP_FILE);
    let mut tries = 0;
    loop {
        let before = open_existing(&spath)?.map(|(_, id)| id);
        let loaded = load_unlocked(dir)?;
        let after = open_existing(&spath)?.map(|(_, id)| id);
        tries += 1;
        if before == after || tries >= 100 {
            if before != after {
                log::warn!("{}: replaced during 100 reads in a row; using the last read", spath.display());
            }
            return Ok(loaded);
        }
    }
}

/// The member named by `topic`'s lease in the group in `dir` (0: none).
pub(crate) fn lease_owner(dir: &Path, topic: &str) -> Result<u64> {
    Ok(lease_of(dir, topic)?.owner)
}

/// `topic`'s lease in the group in `dir` (none yet: epoch 0, owner 0).
fn lease_of(dir: &Path, topic: &str) -> Result<Lease> {
    let path = dir.join(LEASES_DIR).join(topic);
    match File::open(&path) {
        Ok(f) => read_lease(&f, &path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lease::default()),
        Err(e) => Err(Error::io("open topic lease", &path, e)),
    }
}

/// The generation of a topic's next entry after `prev`, written under the
/// lease `epoch` (`None`: an operator's tool, no lease); `None` if an entry
/// of a later epoch exists, so this writer has been replaced.
fn next_generation(prev: Option<u64>, epoch: Option<u64>) -> Option<u64> {
    let Some(e) = epoch else { return Some(prev.map_or(1, |g| g + 1)) };
    let base = e << EPOCH_SHIFT;
    match prev {
        Some(g) if g >> EPOCH_SHIFT > e => None,
        Some(g) if g >= base => Some(g + 1),
        _ => Some(base | 1),
    }
}

fn load_unlocked(dir: &Path) -> Result<(HashMap<String, Position>, LoadReport)> {
    let mut report = LoadReport::default();
    let mut merged = Merged::default();
    for (name, magic) in [(SNAP_FILE, SNAP_MAGIC), (JOURNAL_FILE, JOURNAL_MAGIC)] {
        let path = dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("read checkpoints", &path, e)),
        };
        if !header_ok(&bytes, magic, &path)? {
            report.unreadable.push(path);
            continue;
        }
        merged.absorb(decode_logged(&bytes[FILE_HEADER_LEN..], FILE_HEADER_LEN as u64, &path, &mut report));
    }
    Ok((merged.into_positions(), report))
}

/// Whether a checkpoint file's header is readable (a warning when not); an
/// error when it names a format version this build cannot read.
fn header_ok(bytes: &[u8], magic: [u8; 8], path: &Path) -> Result<bool> {
    match check_file_header(bytes, magic) {
        Ok(_) => Ok(true),
        Err(crate::format::checkpoint::FileProblem::Version(found)) => Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            found,
            supported: crate::format::segment::VERSION,
        }),
        Err(p) => {
            log::warn!("{}: unreadable header ({p:?}); its positions are ignored", path.display());
            Ok(false)
        }
    }
}

/// Decodes entries found at byte `at` of `path`, reporting damaged ones.
fn decode_logged(area: &[u8], at: u64, path: &Path, report: &mut LoadReport) -> Vec<Entry> {
    let d = decode_entries(area);
    for off in d.damaged {
        log::warn!("{}: damaged checkpoint entry at byte {}; an older position is used", path.display(), at + off);
        report.damaged.push((path.to_path_buf(), at + off));
    }
    d.entries
}

/// A checkpoint file opened for reading, with its identity, or `None` when
/// it does not exist.
fn open_existing(path: &Path) -> Result<Option<(File, FileId)>> {
    match File::open(path) {
        Ok(f) => {
            let id = crate::storage::hook::file_id(&f).ctx("stat checkpoints", path)?;
            Ok(Some((f, id)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("open checkpoints", path, e)),
    }
}

/// The bytes of `file` (at `path`) from `from` to its end.
fn read_from(file: &mut File, from: u64, path: &Path) -> Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut buf = Vec::new();
    file.seek(SeekFrom::Start(from)).ctx("read checkpoints", path)?;
    file.read_to_end(&mut buf).ctx("read checkpoints", path)?;
    Ok(buf)
}

/// Brings `prev` (what an earlier call read, if anything) up to date with
/// the files in `dir`. When the snapshot is the one read before and the
/// journal is the one read before, grown or not, only the journal's new
/// whole entries are read: entries are appended and never change, and
/// compaction or a repair replaces a file (a new identity) rather than
/// rewriting it. Anything else reads both files whole. `None` when a file's
/// header is unreadable. Called with the lock held (shared at least).
fn read_on(dir: &Path, prev: Option<ReadSoFar>, decoded: &mut u64) -> Result<Option<ReadSoFar>> {
    let (spath, jpath) = (dir.join(SNAP_FILE), dir.join(JOURNAL_FILE));
    let snap = open_existing(&spath)?;
    let journal = open_existing(&jpath)?;
    let snap_len = match &snap {
        Some((f, _)) => Some(f.metadata().ctx("stat checkpoints", &spath)?.len()),
        None => None,
    };
    let snap_key = snap.as_ref().zip(snap_len).map(|((_, id), len)| (*id, len));
    let mut report = LoadReport::default();
    if let Some(mut r) = prev
        && r.snap == snap_key
    {
        match (r.journal, journal) {
            (None, None) => return Ok(Some(r)),
            (Some((id, done)), Some((mut f, now))) if id == now => {
                let bytes = read_from(&mut f, done, &jpath)?;
                let whole = bytes.len() / ENTRY_LEN * ENTRY_LEN;
                let entries = decode_logged(&bytes[..whole], done, &jpath, &mut report);
                *decoded += entries.len() as u64;
                r.merged.absorb(entries);
                r.journal = Some((id, done + whole as u64));
                return Ok(Some(r));
            }
            (_, journal) => return read_whole(snap, journal, &spath, &jpath, decoded),
        }
    }
    read_whole(snap, journal, &spath, &jpath, decoded)
}

/// The first read of `read_on`: both files whole.
fn read_whole(
    snap: Option<(File, FileId)>,
    journal: Option<(File, FileId)>,
    spath: &Path,
    jpath: &Path,
    decoded: &mut u64,
) -> Result<Option<ReadSoFar>> {
    let mut report = LoadReport::default();
    let mut merged = Merged::default();
    let mut snap_read = None;
    if let Some((mut f, id)) = snap {
        let bytes = read_from(&mut f, 0, spath)?;
        if !header_ok(&bytes, SNAP_MAGIC, spath)? {
            return Ok(None);
        }
        let entries = decode_logged(&bytes[FILE_HEADER_LEN..], FILE_HEADER_LEN as u64, spath, &mut report);
        *decoded += entries.len() as u64;
        merged.absorb(entries);
        snap_read = Some((id, bytes.len() as u64));
    }
    let mut journal_read = None;
    if let Some((mut f, id)) = journal {
        let bytes = read_from(&mut f, 0, jpath)?;
        if !header_ok(&bytes, JOURNAL_MAGIC, jpath)? {
            return Ok(None);
        }
        let whole = FILE_HEADER_LEN + (bytes.len() - FILE_HEADER_LEN) / ENTRY_LEN * ENTRY_LEN;
        let entries = decode_logged(&bytes[FILE_HEADER_LEN..whole], FILE_HEADER_LEN as u64, jpath, &mut report);
        *decoded += entries.len() as u64;
        merged.absorb(entries);
        journal_read = Some((id, whole as u64));
    }
    Ok(Some(ReadSoFar { snap: snap_read, journal: journal_read, merged }))
}

/// Makes a group directory (and its parent) exist durably.
/// Returns the time the group was registered (ns since the Unix epoch).
pub(crate) fn ensure_group_dir(dir: &Path) -> Result<u64> {
    let meta = dir.join(GROUP_META);
    if let Some(t) = registered_at(dir) {
        return Ok(t);
    }
    crate::storage::file::create_dir_durable(dir).ctx("create group directory", dir)?;
    if let Some(p) = dir.parent() {
        sync_dir(p).ctx("sync groups directory", p)?;
    }
    let now = now_ns();
    let text = serde_json::json!({ "registered": now }).to_string();
    write_atomic(&meta, text.as_bytes()).ctx("write", &meta)?;
    Ok(now)
}

/// Name of the file holding a group's registration time.
pub(crate) const GROUP_META: &str = "group.json";

/// When the group was registered, if recorded.
pub(crate) fn registered_at(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join(GROUP_META)).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?.get("registered")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_survive_reopen_and_the_newest_generation_wins() {
        let d = tempfile::tempdir().unwrap();
        let (mut s, _) = CheckpointStore::open(d.path()).unwrap();
        s.persist(&[("a".into(), 10, Kind::Position), ("b".into(), 3, Kind::Position)]).unwrap();
        s.persist(&[("a".into(), 20, Kind::Position)]).unwrap();
        drop(s);
        let (s, rep) = CheckpointStore::open(d.path()).unwrap();
        assert_eq!(rep, LoadReport::default());
        assert_eq!(s.get("a").map(|p| p.next_seq), Some(20));
        assert_eq!(s.get("b").map(|p| p.next_seq), Some(3));
    }

    #[test]
    fn a_damaged_newest_entry_falls_back_to_the_previous_one() {
        let d = tempfile::tempdir().unwrap();
        let (mut s, _) = CheckpointStore::open(d.path()).unwrap();
        s.persist(&[("a".into(), 10, Kind::Position)]).unwrap();
        s.persist(&[("a".into(), 20, Kind::Position)]).unwrap();
        drop(s);
        let p = d.path().join(JOURNAL_FILE);
        let mut b = std::fs::read(&p).unwrap();
        let last = b.len() - 100;
        b[last] ^= 0x10;
        std::fs::write(&p, &b).unwrap();
        let (s, rep) = CheckpointStore::open(d.path()).unwrap();
        assert_eq!(rep.damaged.len(), 1);
        assert_eq!(s.get("a").map(|p| p.next_seq), Some(10));
    }

    #[test]
    fn a_member_whose_lease_was_taken_cannot_persist_and_the_new_owner_wins() {
        let d = tempfile::tempdir().unwrap();
        let (mut a, _) = CheckpointStore::open(d.path()).unwrap();
        let (mut b, _) = CheckpointStore::open(d.path()).unwrap();
        a.set_member(1, None, None);
        b.set_member(2, None, None);
        assert_eq!(a.claim("t", &mut |_| Ok(false)).unwrap(), Some(None));
        assert!(a.persist(&[("t".into(), 10, Kind::Position)]).unwrap().is_empty());
        assert_eq!(b.claim("t", &mut |_| Ok(false)).unwrap(), None, "a healthy owner's lease is refused");
        let taken = b.claim("t", &mut |owner| Ok(owner == 1)).unwrap();
        assert_eq!(taken.flatten().map(|p| p.next_seq), Some(10));
        assert!(b.persist(&[("t".into(), 20, Kind::Position)]).unwrap().is_empty());
        assert_eq!(a.persist(&[("t".into(), 15, Kind::Position)]).unwrap(), ["t"], "the old owner is fenced");
        assert_eq!(a.lost(&["t".into()]).unwrap(), ["t"]);
        drop((a, b));
        let (s, _) = CheckpointStore::open(d.path()).unwrap();
        assert_eq!(s.get("t").map(|p| (p.next_seq, p.generation >> EPOCH_SHIFT)), Some((20, 2)));
    }

    #[test]
    fn generations_of_a_later_epoch_outrank_every_earlier_one() {
        assert_eq!(next_generation(None, None), Some(1));
        assert_eq!(next_generation(Some(7), None), Some(8));
        let e1 = next_generation(Some(7), Some(1)).unwrap();
        assert_eq!(e1, (1 << EPOCH_SHIFT) | 1, "an entry from before leases is outranked");
        assert_eq!(next_generation(Some(e1), Some(1)), Some(e1 + 1));
        let e2 = next_generation(Some(e1 + 5), Some(2)).unwrap();
        assert!(e2 > e1 + 1_000_000);
        assert_eq!(next_generation(Some(e2), Some(1)), None, "a replaced owner gets no generation");
    }

    #[test]
    fn compaction_keeps_every_position() {
        let d = tempfile::tempdir().unwrap();
        let (mut s, _) = CheckpointStore::open(d.path()).unwrap();
        for i in 0..3000u64 {
            s.persist(&[(format!("t{}", i % 7), i, Kind::Position)]).unwrap();
        }
        drop(s);
        let (s, _) = CheckpointStore::open(d.path()).unwrap();
        for t in 0..7u64 {
            let want = (0..3000u64).filter(|i| i % 7 == t).max().unwrap();
            assert_eq!(s.get(&format!("t{t}")).map(|p| p.next_seq), Some(want));
        }
        assert!(std::fs::metadata(d.path().join(JOURNAL_FILE)).unwrap().len() < 1100 * ENTRY_LEN as u64);
    }

    #[test]
    fn a_reload_sees_what_another_member_appended_compacted_or_forgot() {
        let d = tempfile::tempdir().unwrap();
        let (mut a, _) = CheckpointStore::open(d.path()).unwrap();
        let (mut b, _) = CheckpointStore::open(d.path()).unwrap();
        let next = |b: &mut CheckpointStore, t: &str| b.reload(t).unwrap().map(|p| p.next_seq);
        assert_eq!(next(&mut b, "t0"), None);
        a.persist(&[("t0".into(), 5, Kind::Position)]).unwrap();
        assert_eq!(next(&mut b, "t0"), Some(5));
        // Appends after b's last read, then b's own, then a's again.
        a.persist(&[("t0".into(), 7, Kind::Position), ("t1".into(), 1, Kind::Position)]).unwrap();
        b.persist(&[("t2".into(), 2, Kind::Position)]).unwrap();
        a.persist(&[("t1".into(), 3, Kind::Position)]).unwrap();
        assert_eq!((next(&mut b, "t0"), next(&mut b, "t1"), next(&mut b, "t2")), (Some(7), Some(3), Some(2)));
        // Compaction replaces both files: the journal starts over, shorter.
        a.compact().unwrap();
        a.persist(&[("t0".into(), 9, Kind::Position)]).unwrap();
        assert_eq!((next(&mut b, "t0"), next(&mut b, "t1"), next(&mut b, "t2")), (Some(9), Some(3), Some(2)));
        for i in 10..40u64 {
            a.persist(&[("t1".into(), i, Kind::Position)]).unwrap();
        }
        assert_eq!(next(&mut b, "t1"), Some(39));
        // A forgotten topic has no position until one is saved again.
        a.reload("t2").unwrap();
        a.persist(&[("t2".into(), 0, Kind::Forget)]).unwrap();
        assert_eq!(next(&mut b, "t2"), None);
        a.persist(&[("t2".into(), 4, Kind::Position)]).unwrap();
        assert_eq!(next(&mut b, "t2"), Some(4));
        // Whatever b read step by step is what a fresh load finds.
        let (all, _) = load(d.path()).unwrap();
        for t in ["t0", "t1", "t2"] {
            assert_eq!(b.reload(t).unwrap(), all.get(t).copied(), "{t}");
        }
    }

    #[test]
    fn taking_over_topics_one_by_one_decodes_each_saved_entry_about_once() {
        // Another member saved 1000 topics; this one takes them over one at
        // a time, as a balancing tick does, saving each as it goes.
        let d = tempfile::tempdir().unwrap();
        let (mut a, _) = CheckpointStore::open(d.path()).unwrap();
        let n = 1000u64;
        let all: Vec<(String, u64, Kind)> = (0..n).map(|i| (format!("t{i}"), i + 1, Kind::Position)).collect();
        a.persist(&all).unwrap();
        let (mut b, _) = CheckpointStore::open(d.path()).unwrap();
        for i in 0..n {
            let t = format!("t{i}");
            assert_eq!(b.reload(&t).unwrap().map(|p| p.next_seq), Some(i + 1), "{t}");
            b.persist(&[(t, i + 2, Kind::Position)]).unwrap();
        }
        // Reading the whole journal per topic would decode about n * n entries.
        assert!(
            b.reload_decoded <= 3 * n,
            "{} entries decoded to take over {n} topics (each read again per topic)",
            b.reload_decoded
        );
    }
}
