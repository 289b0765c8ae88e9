//! Configuration: the seed's `meta.json` keys plus logstream's own, with
//! sizes like `"512K"`, `"200M"`, `"4G"`, `//` and `/* */` comments, and an
//! error naming the key for anything unknown, mistyped, zero or absurd.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, IoContext, Result};
use crate::format::frame;
use crate::format::naming::name_problem;
use crate::format::segment::DATA_START;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Environment variable naming the config file for [`Config::load`].
pub const CONFIG_ENV: &str = "LOGSTREAM_CONFIG";

/// Where [`Config::load`] looks when `$LOGSTREAM_CONFIG` is not set.
pub fn default_config_path() -> PathBuf {
    if cfg!(windows) { PathBuf::from(r"C:\logstream\meta.json") } else { PathBuf::from("/etc/logstream/meta.json") }
}

/// Settings of a log directory, shared by writers and readers.
///
/// ```
/// let mut cfg = logstream::Config::new("/tmp/logstream-doc-config");
/// cfg.set_flush_interval_ms(50).set_max_concurrent_forward(8);
/// assert_eq!(cfg.flush_interval(), std::time::Duration::from_millis(50));
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    source: Option<PathBuf>,
    base_dir: PathBuf,
    idx_file_max_item_num: u64,
    data_file_max_size: u64,
    mem_max_size: u64,
    max_concurrent_forward: usize,
    compress_topics: Vec<String>,
    black_topics: Vec<String>,
    white_topics: Vec<String>,
    flush_interval_ms: u64,
    checkpoint_interval_ms: u64,
    max_batch_bytes: u64,
    /// `None`: the default, 4 MiB or what fits in a segment if less.
    max_record_bytes: Option<u64>,
    retry_initial_ms: u64,
    retry_max_ms: u64,
    retain_consumed: bool,
    poll_interval_ms: u64,
    index_interval_bytes: u64,
    durability: Durability,
    max_disk_bytes: Option<u64>,
    max_topic_bytes: Option<u64>,
    full_policy: FullPolicy,
    segment_max_age_ms: u64,
    rebalance_interval_ms: u64,
    member_timeout_ms: u64,
    max_forward_ms: u64,
    retry_max_attempts: u32,
    retention_max_age_ms: u64,
    retention_max_bytes: Option<u64>,
    retention_max_total_bytes: Option<u64>,
}

/// When a write returns, relative to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Durability {
    /// Return once the record is in the shared mapping: it survives `kill -9`
    /// at once and power loss after the next background sync (within
    /// `flush_interval_ms`). The fastest; the default.
    #[default]
    Async,
    /// Return once the record is on stable storage: after an `fdatasync`
    /// that started after its bytes were written. Concurrent callers share
    /// one sync (group commit).
    Sync,
}

/// What a write does when `max_disk_bytes` (or `max_topic_bytes`) is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullPolicy {
    /// Wait for consumers to free space (their consumed segments are deleted)
    /// for up to `max_wait`, then fail with [`crate::Error::Full`] (the Aliyun
    /// producer's `MaxBlockSec`).
    Block {
        /// Longest wait.
        max_wait: Duration,
    },
    /// Fail at once with [`crate::Error::Full`].
    Error,
    /// Delete the oldest sealed segments, even unconsumed ones; readers of
    /// groups that had not consumed them are told of the gap (never silently).
    DropOldest,
}

impl Default for FullPolicy {
    fn default() -> FullPolicy {
        FullPolicy::Block { max_wait: Duration::from_secs(60) }
    }
}

/// The keys a config file may contain, with a one-line description (used by
/// error messages and `meta.example.json`).
pub const KEYS: &[(&str, &str)] = &[
    ("base_dir", "directory holding the log (relative paths resolve against the config file's directory)"),
    ("idx_file_max_item_num", "records per segment before it rolls (default 1000000)"),
    ("data_file_max_size", "bytes per segment data file before it rolls (default \"1G\")"),
    ("mem_max_size", "bytes of batches handed to forwarders and not yet finished (default \"200M\")"),
    ("max_concurrent_forward", "forwarder closures running at once (default 100)"),
    ("compress_topics", "topics whose sealed segments are LZ4-compressed in the background"),
    ("black_topics", "topics not consumed (re-read when the file changes)"),
    ("white_topics", "if non-empty, only these topics are consumed (re-read when the file changes)"),
    ("flush_interval_ms", "how often written records are made durable (default 100)"),
    ("checkpoint_interval_ms", "how often confirmed positions are persisted; 0 = before the next batch (default 1000)"),
    ("max_batch_bytes", "largest batch handed to the forwarder (default \"2M\"; a larger record goes alone)"),
    ("max_record_bytes", "largest record write() accepts (default \"4M\")"),
    ("retry_initial_ms", "first delay before a failed batch is retried (default 100)"),
    ("retry_max_ms", "longest delay between retries (default 30000)"),
    ("retain_consumed", "keep segments every group has consumed instead of deleting them (default false)"),
    ("poll_interval_ms", "fallback poll of the directory when no file event arrives (default 1000)"),
    ("index_interval_bytes", "data bytes between sparse index entries (default 4096)"),
    ("durability", "\"async\" (default: durable within flush_interval_ms) or \"sync\" (write() returns once on disk)"),
    ("max_disk_bytes", "cap on the log's disk use, all topics (default: none)"),
    ("max_topic_bytes", "cap on one topic's disk use (default: none)"),
    ("full_policy", "at a cap: \"block\" (default), \"error\" or \"drop_oldest\""),
    ("full_max_wait_ms", "with full_policy \"block\": longest wait before Error::Full (default 60000)"),
    (
        "segment_max_age_ms",
        "roll a segment once it is this old, so age retention works on quiet topics (default 0: never)",
    ),
    (
        "rebalance_interval_ms",
        "how often members of a group rebalance topics; a dead member's topics move within twice this (default 500)",
    ),
    (
        "member_timeout_ms",
        "a group member that stops heartbeating (frozen, paused) this long loses its topics to the others (default 10000; 0: never)",
    ),
    (
        "max_forward_ms",
        "a closure holding one batch longer than this loses the topic to another member (default 300000; 0: never)",
    ),
    (
        "retry_max_attempts",
        "deliveries of a batch before it goes to the group's dead letters (default 0: retry forever)",
    ),
    ("retention_max_age_ms", "delete sealed segments older than this, consumed or not (default 0: keep)"),
    (
        "retention_max_bytes",
        "per topic: delete the oldest sealed segments beyond this size, consumed or not (default: none)",
    ),
    ("retention_max_total_bytes", "all topics: delete the oldest sealed segments beyond this size (default: none)"),
];

impl Config {
    /// A config with every default, for the log in `dir` (relative paths
    /// resolve against the current directory).
    pub fn new(dir: impl AsRef<Path>) -> Config {
        let dir = dir.as_ref();
        let base_dir = if dir.is_relative() {
            std::env::current_dir().map(|c| c.join(dir)).unwrap_or_else(|_| dir.to_path_buf())
        } else {
            dir.to_path_buf()
        };
        // `./log` is shown as `/srv/app/log`, not `/srv/app/./log`.
        let base_dir: PathBuf = base_dir.components().collect();
        Config {
            source: None,
            base_dir,
            idx_file_max_item_num: 1_000_000,
            data_file_max_size: GIB,
            mem_max_size: 200 * MIB,
            max_concurrent_forward: 100,
            compress_topics: Vec::new(),
            black_topics: Vec::new(),
            white_topics: Vec::new(),
            flush_interval_ms: 100,
            checkpoint_interval_ms: 1000,
            max_batch_bytes: 2 * MIB,
            max_record_bytes: None,
            retry_initial_ms: 100,
            retry_max_ms: 30_000,
            retain_consumed: false,
            poll_interval_ms: 1000,
            rebalance_interval_ms: 500,
            member_timeout_ms: 10_000,
            max_forward_ms: 300_000,
            retry_max_attempts: 0,
            retention_max_age_ms: 0,
            retention_max_bytes: None,
            retention_max_total_bytes: None,
            index_interval_bytes: 4096,
            durability: Durability::Async,
            max_disk_bytes: None,
            max_topic_bytes: None,
            full_policy: FullPolicy::default(),
            segment_max_age_ms: 0,
        }
    }

    /// Reads a seed-compatible `meta.json` (comments allowed).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, [`Error::ConfigSyntax`] if it
    /// is not JSON, [`Error::Config`] naming the key that is unknown, missing,
    /// mistyped or out of range.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).ctx("read config file", path)?;
        Config::from_json_str(&text, Some(path))
    }

    /// Reads `$LOGSTREAM_CONFIG`, or else [`default_config_path`].
    ///
    /// # Errors
    /// As [`Config::from_file`].
    pub fn load() -> Result<Config> {
        let path = std::env::var_os(CONFIG_ENV).map(PathBuf::from).unwrap_or_else(default_config_path);
        Config::from_file(path)
    }

    /// Parses config text. `path`, when given, is used in errors and to resolve
    /// a relative `base_dir`; without it, a relative `base_dir` resolves against
    /// the current directory.
    ///
    /// # Errors
    /// As [`Config::from_file`].
    pub fn from_json_str(text: &str, path: Option<&Path>) -> Result<Config> {
        let source = path.map(absolute);
        let shown = source.clone().unwrap_or_else(|| PathBuf::from("<config>"));
        let clean = strip_comments(text);
        let syntax = |e: serde_json::Error| Error::ConfigSyntax {
            path: shown.clone(),
            line: e.line(),
            column: e.column(),
            message: if clean.trim().is_empty() {
                "the file is empty; it must hold a JSON object with at least \"base_dir\"".into()
            } else {
                without_position(&e)
            },
        };
        let value: Value = serde_json::from_str(&clean).map_err(syntax)?;
        if value.is_object() {
            // serde_json keeps the last of two equal keys; a config must not.
            serde_json::from_str::<UniqueKeys>(&clean).map_err(syntax)?;
        }
        let bad = |key: &str, reason: String| Error::Config { path: source.clone(), key: key.into(), reason };
        let Value::Object(map) = value else {
            return Err(bad("(top level)", "the config must be a JSON object".into()));
        };
        let Some(base) = map.get("base_dir") else {
            return Err(bad("base_dir", "missing; it names the directory holding the log".into()));
        };
        let Some(base) = base.as_str() else {
            return Err(bad("base_dir", format!("expected a path string, found {base}")));
        };
        if base.is_empty() {
            return Err(bad("base_dir", "is empty".into()));
        }
        let base = PathBuf::from(base);
        let base = match (&source, base.is_relative()) {
            (Some(file), true) => file.parent().map(|d| d.join(&base)).unwrap_or(base),
            _ => base,
        };
        let mut cfg = Config::new(base);
        cfg.source = source.clone();
        let mut full_wait: Option<u64> = None;
        for (key, v) in &map {
            let k = key.as_str();
            match k {
                "base_dir" => {}
                "idx_file_max_item_num" => cfg.idx_file_max_item_num = count(v).map_err(|r| bad(k, r))?,
                "data_file_max_size" => cfg.data_file_max_size = size(v).map_err(|r| bad(k, r))?,
                "mem_max_size" => cfg.mem_max_size = size(v).map_err(|r| bad(k, r))?,
                "max_concurrent_forward" => {
                    cfg.max_concurrent_forward =
                        usize::try_from(count(v).map_err(|r| bad(k, r))?).map_err(|_| bad(k, "too large".into()))?
                }
                "compress_topics" => cfg.compress_topics = topics(v).map_err(|r| bad(k, r))?,
                "black_topics" => cfg.black_topics = topics(v).map_err(|r| bad(k, r))?,
                "white_topics" => cfg.white_topics = topics(v).map_err(|r| bad(k, r))?,
                "flush_interval_ms" => cfg.flush_interval_ms = count(v).map_err(|r| bad(k, r))?,
                "checkpoint_interval_ms" => cfg.checkpoint_interval_ms = count(v).map_err(|r| bad(k, r))?,
                "max_batch_bytes" => cfg.max_batch_bytes = size(v).map_err(|r| bad(k, r))?,
                "max_record_bytes" => cfg.max_record_bytes = Some(size(v).map_err(|r| bad(k, r))?),
                "retry_initial_ms" => cfg.retry_initial_ms = count(v).map_err(|r| bad(k, r))?,
                "retry_max_ms" => cfg.retry_max_ms = count(v).map_err(|r| bad(k, r))?,
                "poll_interval_ms" => cfg.poll_interval_ms = count(v).map_err(|r| bad(k, r))?,
                "index_interval_bytes" => cfg.index_interval_bytes = size(v).map_err(|r| bad(k, r))?,
                "durability" => {
                    cfg.durability = match v.as_str() {
                        Some("async") => Durability::Async,
                        Some("sync") => Durability::Sync,
                        _ => return Err(bad(k, format!("expected \"async\" or \"sync\", found {v}"))),
                    }
                }
                "max_disk_bytes" => cfg.max_disk_bytes = Some(size(v).map_err(|r| bad(k, r))?),
                "max_topic_bytes" => cfg.max_topic_bytes = Some(size(v).map_err(|r| bad(k, r))?),
                "full_policy" => {
                    let wait = match cfg.full_policy {
                        FullPolicy::Block { max_wait } => max_wait,
                        _ => Duration::from_secs(60),
                    };
                    cfg.full_policy = match v.as_str() {
                        Some("block") => FullPolicy::Block { max_wait: wait },
                        Some("error") => FullPolicy::Error,
                        Some("drop_oldest") => FullPolicy::DropOldest,
                        _ => {
                            return Err(bad(k, format!("expected \"block\", \"error\" or \"drop_oldest\", found {v}")));
                        }
                    }
                }
                "full_max_wait_ms" => full_wait = Some(count(v).map_err(|r| bad(k, r))?),
                "segment_max_age_ms" => cfg.segment_max_age_ms = count(v).map_err(|r| bad(k, r))?,
                "rebalance_interval_ms" => cfg.rebalance_interval_ms = count(v).map_err(|r| bad(k, r))?,
                "member_timeout_ms" => cfg.member_timeout_ms = count(v).map_err(|r| bad(k, r))?,
                "max_forward_ms" => cfg.max_forward_ms = count(v).map_err(|r| bad(k, r))?,
                "retry_max_attempts" => {
                    cfg.retry_max_attempts =
                        u32::try_from(count(v).map_err(|r| bad(k, r))?).map_err(|_| bad(k, "too large".into()))?
                }
                "retention_max_age_ms" => cfg.retention_max_age_ms = count(v).map_err(|r| bad(k, r))?,
                "retention_max_bytes" => cfg.retention_max_bytes = Some(size(v).map_err(|r| bad(k, r))?),
                "retention_max_total_bytes" => cfg.retention_max_total_bytes = Some(size(v).map_err(|r| bad(k, r))?),
                "retain_consumed" => {
                    cfg.retain_consumed =
                        v.as_bool().ok_or_else(|| bad(k, format!("expected true or false, found {v}")))?
                }
                _ => {
                    let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                    let hint = closest(k, &known).map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default();
                    return Err(bad(k, format!("unknown key{hint}; known keys: {}", known.join(", "))));
                }
            }
        }
        if let Some(ms) = full_wait {
            match &mut cfg.full_policy {
                FullPolicy::Block { max_wait } => *max_wait = Duration::from_millis(ms),
                _ => {
                    return Err(bad(
                        "full_max_wait_ms",
                        "only applies to full_policy \"block\"; remove it or set full_policy to \"block\"".into(),
                    ));
                }
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every value's range and the relations between them.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first key out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: String| Err(Error::Config { path: self.source.clone(), key: key.into(), reason });
        let range = |key: &str, v: u64, lo: u64, hi: u64| -> Result<()> {
            if v < lo || v > hi {
                return bad(key, format!("{v} is out of range {lo}..={hi}"));
            }
            Ok(())
        };
        // A size key's range in the file's own units: 64K..=64G, not bytes.
        let size_range = |key: &str, v: u64, lo: u64, hi: u64| -> Result<()> {
            if v < lo || v > hi {
                let (v, lo, hi) = (size_text(v), size_text(lo), size_text(hi));
                return bad(key, format!("{v} is out of range {lo}..={hi}"));
            }
            Ok(())
        };
        range("idx_file_max_item_num", self.idx_file_max_item_num, 1, u64::from(u32::MAX))?;
        size_range("data_file_max_size", self.data_file_max_size, 64 * KIB, 64 * GIB)?;
        size_range("mem_max_size", self.mem_max_size, MIB, 1 << 40)?;
        range("max_concurrent_forward", self.max_concurrent_forward as u64, 1, 4096)?;
        range("flush_interval_ms", self.flush_interval_ms, 1, 3_600_000)?;
        range("checkpoint_interval_ms", self.checkpoint_interval_ms, 0, 3_600_000)?;
        size_range("max_batch_bytes", self.max_batch_bytes, KIB, GIB)?;
        size_range("max_record_bytes", self.max_record_bytes(), 1, frame::MAX_PAYLOAD as u64)?;
        range("retry_initial_ms", self.retry_initial_ms, 1, 3_600_000)?;
        range("retry_max_ms", self.retry_max_ms, 1, 86_400_000)?;
        range("poll_interval_ms", self.poll_interval_ms, 10, 3_600_000)?;
        size_range("index_interval_bytes", self.index_interval_bytes, 64, GIB)?;
        if let Some(b) = self.max_disk_bytes {
            size_range("max_disk_bytes", b, MIB, 1 << 50)?;
        }
        if let Some(b) = self.max_topic_bytes {
            size_range("max_topic_bytes", b, MIB, 1 << 50)?;
        }
        if let FullPolicy::Block { max_wait } = self.full_policy {
            range("full_max_wait_ms", max_wait.as_millis().min(u128::from(u64::MAX)) as u64, 0, 86_400_000)?;
        }
        range("segment_max_age_ms", self.segment_max_age_ms, 0, 365 * 86_400_000)?;
        range("rebalance_interval_ms", self.rebalance_interval_ms, 10, 60_000)?;
        if self.member_timeout_ms != 0 {
            range("member_timeout_ms", self.member_timeout_ms, 100, 86_400_000)?;
        }
        if self.max_forward_ms != 0 {
            range("max_forward_ms", self.max_forward_ms, 100, 7 * 86_400_000)?;
        }
        range("retention_max_age_ms", self.retention_max_age_ms, 0, 100 * 365 * 86_400_000)?;
        if let Some(b) = self.retention_max_bytes {
            size_range("retention_max_bytes", b, MIB, 1 << 50)?;
        }
        if let Some(b) = self.retention_max_total_bytes {
            size_range("retention_max_total_bytes", b, MIB, 1 << 50)?;
        }
        if self.max_batch_bytes > self.mem_max_size {
            return bad(
                "max_batch_bytes",
                format!("{} exceeds mem_max_size ({})", size_text(self.max_batch_bytes), size_text(self.mem_max_size)),
            );
        }
        if self.retry_max_ms < self.retry_initial_ms {
            return bad(
                "retry_max_ms",
                format!("{} is below retry_initial_ms ({})", self.retry_max_ms, self.retry_initial_ms),
            );
        }
        let room = self.record_room();
        if self.max_record_bytes() > room {
            return bad(
                "max_record_bytes",
                format!(
                    "{} does not fit in a segment of data_file_max_size {} (at most {room} bytes)",
                    size_text(self.max_record_bytes()),
                    size_text(self.data_file_max_size)
                ),
            );
        }
        for (key, list) in [
            ("compress_topics", &self.compress_topics),
            ("black_topics", &self.black_topics),
            ("white_topics", &self.white_topics),
        ] {
            for t in list {
                if let Some(reason) = name_problem(t) {
                    return bad(key, format!("{t:?} is not a valid topic name: {reason}"));
                }
            }
        }
        Ok(())
    }

    /// The effective configuration as a `meta.json` object: every key of
    /// [`KEYS`] with the value in force (defaults included, sizes in bytes,
    /// durations in milliseconds), except the caps that are not set (the file
    /// format has no `null`). [`Config::from_json_str`] reads it back as the
    /// same configuration, so it is also a complete config file: useful to
    /// log what a service runs with, or to pin today's defaults.
    ///
    /// ```
    /// let mut cfg = logstream::Config::new("/var/lib/app/logstream");
    /// cfg.set_flush_interval_ms(50);
    /// let json = cfg.to_json();
    /// assert_eq!(json["flush_interval_ms"], 50);
    /// assert_eq!(json["durability"], "async");
    /// let back = logstream::Config::from_json_str(&json.to_string(), None).unwrap();
    /// assert_eq!(back.to_json(), json);
    /// ```
    pub fn to_json(&self) -> Value {
        let ms = |d: Duration| Value::from(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        put("base_dir", Value::from(self.base_dir.to_string_lossy().into_owned()));
        put("idx_file_max_item_num", self.idx_file_max_item_num().into());
        put("data_file_max_size", self.data_file_max_size().into());
        put("mem_max_size", self.mem_max_size().into());
        put("max_concurrent_forward", self.max_concurrent_forward().into());
        put("compress_topics", self.compress_topics().into());
        put("black_topics", self.black_topics().into());
        put("white_topics", self.white_topics().into());
        put("flush_interval_ms", ms(self.flush_interval()));
        put("checkpoint_interval_ms", ms(self.checkpoint_interval()));
        put("max_batch_bytes", self.max_batch_bytes().into());
        put("max_record_bytes", self.max_record_bytes().into());
        put("retry_initial_ms", ms(self.retry_initial()));
        put("retry_max_ms", ms(self.retry_max()));
        put("retain_consumed", self.retain_consumed().into());
        put("poll_interval_ms", ms(self.poll_interval()));
        put("index_interval_bytes", self.index_interval_bytes().into());
        let durability = match self.durability() {
            Durability::Async => "async",
            Durability::Sync => "sync",
        };
        put("durability", durability.into());
        if let Some(b) = self.max_disk_bytes() {
            put("max_disk_bytes", b.into());
        }
        if let Some(b) = self.max_topic_bytes() {
            put("max_topic_bytes", b.into());
        }
        match self.full_policy() {
            FullPolicy::Block { max_wait } => {
                put("full_policy", "block".into());
                put("full_max_wait_ms", ms(max_wait));
            }
            FullPolicy::Error => put("full_policy", "error".into()),
            FullPolicy::DropOldest => put("full_policy", "drop_oldest".into()),
        }
        put("segment_max_age_ms", ms(self.segment_max_age().unwrap_or_default()));
        put("rebalance_interval_ms", ms(self.rebalance_interval()));
        put("member_timeout_ms", ms(self.member_timeout().unwrap_or_default()));
        put("max_forward_ms", ms(self.max_forward().unwrap_or_default()));
        put("retry_max_attempts", self.retry_max_attempts().unwrap_or(0).into());
        put("retention_max_age_ms", ms(self.retention_max_age().unwrap_or_default()));
        if let Some(b) = self.retention_max_bytes() {
            put("retention_max_bytes", b.into());
        }
        if let Some(b) = self.retention_max_total_bytes() {
            put("retention_max_total_bytes", b.into());
        }
        Value::Object(m)
    }

    /// The config file this config was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }
    /// Directory holding the log.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }
    /// Records per segment before it rolls.
    pub fn idx_file_max_item_num(&self) -> u64 {
        self.idx_file_max_item_num
    }
    /// Bytes per segment data file before it rolls.
    pub fn data_file_max_size(&self) -> u64 {
        self.data_file_max_size
    }
    /// Bound on bytes of batches handed out and not yet finished.
    pub fn mem_max_size(&self) -> u64 {
        self.mem_max_size
    }
    /// Forwarder closures running at once.
    pub fn max_concurrent_forward(&self) -> usize {
        self.max_concurrent_forward
    }
    /// Topics whose sealed segments are to be compressed.
    pub fn compress_topics(&self) -> &[String] {
        &self.compress_topics
    }
    /// Topics not consumed.
    pub fn black_topics(&self) -> &[String] {
        &self.black_topics
    }
    /// If non-empty, the only topics consumed.
    pub fn white_topics(&self) -> &[String] {
        &self.white_topics
    }
    /// How often written records are made durable.
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }
    /// How often confirmed positions are persisted (zero: before the next batch).
    pub fn checkpoint_interval(&self) -> Duration {
        Duration::from_millis(self.checkpoint_interval_ms)
    }
    /// Largest batch handed to the forwarder.
    pub fn max_batch_bytes(&self) -> u64 {
        self.max_batch_bytes
    }
    /// Largest record `write()` accepts (default 4 MiB, or what fits in a
    /// segment of `data_file_max_size` if that is less).
    pub fn max_record_bytes(&self) -> u64 {
        self.max_record_bytes.unwrap_or_else(|| (4 * MIB).min(self.record_room()))
    }

    /// Largest payload that fits in an empty segment with its seal frame.
    fn record_room(&self) -> u64 {
        let overhead = DATA_START + frame::SEAL_LEN as u64 + frame::HEADER_LEN as u64 + frame::ALIGN as u64;
        self.data_file_max_size.saturating_sub(overhead)
    }

    /// Sets `max_record_bytes`.
    pub fn set_max_record_bytes(&mut self, value: u64) -> &mut Config {
        self.max_record_bytes = Some(value);
        self
    }
    /// First retry delay.
    pub fn retry_initial(&self) -> Duration {
        Duration::from_millis(self.retry_initial_ms)
    }
    /// Longest retry delay.
    pub fn retry_max(&self) -> Duration {
        Duration::from_millis(self.retry_max_ms)
    }
    /// Whether consumed segments are kept.
    pub fn retain_consumed(&self) -> bool {
        self.retain_consumed
    }
    /// Fallback poll interval of readers.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
    /// Data bytes between sparse index entries.
    pub fn index_interval_bytes(&self) -> u64 {
        self.index_interval_bytes
    }
    /// When `write()` returns, relative to stable storage.
    pub fn durability(&self) -> Durability {
        self.durability
    }
    /// Cap on the log's disk use, all topics.
    pub fn max_disk_bytes(&self) -> Option<u64> {
        self.max_disk_bytes
    }
    /// Cap on one topic's disk use.
    pub fn max_topic_bytes(&self) -> Option<u64> {
        self.max_topic_bytes
    }
    /// What a write does at a cap.
    pub fn full_policy(&self) -> FullPolicy {
        self.full_policy
    }
    /// Age after which a segment rolls (`None`: never).
    pub fn segment_max_age(&self) -> Option<Duration> {
        (self.segment_max_age_ms > 0).then(|| Duration::from_millis(self.segment_max_age_ms))
    }
    /// How often members of a group rebalance topics.
    pub fn rebalance_interval(&self) -> Duration {
        Duration::from_millis(self.rebalance_interval_ms)
    }
    /// How long a group member may go without a heartbeat before the others
    /// take its topics over (`None`: never; only its exit frees them).
    pub fn member_timeout(&self) -> Option<Duration> {
        (self.member_timeout_ms > 0).then(|| Duration::from_millis(self.member_timeout_ms))
    }
    /// How long the closure may hold one batch before its topic is taken
    /// away (`None`: forever).
    pub fn max_forward(&self) -> Option<Duration> {
        (self.max_forward_ms > 0).then(|| Duration::from_millis(self.max_forward_ms))
    }
    /// Deliveries of a batch before it goes to the dead letters (`None`: forever).
    pub fn retry_max_attempts(&self) -> Option<u32> {
        (self.retry_max_attempts > 0).then_some(self.retry_max_attempts)
    }
    /// Age beyond which sealed segments are deleted, consumed or not.
    pub fn retention_max_age(&self) -> Option<Duration> {
        (self.retention_max_age_ms > 0).then(|| Duration::from_millis(self.retention_max_age_ms))
    }
    /// Size per topic beyond which the oldest sealed segments are deleted.
    pub fn retention_max_bytes(&self) -> Option<u64> {
        self.retention_max_bytes
    }
    /// Size of all topics beyond which the oldest sealed segments are deleted.
    pub fn retention_max_total_bytes(&self) -> Option<u64> {
        self.retention_max_total_bytes
    }
    /// Sets `retention_max_bytes` (`None`: no limit).
    pub fn set_retention_max_bytes(&mut self, value: Option<u64>) -> &mut Config {
        self.retention_max_bytes = value;
        self
    }
    /// Sets `retention_max_total_bytes` (`None`: no limit).
    pub fn set_retention_max_total_bytes(&mut self, value: Option<u64>) -> &mut Config {
        self.retention_max_total_bytes = value;
        self
    }
    /// Sets `max_disk_bytes` (`None`: no cap).
    pub fn set_max_disk_bytes(&mut self, value: Option<u64>) -> &mut Config {
        self.max_disk_bytes = value;
        self
    }
    /// Sets `max_topic_bytes` (`None`: no cap).
    pub fn set_max_topic_bytes(&mut self, value: Option<u64>) -> &mut Config {
        self.max_topic_bytes = value;
        self
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $field:ident: $t:ty;)*) => {
        impl Config {
            $(
                $(#[$doc])*
                pub fn $name(&mut self, value: $t) -> &mut Config {
                    self.$field = value.into();
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets `base_dir`.
    set_base_dir: base_dir: PathBuf;
    /// Sets `idx_file_max_item_num`.
    set_idx_file_max_item_num: idx_file_max_item_num: u64;
    /// Sets `data_file_max_size` in bytes.
    set_data_file_max_size: data_file_max_size: u64;
    /// Sets `mem_max_size` in bytes.
    set_mem_max_size: mem_max_size: u64;
    /// Sets `max_concurrent_forward`.
    set_max_concurrent_forward: max_concurrent_forward: usize;
    /// Sets `compress_topics`.
    set_compress_topics: compress_topics: Vec<String>;
    /// Sets `black_topics`.
    set_black_topics: black_topics: Vec<String>;
    /// Sets `white_topics`.
    set_white_topics: white_topics: Vec<String>;
    /// Sets `flush_interval_ms`.
    set_flush_interval_ms: flush_interval_ms: u64;
    /// Sets `checkpoint_interval_ms` (0: before the next batch).
    set_checkpoint_interval_ms: checkpoint_interval_ms: u64;
    /// Sets `max_batch_bytes`.
    set_max_batch_bytes: max_batch_bytes: u64;
    /// Sets `retry_initial_ms`.
    set_retry_initial_ms: retry_initial_ms: u64;
    /// Sets `retry_max_ms`.
    set_retry_max_ms: retry_max_ms: u64;
    /// Sets `retain_consumed`.
    set_retain_consumed: retain_consumed: bool;
    /// Sets `poll_interval_ms`.
    set_poll_interval_ms: poll_interval_ms: u64;
    /// Sets `index_interval_bytes`.
    set_index_interval_bytes: index_interval_bytes: u64;
    /// Sets `durability`.
    set_durability: durability: Durability;
    /// Sets `full_policy`.
    set_full_policy: full_policy: FullPolicy;
    /// Sets `segment_max_age_ms` (0: never).
    set_segment_max_age_ms: segment_max_age_ms: u64;
    /// Sets `rebalance_interval_ms`.
    set_rebalance_interval_ms: rebalance_interval_ms: u64;
    /// Sets `member_timeout_ms` (0: a member loses its topics only when it exits).
    set_member_timeout_ms: member_timeout_ms: u64;
    /// Sets `max_forward_ms` (0: a closure may hold a batch forever).
    set_max_forward_ms: max_forward_ms: u64;
    /// Sets `retry_max_attempts` (0: retry forever).
    set_retry_max_attempts: retry_max_attempts: u32;
    /// Sets `retention_max_age_ms` (0: keep).
    set_retention_max_age_ms: retention_max_age_ms: u64;
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_relative() {
        std::env::current_dir().map(|c| c.join(p)).unwrap_or_else(|_| p.to_path_buf())
    } else {
        p.to_path_buf()
    }
}

/// A non-negative integer.
fn count(v: &Value) -> std::result::Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("expected a non-negative integer, found {n}")),
        other => Err(format!("expected a non-negative integer, found {other}")),
    }
}

/// A size: a number of bytes, or a string like "512K", "200M", "1G", "4GiB".
fn size(v: &Value) -> std::result::Result<u64, String> {
    match v {
        Value::Number(_) => count(v),
        Value::String(s) => parse_size(s),
        other => Err(format!("expected a size such as 1048576 or \"1M\", found {other}")),
    }
}

/// Parses "512K", "200M", "1G", "4G", "1024", "10MiB", "2 GB", "1.5G"
/// (units are binary: 1K = 1024; a fraction must come to whole bytes).
///
/// # Errors
/// The text is not a size, has an unknown unit, is too large, or has a
/// fraction that is not a whole number of bytes.
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.is_empty() || frac.contains('.') || (num.contains('.') && frac.is_empty()) {
        return Err(format!("{s:?} is not a size; use a number of bytes or e.g. \"512K\", \"200M\", \"1.5G\""));
    }
    let mult = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => KIB,
        "M" | "MB" | "MIB" => MIB,
        "G" | "GB" | "GIB" => GIB,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return Err(format!("{s:?} has an unknown unit; use K, M, G or T")),
    };
    let too_large = || format!("{s:?} is too large");
    let n: u64 = whole.parse().map_err(|_| too_large())?;
    let mut total = u128::from(n) * u128::from(mult);
    if !frac.is_empty() {
        // Exact: the fraction's digits over their power of ten, times the unit.
        if frac.len() > 18 {
            return Err(format!("{s:?} has more fraction digits than a size needs"));
        }
        let digits: u128 = frac.parse().map_err(|_| too_large())?;
        let scale = 10u128.pow(frac.len() as u32);
        let part = digits * u128::from(mult);
        if !part.is_multiple_of(scale) {
            return Err(format!("{s:?} is not a whole number of bytes; use a smaller unit"));
        }
        total += part / scale;
    }
    u64::try_from(total).map_err(|_| too_large())
}

/// A size for messages: `64K`, `1G`, `1536` — the largest binary unit that
/// divides it, as the config file would say it.
pub(crate) fn size_text(v: u64) -> String {
    for (unit, m) in [("T", 1u64 << 40), ("G", GIB), ("M", MIB), ("K", KIB)] {
        if v >= m && v.is_multiple_of(m) {
            return format!("{}{unit}", v / m);
        }
    }
    v.to_string()
}

/// serde_json's message without its ` at line L column C` (the error
/// prints the position once, itself).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) if text[i..].contains(" column ") => text[..i].to_owned(),
        _ => text,
    }
}

/// A config file's top-level object, read only to refuse a key given twice.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<UniqueKeys, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> std::result::Result<UniqueKeys, A::Error> {
                let mut seen = std::collections::HashSet::new();
                while let Some(key) = a.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "key {key:?} is given twice; each key may appear once"
                        )));
                    }
                    a.next_value::<serde::de::IgnoredAny>()?;
                }
                Ok(UniqueKeys)
            }
        }
        d.deserialize_map(Keys)
    }
}

fn topics(v: &Value) -> std::result::Result<Vec<String>, String> {
    let Value::Array(items) = v else {
        return Err(format!("expected a list of topic names, found {v}"));
    };
    items
        .iter()
        .map(|i| match i {
            Value::String(s) => match name_problem(s) {
                None => Ok(s.clone()),
                Some(reason) => Err(format!("{s:?} is not a valid topic name: {reason}")),
            },
            other => Err(format!("expected topic names (strings), found {other}")),
        })
        .collect()
}

fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known.iter().map(|k| (edit_distance(key, k), *k)).filter(|(d, k)| *d <= 3.max(k.len() / 4)).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Replaces `//` and `/* */` comments (outside strings) with spaces, keeping
/// newlines so parser positions still match the file, and drops commas that
/// trail the last item of an object or list.
pub fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match (c, b.get(i + 1)) {
            (b'"', _) => {
                in_str = true;
                out.push(c);
                i += 1;
            }
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                out.extend_from_slice(b"  ");
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    out.push(if b[i] == b'\n' { b'\n' } else { b' ' });
                    i += 1;
                }
                if i < b.len() {
                    out.extend_from_slice(b"  ");
                    i += 2;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    drop_trailing_commas(&mut out);
    // Only ASCII bytes were replaced by ASCII bytes, so UTF-8 is intact.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn drop_trailing_commas(b: &mut [u8]) {
    let mut in_str = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b',' {
            let next = b[i + 1..].iter().find(|x| !x.is_ascii_whitespace());
            if matches!(next, Some(b'}') | Some(b']')) {
                b[i] = b' ';
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units_and_four_gigabytes_is_not_zero() {
        assert_eq!(parse_size("4G"), Ok(4 * GIB));
        assert_eq!(parse_size("512K"), Ok(512 * KIB));
        assert_eq!(parse_size("200M"), Ok(200 * MIB));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("10 MiB"), Ok(10 * MIB));
        assert_eq!(parse_size("1.5G"), Ok(3 * GIB / 2));
        assert_eq!(parse_size("0.5K"), Ok(512));
        assert!(parse_size("0.1K").is_err_and(|e| e.contains("whole number of bytes")), "102.4 bytes");
        assert!(parse_size("1.G").is_err() && parse_size(".5K").is_err() && parse_size("1.2.3K").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_size("3X").is_err());
    }

    #[test]
    fn comments_are_removed_but_not_inside_strings() {
        let s = "{\"a\": \"x//y\", // c\n /* d\n e */ \"b\": 1,}";
        let v: Value = serde_json::from_str(&strip_comments(s)).unwrap();
        assert_eq!(v["a"], "x//y");
        assert_eq!(v["b"], 1);
    }

    #[test]
    fn the_seed_file_parses_with_its_comments() {
        let seed = r#"{
          "base_dir": "D:\\log", // 事件数据持久化目录
          "idx_file_max_item_num": 1000000, // 单个文件
          "data_file_max_size": "1G",
          "mem_max_size": "200M",
          "max_concurrent_forward": 100,
          "compress_topics": [],
          "black_topics": [],
          "white_topics": []
        }"#;
        let cfg = Config::from_json_str(seed, None).unwrap();
        assert_eq!(cfg.data_file_max_size(), GIB);
        assert_eq!(cfg.mem_max_size(), 200 * MIB);
        assert_eq!(cfg.max_concurrent_forward(), 100);
    }

    #[test]
    fn an_unknown_key_is_named_with_a_suggestion() {
        let e = Config::from_json_str(r#"{"base_dir": "/x", "flush_interval": 5}"#, None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("\"flush_interval\""), "{msg}");
        assert!(msg.contains("flush_interval_ms"), "{msg}");
    }

    #[test]
    fn zero_and_absurd_values_name_the_key_and_value() {
        for (json, key) in [
            (r#"{"base_dir": "/x", "mem_max_size": 0}"#, "mem_max_size"),
            (r#"{"base_dir": "/x", "max_concurrent_forward": 0}"#, "max_concurrent_forward"),
            (r#"{"base_dir": "/x", "data_file_max_size": "1T"}"#, "data_file_max_size"),
            (r#"{"base_dir": "/x", "idx_file_max_item_num": -1}"#, "idx_file_max_item_num"),
            (r#"{"base_dir": "/x", "mem_max_size": "lots"}"#, "mem_max_size"),
            (r#"{"base_dir": "/x", "black_topics": "a"}"#, "black_topics"),
            (r#"{"base_dir": "/x", "white_topics": ["../etc"]}"#, "white_topics"),
            (r#"{"base_dir": "/x", "retain_consumed": "yes"}"#, "retain_consumed"),
            (r#"{"mem_max_size": "1G"}"#, "base_dir"),
        ] {
            match Config::from_json_str(json, None) {
                Err(Error::Config { key: k, .. }) => assert_eq!(k, key, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn empty_and_truncated_files_are_syntax_errors_with_a_position() {
        for text in ["", "   ", "{\"base_dir\": \"/x\"", "[1,", "// only a comment\n"] {
            match Config::from_json_str(text, Some(Path::new("/etc/x.json"))) {
                Err(Error::ConfigSyntax { line, .. }) => assert!(line >= 1),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_json_form_names_every_key_once_every_cap_is_set() {
        let mut cfg = Config::new("/var/lib/app/logstream");
        cfg.set_max_disk_bytes(Some(1 << 30))
            .set_max_topic_bytes(Some(1 << 29))
            .set_retention_max_bytes(Some(1 << 28))
            .set_retention_max_total_bytes(Some(1 << 30));
        let json = cfg.to_json();
        let mut printed: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut keys: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
        printed.sort_unstable();
        keys.sort_unstable();
        assert_eq!(printed, keys);
    }

    #[test]
    fn the_json_form_reads_back_as_the_same_configuration() {
        let mut cfg = Config::new("/var/lib/app/logstream");
        cfg.set_max_disk_bytes(Some(1 << 30))
            .set_full_policy(FullPolicy::DropOldest)
            .set_durability(Durability::Sync)
            .set_segment_max_age_ms(60_000)
            .set_black_topics(vec!["noise".into()])
            .set_retry_max_attempts(5)
            .set_retention_max_age_ms(86_400_000)
            .set_retention_max_bytes(Some(1 << 30));
        // Equal in every value in force (an unset `max_record_bytes` reads
        // back as the value it derived from `data_file_max_size`).
        let back = Config::from_json_str(&cfg.to_json().to_string(), None).unwrap();
        assert_eq!(back.to_json(), cfg.to_json());
        assert_eq!(back.full_policy(), FullPolicy::DropOldest);
        assert_eq!(back.max_record_bytes(), cfg.max_record_bytes());
        let blocking = Config::new("/x");
        let back = Config::from_json_str(&blocking.to_json().to_string(), None).unwrap();
        assert_eq!(back.full_policy(), blocking.full_policy(), "the default block policy keeps its wait");
    }

    #[test]
    fn a_key_given_twice_is_refused_with_where_it_is() {
        let text = "{\n  \"base_dir\": \"/x\",\n  \"flush_interval_ms\": 5,\n  \"flush_interval_ms\": 50\n}";
        match Config::from_json_str(text, Some(Path::new("/etc/x.json"))) {
            Err(e @ Error::ConfigSyntax { line: 4, .. }) => {
                let text = e.to_string();
                assert!(text.contains("\"flush_interval_ms\" is given twice"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_syntax_error_gives_its_position_once() {
        let e = Config::from_json_str("{\"base_dir\": \"/x\",\n \"a\" 1}", Some(Path::new("/etc/x.json"))).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("config /etc/x.json: line 2, column "), "{text}");
        assert_eq!(text.matches("line").count(), 1, "{text}");
    }

    #[test]
    fn a_size_out_of_range_is_told_in_sizes() {
        let e = Config::from_json_str("{\"base_dir\": \"/x\", \"data_file_max_size\": \"32K\"}", None).unwrap_err();
        assert!(e.to_string().ends_with("key \"data_file_max_size\": 32K is out of range 64K..=64G"), "{e}");
        let e = Config::from_json_str("{\"base_dir\": \"/x\", \"data_file_max_size\": \"1.5G\"}", None);
        assert_eq!(e.map(|c| c.data_file_max_size()).ok(), Some(3 * GIB / 2), "a fraction is accepted");
    }

    #[test]
    fn a_base_dir_is_kept_without_dot_segments() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(Config::new("./data/./log").base_dir(), cwd.join("data/log"));
        assert_eq!(Config::new("/x/./data").base_dir(), Path::new("/x/data"));
    }

    #[test]
    fn a_relative_base_dir_resolves_against_the_config_files_directory() {
        let cfg = Config::from_json_str(r#"{"base_dir": "data"}"#, Some(Path::new("/srv/app/meta.json"))).unwrap();
        assert_eq!(cfg.base_dir(), Path::new("/srv/app/data"));
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    #[test]
    fn the_shipped_example_config_parses_and_names_every_key() {
        let text = include_str!("../meta.example.json");
        let cfg = Config::from_json_str(text, Some(Path::new("/etc/logstream/meta.json"))).unwrap();
        assert_eq!(cfg, {
            let mut d = Config::new("/var/lib/app/logstream");
            d.source = cfg.source.clone();
            d.set_max_record_bytes(4 * MIB);
            d
        });
        for (key, _) in KEYS {
            assert!(text.contains(&format!("\"{key}\"")), "meta.example.json lacks {key}");
        }
    }
}
