//! `logstream config check FILE`: the effective configuration as JSON.
//!
//! The output uses the file's own keys and is itself a valid config file:
//! sizes in bytes, `base_dir` absolute, caps that are not set left out (the
//! parser takes no `null`).

use std::path::{Path, PathBuf};

use logstream::{Config, Durability, FullPolicy};
use serde::Serialize;

use crate::exit::{Exit, Outcome};
use crate::output::print_json;

/// Every key of `logstream::CONFIG_KEYS`.
#[derive(Debug, Serialize)]
struct Effective {
    base_dir: PathBuf,
    idx_file_max_item_num: u64,
    data_file_max_size: u64,
    mem_max_size: u64,
    max_concurrent_forward: usize,
    compress_topics: Vec<String>,
    black_topics: Vec<String>,
    white_topics: Vec<String>,
    flush_interval_ms: u128,
    checkpoint_interval_ms: u128,
    max_batch_bytes: u64,
    max_record_bytes: u64,
    retry_initial_ms: u128,
    retry_max_ms: u128,
    retain_consumed: bool,
    poll_interval_ms: u128,
    index_interval_bytes: u64,
    durability: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_disk_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_topic_bytes: Option<u64>,
    full_policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_max_wait_ms: Option<u128>,
    segment_max_age_ms: u128,
    rebalance_interval_ms: u128,
    retry_max_attempts: u32,
    retention_max_age_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_max_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_max_total_bytes: Option<u64>,
}

impl Effective {
    fn of(cfg: &Config) -> Effective {
        let (full_policy, full_max_wait_ms) = match cfg.full_policy() {
            FullPolicy::Block { max_wait } => ("block", Some(max_wait.as_millis())),
            FullPolicy::Error => ("error", None),
            FullPolicy::DropOldest => ("drop_oldest", None),
        };
        Effective {
            base_dir: cfg.base_dir().to_path_buf(),
            idx_file_max_item_num: cfg.idx_file_max_item_num(),
            data_file_max_size: cfg.data_file_max_size(),
            mem_max_size: cfg.mem_max_size(),
            max_concurrent_forward: cfg.max_concurrent_forward(),
            compress_topics: cfg.compress_topics().to_vec(),
            black_topics: cfg.black_topics().to_vec(),
            white_topics: cfg.white_topics().to_vec(),
            flush_interval_ms: cfg.flush_interval().as_millis(),
            checkpoint_interval_ms: cfg.checkpoint_interval().as_millis(),
            max_batch_bytes: cfg.max_batch_bytes(),
            max_record_bytes: cfg.max_record_bytes(),
            retry_initial_ms: cfg.retry_initial().as_millis(),
            retry_max_ms: cfg.retry_max().as_millis(),
            retain_consumed: cfg.retain_consumed(),
            poll_interval_ms: cfg.poll_interval().as_millis(),
            index_interval_bytes: cfg.index_interval_bytes(),
            durability: match cfg.durability() {
                Durability::Async => "async",
                Durability::Sync => "sync",
            },
            max_disk_bytes: cfg.max_disk_bytes(),
            max_topic_bytes: cfg.max_topic_bytes(),
            full_policy,
            full_max_wait_ms,
            segment_max_age_ms: cfg.segment_max_age().map_or(0, |d| d.as_millis()),
            rebalance_interval_ms: cfg.rebalance_interval().as_millis(),
            retry_max_attempts: cfg.retry_max_attempts().unwrap_or(0),
            retention_max_age_ms: cfg.retention_max_age().map_or(0, |d| d.as_millis()),
            retention_max_bytes: cfg.retention_max_bytes(),
            retention_max_total_bytes: cfg.retention_max_total_bytes(),
        }
    }
}

/// Parses `file` and prints the configuration it gives.
///
/// # Errors
/// The library's error, naming the file and the bad key.
pub fn run(file: &Path) -> Outcome {
    let cfg = Config::from_file(file)?;
    print_json(&Effective::of(&cfg))?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_key_is_printed_and_nothing_else() {
        let mut cfg = Config::new("/var/lib/app/logstream");
        cfg.set_max_disk_bytes(Some(1 << 30))
            .set_max_topic_bytes(Some(1 << 29))
            .set_retention_max_bytes(Some(1 << 28))
            .set_retention_max_total_bytes(Some(1 << 30));
        let value = serde_json::to_value(Effective::of(&cfg)).unwrap();
        let mut printed: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        let mut keys: Vec<&str> = logstream::CONFIG_KEYS.iter().map(|(k, _)| *k).collect();
        printed.sort_unstable();
        keys.sort_unstable();
        assert_eq!(printed, keys);
    }

    #[test]
    fn the_printed_configuration_reads_back_as_the_same_configuration() {
        let mut cfg = Config::new("/var/lib/app/logstream");
        cfg.set_max_disk_bytes(Some(1 << 30))
            .set_full_policy(FullPolicy::DropOldest)
            .set_durability(Durability::Sync)
            .set_segment_max_age_ms(60_000)
            .set_black_topics(vec!["noise".into()])
            .set_retry_max_attempts(5)
            .set_retention_max_age_ms(86_400_000)
            .set_retention_max_bytes(Some(1 << 30));
        let text = serde_json::to_string(&Effective::of(&cfg)).unwrap();
        let back = Config::from_json_str(&text, None).unwrap();
        assert_eq!(
            serde_json::to_value(Effective::of(&back)).unwrap(),
            serde_json::to_value(Effective::of(&cfg)).unwrap()
        );
    }
}
