//! One look at a log directory, and what successive looks tell: rates,
//! the last minute of them, how long a group's delivery has not moved.
//!
//! Everything is read from the files, as `stat`, `lag` and `dlq count` read
//! them: no lock is taken and the writer and readers do not know `top` is
//! there. What only a reader's process knows — that its closure fails on a
//! topic and the batch waits for a retry — it publishes in its member file
//! (format 2): `top` shows the attempts and the last error beside how long
//! the group's position has not moved while records wait (`stalled`), and
//! the dead letters it left.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logstream::format::block::COMPRESSED;
use logstream::format::naming::DATA_EXT;
use logstream::format::segment::DataHeader;
use logstream::{Config, Group, TopicReader};
use serde::Serialize;

use crate::commands::groups::open_groups;
use crate::exit::Failure;
use crate::units;

/// Rates kept per row: one per interval, the last minute at 1 s.
pub const HISTORY: usize = 60;

/// What `top` shows at one moment (and prints as one JSON line).
#[derive(Debug, Clone, Serialize)]
pub struct Screen {
    pub dir: PathBuf,
    pub time: String,
    pub time_ns: u64,
    pub topics: Vec<TopicRow>,
    pub groups: Vec<GroupRow>,
}

/// One topic.
#[derive(Debug, Clone, Serialize)]
pub struct TopicRow {
    pub topic: String,
    pub first_seq: u64,
    pub next_seq: u64,
    pub records: u64,
    pub disk_bytes: u64,
    pub segments: usize,
    /// Segments stored LZ4-compressed (`compress_topics`).
    pub compressed_segments: usize,
    /// Records written per second since the last look (`null` at the first).
    pub write_rate: Option<f64>,
    /// The last minute of `write_rate`, oldest first.
    #[serde(skip)]
    pub history: Vec<f64>,
}

/// One group in one topic.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    pub group: String,
    pub topic: String,
    /// The group's position: the next record it delivers (`null`: not read yet).
    pub confirmed: Option<u64>,
    pub lag_records: u64,
    pub lag_bytes: u64,
    /// Age of the oldest record not yet confirmed (`null`: no lag).
    pub lag_seconds: Option<f64>,
    /// Records confirmed per second since the last look (`null` at the first).
    pub consume_rate: Option<f64>,
    /// The member delivering the topic now: `pid 1234 (member id)`.
    pub owner: Option<String>,
    /// Seconds the position has not moved while records wait (0: moving or caught up).
    pub stalled_seconds: f64,
    /// Failed attempts of the batch the owner waits to retry (0: none), as
    /// the owner published it (an owner of an older version says nothing).
    pub retry_attempts: u32,
    /// What the owner's closure said of the last failed attempt.
    pub retry_error: Option<String>,
    pub dead_letters: u64,
    /// The last minute of `consume_rate`, oldest first.
    #[serde(skip)]
    pub history: Vec<f64>,
}

/// Successive looks at one log.
pub struct Sampler {
    cfg: Config,
    last: Option<Instant>,
    next_seqs: HashMap<String, u64>,
    positions: HashMap<(String, String), u64>,
    topic_rates: HashMap<String, VecDeque<f64>>,
    group_rates: HashMap<(String, String), VecDeque<f64>>,
    still_since: HashMap<(String, String), Instant>,
    /// Segments seen compressed (they stay so); plain ones are looked at again.
    compressed: HashMap<PathBuf, bool>,
}

impl Sampler {
    /// A sampler of the log in `cfg`.
    pub fn new(cfg: &Config) -> Sampler {
        Sampler {
            cfg: cfg.clone(),
            last: None,
            next_seqs: HashMap::new(),
            positions: HashMap::new(),
            topic_rates: HashMap::new(),
            group_rates: HashMap::new(),
            still_since: HashMap::new(),
            compressed: HashMap::new(),
        }
    }

    /// Looks at the log now.
    ///
    /// # Errors
    /// I/O errors reading the directory.
    pub fn sample(&mut self) -> Result<Screen, Failure> {
        let now = Instant::now();
        let elapsed = self.last.map(|t| now.duration_since(t).as_secs_f64()).filter(|&s| s > 0.0);
        self.last = Some(now);
        let time_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let dir = self.cfg.base_dir().to_path_buf();

        let mut topics = Vec::new();
        let mut next_seqs = HashMap::new();
        for i in logstream::topics(&self.cfg)? {
            let rate = elapsed
                .and_then(|s| self.next_seqs.get(&i.topic).map(|&before| i.next_seq.saturating_sub(before) as f64 / s));
            let history = push(self.topic_rates.entry(i.topic.clone()).or_default(), rate);
            next_seqs.insert(i.topic.clone(), i.next_seq);
            let compressed_segments = self.count_compressed(&dir.join("topics").join(&i.topic));
            topics.push(TopicRow {
                first_seq: i.first_seq,
                next_seq: i.next_seq,
                records: i.records,
                disk_bytes: i.disk_bytes,
                segments: i.segments,
                compressed_segments,
                write_rate: rate,
                history,
                topic: i.topic,
            });
        }
        self.topic_rates.retain(|t, _| next_seqs.contains_key(t));
        // Segments deleted since (retention) are forgotten.
        let topics_dir = dir.join("topics");
        self.compressed.retain(|p, _| p.parent().is_some_and(|d| d.starts_with(&topics_dir)) && p.exists());
        self.next_seqs = next_seqs;

        let mut groups = Vec::new();
        let mut positions = HashMap::new();
        for g in open_groups(&self.cfg, None)? {
            self.group_rows(&g, now, elapsed, time_ns, &mut positions, &mut groups)?;
        }
        self.group_rates.retain(|k, _| positions.contains_key(k));
        self.still_since.retain(|k, _| positions.contains_key(k));
        self.positions = positions;
        Ok(Screen { dir, time: units::time(time_ns), time_ns, topics, groups })
    }

    fn group_rows(
        &mut self,
        g: &Group,
        now: Instant,
        elapsed: Option<f64>,
        time_ns: u64,
        positions: &mut HashMap<(String, String), u64>,
        out: &mut Vec<GroupRow>,
    ) -> Result<(), Failure> {
        let members = g.members()?;
        let dead: HashMap<String, u64> = g.dead_letter_counts()?.into_iter().collect();
        for l in g.lag()? {
            let key = (g.name().to_owned(), l.topic.clone());
            let at = l.confirmed.unwrap_or(l.first_seq).max(l.first_seq);
            let before = self.positions.get(&key).copied();
            let rate = elapsed.and_then(|s| before.map(|b| at.saturating_sub(b) as f64 / s));
            let history = push(self.group_rates.entry(key.clone()).or_default(), rate);
            let moved = before.is_none_or(|b| b != at);
            if l.lag_records == 0 || moved {
                self.still_since.insert(key.clone(), now);
            }
            let stalled = self.still_since.get(&key).map_or(0.0, |t| now.duration_since(*t).as_secs_f64());
            positions.insert(key, at);
            let lag_seconds = (l.lag_records > 0)
                .then(|| self.record_time(&l.topic, at))
                .flatten()
                .map(|ts| time_ns.saturating_sub(ts) as f64 / 1e9);
            let owner_info = l.owner.as_ref().and_then(|id| members.iter().find(|m| &m.id == id));
            let owner = l.owner.as_ref().map(|id| match owner_info {
                Some(m) => format!("pid {} ({id})", m.pid),
                None => id.clone(),
            });
            let retrying = owner_info.and_then(|m| m.retrying.iter().find(|r| r.topic == l.topic));
            out.push(GroupRow {
                group: g.name().to_owned(),
                dead_letters: dead.get(&l.topic).copied().unwrap_or(0),
                topic: l.topic,
                confirmed: l.confirmed,
                lag_records: l.lag_records,
                lag_bytes: l.lag_bytes,
                lag_seconds,
                consume_rate: rate,
                owner,
                stalled_seconds: stalled,
                retry_attempts: retrying.map_or(0, |r| r.attempts),
                retry_error: retrying.map(|r| r.error.clone()),
                history,
            });
        }
        Ok(())
    }

    /// The write time of record `seq` of `topic` (or of the first after it,
    /// if it is gone), read with a reader of one record.
    fn record_time(&self, topic: &str, seq: u64) -> Option<u64> {
        let mut r = TopicReader::open(&self.cfg, topic, seq).ok()?;
        let batch = r.next_batch(1).ok()??;
        batch.records().next().map(|rec| rec.timestamp())
    }

    /// Segments of the topic in `dir` stored compressed, from their headers.
    fn count_compressed(&mut self, dir: &Path) -> usize {
        let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
        let mut n = 0;
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != DATA_EXT) {
                continue;
            }
            let known = self.compressed.get(&path).copied();
            let is = match known {
                Some(true) => true,
                _ => header_flags(&path).is_some_and(|f| f & COMPRESSED != 0),
            };
            self.compressed.insert(path, is);
            n += usize::from(is);
        }
        n
    }
}

/// The flags of a data file's header; `None` if it cannot be read.
fn header_flags(path: &Path) -> Option<u32> {
    let mut head = [0u8; 64];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    DataHeader::decode(&head).ok().map(|h| h.flags)
}

/// Adds `rate` to a row's history (once a rate is known) and returns the
/// history, oldest first.
fn push(history: &mut VecDeque<f64>, rate: Option<f64>) -> Vec<f64> {
    if let Some(r) = rate {
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(r);
    }
    history.iter().copied().collect()
}

/// How long to wait for the next look: `interval` after the last one.
pub fn until_next(started: Instant, interval: Duration) -> Duration {
    interval.saturating_sub(started.elapsed())
}
