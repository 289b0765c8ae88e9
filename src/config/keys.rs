//! The key table: every key of a config file, declared once, in the order of
//! the documentation, `meta.example.json` and `logstream config check`.
//!
//! Each entry gives the key (also its `Config` field), the field's type and
//! default, the kind of value (how it parses, what the getter returns, how it
//! is written back; see `kinds.rs`), its range in the file's units, the
//! getter and setter, and the description `KEYS` carries. `declare.rs` turns
//! the table into the struct, `KEYS`, the getters and setters, parsing,
//! range checks and the JSON form. Checks between keys (a batch within the
//! memory bound, a record within a segment) are in `Config::validate`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::declare::declare_keys;
use super::kinds::{Cap, Choice, Count, CountOrOff, Dir, Flag, Millis, MillisOrOff, MillisWhenApplies, Size, Topics};
use super::size::{GIB, KIB, MIB, TIB};
use super::{Durability, FullPolicy};
use crate::format::frame;

const DAY_MS: u64 = 86_400_000;
/// The largest cap or retention size: a petabyte.
const PIB: u64 = 1 << 50;

declare_keys! {
    /// Settings of a log directory, shared by writers and readers.
    ///
    /// ```
    /// let mut cfg = logstream::Config::new("/tmp/logstream-doc-config");
    /// cfg.set_flush_interval_ms(50).set_max_concurrent_forward(8);
    /// assert_eq!(cfg.flush_interval(), std::time::Duration::from_millis(50));
    /// assert!(cfg.validate().is_ok());
    /// ```
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Config;

    /// The keys a config file may contain, with a one-line description (used by
    /// error messages and `meta.example.json`).
    pub const KEYS;

    // Required: `Config::new` and `Config::from_json_str` set it.
    /// Directory holding the log.
    base_dir: PathBuf = PathBuf::new() => Dir;
        get base_dir -> &Path;
        set set_base_dir(PathBuf);
        "directory holding the log (relative paths resolve against the config file's directory)";

    // ---- keys of the original Go library ----
    /// Records per segment before it rolls.
    idx_file_max_item_num: u64 = 1_000_000 => Count<u64>, range 1, u64::from(u32::MAX);
        get idx_file_max_item_num -> u64;
        set set_idx_file_max_item_num(u64);
        "records per segment before it rolls (default 1000000)";

    /// Bytes per segment data file before it rolls.
    data_file_max_size: u64 = GIB => Size, range 64 * KIB, 64 * GIB;
        get data_file_max_size -> u64;
        set set_data_file_max_size(u64);
        "bytes per segment data file before it rolls (default \"1G\")";

    /// Bound on bytes of batches handed out and not yet finished.
    mem_max_size: u64 = 200 * MIB => Size, range MIB, TIB;
        get mem_max_size -> u64;
        set set_mem_max_size(u64);
        "bytes of batches handed to forwarders and not yet finished (default \"200M\")";

    /// Forwarder closures running at once.
    max_concurrent_forward: usize = 100 => Count<usize>, range 1, 4096;
        get max_concurrent_forward -> usize;
        set set_max_concurrent_forward(usize);
        "forwarder closures running at once (default 100)";

    /// Topics whose sealed segments are to be compressed.
    compress_topics: Vec<String> = Vec::new() => Topics;
        get compress_topics -> &[String];
        set set_compress_topics(Vec<String>);
        "topics whose sealed segments are LZ4-compressed in the background";

    /// Topics not consumed.
    black_topics: Vec<String> = Vec::new() => Topics;
        get black_topics -> &[String];
        set set_black_topics(Vec<String>);
        "topics not consumed (re-read when the file changes)";

    /// If non-empty, the only topics consumed.
    white_topics: Vec<String> = Vec::new() => Topics;
        get white_topics -> &[String];
        set set_white_topics(Vec<String>);
        "if non-empty, only these topics are consumed (re-read when the file changes)";

    // ---- logstream's own keys ----
    /// How often written records are made durable.
    flush_interval_ms: u64 = 100 => Millis, range 1, 3_600_000;
        get flush_interval -> Duration;
        set set_flush_interval_ms(u64);
        "how often written records are made durable (default 100)";

    /// How often confirmed positions are persisted (zero: before the next batch).
    checkpoint_interval_ms: u64 = 1000 => Millis, range 0, 3_600_000;
        get checkpoint_interval -> Duration;
        set set_checkpoint_interval_ms(u64);
        "how often confirmed positions are persisted; 0 = before the next batch (default 1000)";

    /// Largest batch handed to the forwarder.
    max_batch_bytes: u64 = 2 * MIB => Size, range KIB, GIB;
        get max_batch_bytes -> u64;
        set set_max_batch_bytes(u64);
        "largest batch handed to the forwarder (default \"2M\"; a larger record goes alone)";

    // `None`: the default, 4 MiB or what fits in a segment if less; the
    // getter, which derives it, is in mod.rs.
    max_record_bytes: Option<u64> = None => Size, range 1, frame::MAX_PAYLOAD as u64;
        get max_record_bytes;
        set set_max_record_bytes(u64);
        "largest record write() accepts (default \"4M\")";

    /// First retry delay.
    retry_initial_ms: u64 = 100 => Millis, range 1, 3_600_000;
        get retry_initial -> Duration;
        set set_retry_initial_ms(u64);
        "first delay before a failed batch is retried (default 100)";

    /// Longest retry delay.
    retry_max_ms: u64 = 30_000 => Millis, range 1, DAY_MS;
        get retry_max -> Duration;
        set set_retry_max_ms(u64);
        "longest delay between retries (default 30000)";

    /// Whether consumed segments are kept.
    retain_consumed: bool = false => Flag;
        get retain_consumed -> bool;
        set set_retain_consumed(bool);
        "keep segments every group has consumed instead of deleting them (default false)";

    /// Fallback poll interval of readers.
    poll_interval_ms: u64 = 1000 => Millis, range 10, 3_600_000;
        get poll_interval -> Duration;
        set set_poll_interval_ms(u64);
        "fallback poll of the directory when no file event arrives (default 1000)";

    /// Data bytes between sparse index entries.
    index_interval_bytes: u64 = 4096 => Size, range 64, GIB;
        get index_interval_bytes -> u64;
        set set_index_interval_bytes(u64);
        "data bytes between sparse index entries (default 4096)";

    // ---- producer controls ----
    /// When `write()` returns, relative to stable storage.
    durability: Durability = Durability::Async => Choice<Durability>;
        get durability -> Durability;
        set set_durability(Durability);
        "\"async\" (default: durable within flush_interval_ms) or \"sync\" (write() returns once on disk)";

    /// Cap on the log's disk use, all topics.
    max_disk_bytes: Option<u64> = None => Cap, range MIB, PIB;
        get max_disk_bytes -> Option<u64>;
        set set_max_disk_bytes(Option<u64>);
        "cap on the log's disk use, all topics (default: none)";

    /// Cap on one topic's disk use.
    max_topic_bytes: Option<u64> = None => Cap, range MIB, PIB;
        get max_topic_bytes -> Option<u64>;
        set set_max_topic_bytes(Option<u64>);
        "cap on one topic's disk use (default: none)";

    /// What a write does at a cap.
    full_policy: FullPolicy = FullPolicy::default() => Choice<FullPolicy>;
        get full_policy -> FullPolicy;
        set set_full_policy(FullPolicy);
        "at a cap: \"block\" (default), \"error\" or \"drop_oldest\"";

    // No field: the wait of `FullPolicy::Block`, held in `full_policy`;
    // getter and setter in mod.rs.
    full_max_wait_ms => MillisWhenApplies, range 0, DAY_MS;
        get full_max_wait;
        set set_full_max_wait_ms;
        "with full_policy \"block\": longest wait before Error::Full (default 60000)";

    /// Age after which a segment rolls (`None`: never).
    segment_max_age_ms: u64 = 0 => MillisOrOff, range 0, 365 * DAY_MS;
        get segment_max_age -> Option<Duration>;
        set set_segment_max_age_ms(u64);
        "roll a segment once it is this old, so age retention works on quiet topics (default 0: never)";

    // ---- consumer groups ----
    /// How often members of a group rebalance topics.
    rebalance_interval_ms: u64 = 500 => Millis, range 10, 60_000;
        get rebalance_interval -> Duration;
        set set_rebalance_interval_ms(u64);
        "how often members of a group rebalance topics; a dead member's topics move within twice this (default 500)";

    /// How long a group member may go without a heartbeat before the others
    /// take its topics over (`None`: never; only its exit frees them).
    member_timeout_ms: u64 = 10_000 => MillisOrOff, range 100, DAY_MS;
        get member_timeout -> Option<Duration>;
        set set_member_timeout_ms(u64);
        "a group member that stops heartbeating (frozen, paused) this long loses its topics to the others (default 10000; 0: never)";

    /// How long the closure may hold one batch before its topic is taken
    /// away (`None`: forever).
    max_forward_ms: u64 = 300_000 => MillisOrOff, range 100, 7 * DAY_MS;
        get max_forward -> Option<Duration>;
        set set_max_forward_ms(u64);
        "a closure holding one batch longer than this loses the topic to another member (default 300000; 0: never)";

    /// Deliveries of a batch before it goes to the dead letters (`None`: forever).
    retry_max_attempts: u32 = 0 => CountOrOff<u32>;
        get retry_max_attempts -> Option<u32>;
        set set_retry_max_attempts(u32);
        "deliveries of a batch before it goes to the group's dead letters (default 0: retry forever)";

    // ---- retention beyond what groups consumed ----
    /// Age beyond which sealed segments are deleted, consumed or not.
    retention_max_age_ms: u64 = 0 => MillisOrOff, range 0, 100 * 365 * DAY_MS;
        get retention_max_age -> Option<Duration>;
        set set_retention_max_age_ms(u64);
        "delete sealed segments older than this, consumed or not (default 0: keep)";

    /// Size per topic beyond which the oldest sealed segments are deleted.
    retention_max_bytes: Option<u64> = None => Cap, range MIB, PIB;
        get retention_max_bytes -> Option<u64>;
        set set_retention_max_bytes(Option<u64>);
        "per topic: delete the oldest sealed segments beyond this size, consumed or not (default: none)";

    /// Size of all topics beyond which the oldest sealed segments are deleted.
    retention_max_total_bytes: Option<u64> = None => Cap, range MIB, PIB;
        get retention_max_total_bytes -> Option<u64>;
        set set_retention_max_total_bytes(Option<u64>);
        "all topics: delete the oldest sealed segments beyond this size (default: none)";
}

impl super::kinds::Choices for Durability {
    const CHOICES: &'static [(&'static str, Durability)] = &[("async", Durability::Async), ("sync", Durability::Sync)];
}

impl super::kinds::Choices for FullPolicy {
    const CHOICES: &'static [(&'static str, FullPolicy)] = &[
        ("block", FullPolicy::Block { max_wait: super::DEFAULT_FULL_WAIT }),
        ("error", FullPolicy::Error),
        ("drop_oldest", FullPolicy::DropOldest),
    ];
}
