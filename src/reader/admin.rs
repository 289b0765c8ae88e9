//! [`Group`]: a consumer group for operators and tools (the msource
//! `offset_checker` and failure-queue tools, `kafka-consumer-groups`):
//! positions, resets, lag, members and dead letters. Everything here works
//! while the group's readers run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::dead;
use super::policy::StartFrom;
use super::pool::balance::{REQUESTS_DIR, Request};
use crate::config::Config;
use crate::error::{Error, IoContext, Result};
use crate::format::checkpoint::Kind;
use crate::group::checkpoint::{self, CheckpointStore};
use crate::group::members::{MemberInfo, OWNERS_FILE, live_members};
use crate::group::registry as group;
use crate::layout::{Layout, check_group, check_topic, list_topics};
use crate::storage::file::{random_u64, sync_dir};
use crate::storage::range_lock::{RangeLocks, slot_of};
use crate::writer::Writer;

/// A consumer group of a log directory, for inspection and control.
///
/// ```no_run
/// use logstream::{Config, Group, StartFrom};
/// let cfg = Config::load()?;
/// let g = Group::open(&cfg, "shipper")?;
/// for t in g.lag()? {
///     println!("{}: {} records behind", t.topic, t.lag_records);
/// }
/// g.reset("orders", StartFrom::Latest)?; // skip the backlog of one topic
/// # Ok::<(), logstream::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Group {
    cfg: Config,
    layout: Layout,
    name: String,
    dir: PathBuf,
}

/// A group's saved position in one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GroupPosition {
    /// The topic.
    pub topic: String,
    /// Next sequence number the group delivers.
    pub next_seq: u64,
    /// When it was saved (ns since the Unix epoch).
    pub time: u64,
    /// Whether an operator set it (a reset) rather than a reader.
    pub reset: bool,
}

/// How far behind a group is in one topic (one row of `logstream lag`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TopicLag {
    /// The topic.
    pub topic: String,
    /// First retained sequence number.
    pub first_seq: u64,
    /// Sequence number the next record written will get.
    pub next_seq: u64,
    /// The group's saved position (next record it delivers); `None` if it
    /// has not read the topic yet.
    pub confirmed: Option<u64>,
    /// Records retained and not yet confirmed.
    pub lag_records: u64,
    /// Bytes of those records as stored (frames with their headers).
    pub lag_bytes: u64,
    /// When the position was last saved (ns since the Unix epoch).
    pub last_confirm: Option<u64>,
    /// Id of the member delivering the topic now, if one does.
    pub owner: Option<String>,
}

/// A record that kept failing, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeadLetter {
    /// The topic the record was written to.
    pub topic: String,
    /// Its sequence number there.
    pub seq: u64,
    /// When it was written (ns since the Unix epoch).
    pub timestamp: u64,
    /// When it became a dead letter.
    pub time: u64,
    /// Deliveries attempted.
    pub attempts: u32,
    /// The last error the forwarder returned.
    pub error: String,
    /// The record's bytes.
    pub data: Vec<u8>,
    /// Its position among the topic's dead letters.
    pub dead_seq: u64,
}

impl Group {
    /// Opens group `name` of the log in `cfg.base_dir()`. A group exists
    /// once a reader has started with it.
    ///
    /// # Errors
    /// [`Error::InvalidGroup`], [`Error::NoSuchGroup`].
    pub fn open(cfg: &Config, name: &str) -> Result<Group> {
        check_group(name)?;
        let layout = Layout::new(cfg.base_dir());
        let dir = layout.group(name);
        if checkpoint::registered_at(&dir).is_none() {
            return Err(Error::NoSuchGroup { group: name.to_owned(), path: dir });
        }
        Ok(Group { cfg: cfg.clone(), layout, name: name.to_owned(), dir })
    }

    /// The groups registered in the log in `cfg.base_dir()`.
    ///
    /// # Errors
    /// I/O errors listing the directory.
    pub fn list(cfg: &Config) -> Result<Vec<String>> {
        group::list_groups(&Layout::new(cfg.base_dir()))
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The saved position of every topic the group has read.
    ///
    /// # Errors
    /// I/O errors reading the checkpoints (damaged entries fall back to
    /// older ones, as when a reader starts).
    pub fn positions(&self) -> Result<Vec<GroupPosition>> {
        let (map, _) = checkpoint::peek(&self.dir)?;
        let mut v: Vec<GroupPosition> = map
            .into_iter()
            .map(|(topic, p)| GroupPosition { topic, next_seq: p.next_seq, time: p.time, reset: p.reset })
            .collect();
        v.sort_by(|a, b| a.topic.cmp(&b.topic));
        Ok(v)
    }

    /// The readers consuming the group now, with the topics each owns.
    ///
    /// # Errors
    /// I/O errors reading the members directory.
    pub fn members(&self) -> Result<Vec<MemberInfo>> {
        live_members(&self.dir, None, self.cfg.member_timeout())
    }

    /// Per topic: retained range, the group's position, and what is left
    /// to deliver.
    ///
    /// # Errors
    /// I/O errors reading the directory.
    pub fn lag(&self) -> Result<Vec<TopicLag>> {
        let (saved, _) = checkpoint::peek(&self.dir)?;
        let members = self.members()?;
        let mut out = Vec::new();
        for topic in list_topics(&self.layout)? {
            let dir = self.layout.topic(&topic);
            let info = match crate::segment::extent::topic_info(&dir, &topic) {
                Ok(i) => i,
                Err(e) if is_gone(&e) => continue, // deleted meanwhile
                Err(e) => return Err(e),
            };
            let pos = saved.get(&topic);
            let from = pos.map_or(info.first_seq, |p| p.next_seq).max(info.first_seq);
            let lag_records = info.next_seq.saturating_sub(from);
            let lag_bytes = if lag_records == 0 { 0 } else { crate::segment::extent::frame_bytes_from(&dir, from)? };
            out.push(TopicLag {
                // After a takeover the stale member may still list the topic.
                owner: members
                    .iter()
                    .filter(|m| m.topics.contains(&topic))
                    .min_by_key(|m| m.stale)
                    .map(|m| m.id.clone()),
                topic,
                first_seq: info.first_seq,
                next_seq: info.next_seq,
                confirmed: pos.map(|p| p.next_seq),
                lag_records,
                lag_bytes,
                last_confirm: pos.map(|p| p.time),
            });
        }
        Ok(out)
    }

    /// Moves the group's position in `topic` and returns the sequence
    /// number it now delivers next (`Seq` is clamped to what is retained).
    /// A running reader that owns the topic applies it after the batch it is
    /// delivering, within about `rebalance_interval_ms`; records delivered
    /// from then on start there.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`], [`Error::NoSuchTopic`],
    /// [`Error::ResetTimedOut`] if the owning reader did not apply it in
    /// time (nothing is changed then), I/O errors.
    pub fn reset(&self, topic: &str, to: StartFrom) -> Result<u64> {
        check_topic(topic)?;
        let tdir = self.layout.topic(topic);
        if !tdir.is_dir() {
            return Err(Error::NoSuchTopic { topic: topic.to_owned() });
        }
        let info = crate::segment::extent::topic_info(&tdir, topic)?;
        let seq = match to {
            StartFrom::Earliest => info.first_seq,
            StartFrom::Latest => info.next_seq,
            StartFrom::Seq(n) => n.clamp(info.first_seq, info.next_seq),
            StartFrom::Time(t) => {
                let log_id =
                    crate::writer::open::read_meta(&self.layout.meta()).and_then(|m| m.log_id_u64()).unwrap_or(0);
                super::cursor::seq_at_time(&tdir, topic, t, log_id)?
            }
        };
        let owners_path = self.dir.join(OWNERS_FILE);
        let owners = RangeLocks::open(&owners_path).ctx("open topic owner locks", &owners_path)?;
        let slot = slot_of(topic);
        if owners.try_lock(slot).ctx("lock topic owner slot", &owners_path)? {
            // A member that took the topic over from a frozen one owns it by
            // its lease, before it holds the byte: ask it.
            let owner = checkpoint::lease_owner(&self.dir, topic)?;
            if owner != 0
                && matches!(
                    crate::group::members::liveness(&self.dir, &format!("{owner:016x}"))?,
                    crate::group::members::Liveness::Alive(_)
                )
            {
                let _ = owners.unlock(slot);
                return self.ask_owner(topic, seq);
            }
            // No reader owns the topic: write the position, holding the
            // topic so that none takes it meanwhile.
            let (mut store, _) = CheckpointStore::open(&self.dir)?;
            store.reload(topic)?;
            let r = store.persist(&[(topic.to_owned(), seq, Kind::Reset)]);
            let _ = owners.unlock(slot);
            r?;
            log::info!("group {:?}: topic {topic:?} reset to seq {seq}", self.name);
            return Ok(seq);
        }
        self.ask_owner(topic, seq)
    }

    /// Hands a reset to the reader that owns the topic, and waits for it.
    fn ask_owner(&self, topic: &str, seq: u64) -> Result<u64> {
        let dir = self.dir.join(REQUESTS_DIR);
        std::fs::create_dir_all(&dir).ctx("create reset requests directory", &dir)?;
        let nonce = format!("{:016x}", random_u64());
        let tmp = dir.join(format!(".{nonce}.tmp"));
        let path = dir.join(format!("{nonce}.req"));
        let body = serde_json::to_vec(&Request { topic: topic.to_owned(), seq })
            .map_err(|e| Error::io("encode reset request", &path, e.into()))?;
        std::fs::write(&tmp, body).ctx("write reset request", &tmp)?;
        std::fs::rename(&tmp, &path).ctx("write reset request", &path)?;
        let waited = Duration::from_secs(10) + self.cfg.rebalance_interval() * 4;
        let deadline = Instant::now() + waited;
        while Instant::now() < deadline {
            if !path.exists() {
                return Ok(seq);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Err(Error::ResetTimedOut { group: self.name.clone(), topic: topic.to_owned(), seq, waited }),
            // Taken just now: it is being applied.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(seq),
            Err(e) => Err(Error::io("withdraw reset request", &path, e)),
        }
    }

    /// Removes the group: its positions stop holding data back (consumed
    /// segments are deleted by the other groups' readers), and its dead
    /// letters are deleted.
    ///
    /// # Errors
    /// [`Error::GroupBusy`] while a reader consumes the group; I/O errors.
    pub fn deregister(self) -> Result<()> {
        group::refuse_if_active(&self.dir, &self.name)?;
        let tmp = self.layout.tmp();
        std::fs::create_dir_all(&tmp).ctx("create directory", &tmp)?;
        let gone = tmp.join(format!("deregistered-{}-{:016x}", self.name, random_u64()));
        std::fs::rename(&self.dir, &gone).ctx("remove group", &self.dir)?;
        let groups = self.layout.groups();
        sync_dir(&groups).ctx("sync groups directory", &groups)?;
        std::fs::remove_dir_all(&gone).ctx("delete removed group", &gone)?;
        log::info!("group {:?} deregistered", self.name);
        Ok(())
    }

    /// Dead letters waiting, per topic.
    ///
    /// # Errors
    /// I/O errors reading the dead-letter log.
    pub fn dead_letter_counts(&self) -> Result<Vec<(String, u64)>> {
        let dcfg = dead::config(&self.dir);
        let dlayout = Layout::new(dcfg.base_dir());
        let replayed = self.replayed()?;
        let mut out = Vec::new();
        for topic in list_topics(&dlayout)? {
            let info = crate::segment::extent::topic_info(&dlayout.topic(&topic), &topic)?;
            let from = replayed.get(&topic).map_or(0, |p| p.next_seq).max(info.first_seq);
            let n = info.next_seq.saturating_sub(from);
            if n > 0 {
                out.push((topic, n));
            }
        }
        Ok(out)
    }

    /// Up to `max` dead letters of `topic`, oldest first.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`], I/O errors, [`Error::Corrupt`] for a dead
    /// letter that does not decode.
    pub fn dead_letters(&self, topic: &str, max: usize) -> Result<Vec<DeadLetter>> {
        check_topic(topic)?;
        let mut out = Vec::new();
        self.walk_dead_letters(topic, |dl| {
            out.push(dl);
            Ok(out.len() < max)
        })?;
        Ok(out)
    }

    /// Writes every dead letter (of `topic`, or of all topics) back into
    /// its original topic through `writer` (as a new record: a new sequence
    /// number), then removes it from the dead letters. Returns how many.
    /// A crash part way replays at most the last 256 again.
    ///
    /// # Errors
    /// The writer's errors, I/O errors.
    pub fn replay_dead_letters(&self, topic: Option<&str>, writer: &Writer) -> Result<u64> {
        self.replay(topic, |dl| writer.write(&dl.topic, &dl.data).map(|_| ()), || writer.flush())
    }

    /// Hands every dead letter (of `topic`, or of all topics) to `f`, in
    /// order, and removes each one `f` accepts; stops at the first error.
    /// Returns how many were accepted. A crash part way hands at most the
    /// last 256 again.
    ///
    /// # Errors
    /// [`Error::Replay`] with `f`'s error (the dead letters from the failed
    /// one on stay); I/O errors.
    pub fn replay_dead_letters_with<E>(
        &self,
        topic: Option<&str>,
        mut f: impl FnMut(&DeadLetter) -> std::result::Result<(), E>,
    ) -> Result<u64>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let group = self.name.clone();
        self.replay(
            topic,
            |dl| {
                f(dl).map_err(|e| Error::Replay {
                    group: group.clone(),
                    topic: dl.topic.clone(),
                    seq: dl.seq,
                    source: e.into(),
                })
            },
            || Ok(()),
        )
    }

    /// Deletes the dead letters (of `topic`, or of all topics) without
    /// replaying them; returns how many.
    ///
    /// # Errors
    /// I/O errors.
    pub fn clear_dead_letters(&self, topic: Option<&str>) -> Result<u64> {
        let counts = self.dead_letter_counts()?;
        let w = dead::open_writer(&self.dir, Duration::from_secs(30))?;
        let mut n = 0;
        for (t, c) in counts {
            if topic.is_none_or(|x| x == t) {
                self.drop_dead_topic(&w, &t)?;
                n += c;
            }
        }
        w.close()?;
        Ok(n)
    }

    /// Replays dead letters, holding the dead-letter log's writer so that
    /// none is added meanwhile; a fully replayed topic is deleted.
    fn replay(
        &self,
        topic: Option<&str>,
        mut deliver: impl FnMut(&DeadLetter) -> Result<()>,
        mut before_save: impl FnMut() -> Result<()>,
    ) -> Result<u64> {
        if let Some(t) = topic {
            check_topic(t)?;
        }
        let w = dead::open_writer(&self.dir, Duration::from_secs(30))?;
        let (mut store, _) = self.replay_store()?;
        let mut total = 0;
        for (t, _) in self.dead_letter_counts()? {
            if topic.is_some_and(|x| x != t) {
                continue;
            }
            let mut pending: Option<u64> = None;
            let mut failed = None;
            self.walk_dead_letters(&t, |dl| {
                if let Err(e) = deliver(&dl) {
                    failed = Some(e);
                    return Ok(false);
                }
                total += 1;
                pending = Some(dl.dead_seq + 1);
                if total % 256 == 0 {
                    before_save()?;
                    store.persist(&[(t.clone(), dl.dead_seq + 1, Kind::Position)])?;
                    pending = None;
                }
                Ok(true)
            })?;
            if let Some(next) = pending {
                before_save()?;
                store.persist(&[(t.clone(), next, Kind::Position)])?;
            }
            if let Some(e) = failed {
                w.close()?;
                return Err(e);
            }
            self.drop_dead_topic(&w, &t)?;
        }
        w.close()?;
        Ok(total)
    }

    /// Deletes a dead-letter topic and forgets how far it was replayed.
    fn drop_dead_topic(&self, w: &Writer, topic: &str) -> Result<()> {
        match w.delete_topic(topic, crate::writer::DeleteMode::Force) {
            Ok(_) | Err(Error::NoSuchTopic { .. }) => {}
            Err(e) => return Err(e),
        }
        let (mut store, _) = self.replay_store()?;
        store.persist(&[(topic.to_owned(), 0, Kind::Forget)]).map(|_| ())
    }

    /// Calls `f` on the dead letters of `topic` not yet replayed, in order,
    /// while it returns `Ok(true)`.
    fn walk_dead_letters(&self, topic: &str, mut f: impl FnMut(DeadLetter) -> Result<bool>) -> Result<()> {
        let dcfg = dead::config(&self.dir);
        if !Layout::new(dcfg.base_dir()).topic(topic).is_dir() {
            return Ok(());
        }
        let from = self.replayed()?.get(topic).map_or(0, |p| p.next_seq);
        let mut r = super::TopicReader::open(&dcfg, topic, from)?;
        while let Some(b) = r.next_batch(4 << 20)? {
            for rec in b.records() {
                let e = crate::format::dead_letter::decode(rec.data()).map_err(|why| Error::Corrupt {
                    path: dcfg.base_dir().join("topics").join(topic),
                    offset: rec.seq(),
                    reason: format!("dead letter {}: {why}", rec.seq()),
                })?;
                let dl = DeadLetter {
                    topic: topic.to_owned(),
                    seq: e.seq,
                    timestamp: e.timestamp,
                    time: e.time,
                    attempts: e.attempts,
                    error: e.error.to_owned(),
                    data: e.data.to_vec(),
                    dead_seq: rec.seq(),
                };
                if !f(dl)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// How far each dead-letter topic was replayed.
    fn replayed(&self) -> Result<std::collections::HashMap<String, checkpoint::Position>> {
        let dir = Layout::new(&dead::dir(&self.dir)).group(dead::REPLAY_GROUP);
        if !dir.is_dir() {
            return Ok(Default::default());
        }
        Ok(checkpoint::load(&dir)?.0)
    }

    fn replay_store(&self) -> Result<(CheckpointStore, checkpoint::LoadReport)> {
        let dir = Layout::new(&dead::dir(&self.dir)).group(dead::REPLAY_GROUP);
        std::fs::create_dir_all(&dir).ctx("create replay positions", &dir)?;
        CheckpointStore::open(&dir)
    }
}

fn is_gone(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}
