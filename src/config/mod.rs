//! Configuration: the seed's `meta.json` keys plus logstream's own, with
//! sizes like `"512K"`, `"200M"`, `"4G"`, `//` and `/* */` comments, and an
//! error naming the key for anything unknown, mistyped, zero or absurd.
//!
//! - `keys.rs`: the key table, one entry per key (the one place to add one);
//! - `declare.rs`: the macro that generates from it the struct, [`KEYS`],
//!   getters, setters, parsing, range checks and [`Config::to_json`];
//! - `kinds.rs`: the kinds of value (count, size, milliseconds, "0 means
//!   off", cap, topic list, choice) and how each parses, reads and writes;
//! - `parse.rs`: JSON with comments; `size.rs`: size units;
//!   `suggest.rs`: "did you mean" for an unknown key;
//! - here: loading a file, the checks between keys, the derived values.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, IoContext, Result};
use crate::format::frame;
use crate::format::segment::DATA_START;

mod declare;
mod keys;
mod kinds;
mod parse;
mod size;
mod suggest;

use keys::Given;
pub use keys::{Config, KEYS};
use kinds::{Dir, Kind};
pub use size::parse_size;
pub(crate) use size::size_text;

/// Environment variable naming the config file for [`Config::load`].
pub const CONFIG_ENV: &str = "LOGSTREAM_CONFIG";

/// Where [`Config::load`] looks when `$LOGSTREAM_CONFIG` is not set.
pub fn default_config_path() -> PathBuf {
    if cfg!(windows) { PathBuf::from(r"C:\logstream\meta.json") } else { PathBuf::from("/etc/logstream/meta.json") }
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

/// `full_max_wait_ms` by default.
const DEFAULT_FULL_WAIT: Duration = Duration::from_secs(60);

impl Default for FullPolicy {
    fn default() -> FullPolicy {
        FullPolicy::Block { max_wait: DEFAULT_FULL_WAIT }
    }
}

impl Config {
    /// A config with every default, for the log in `dir` (relative paths
    /// resolve against the current directory).
    pub fn new(dir: impl AsRef<Path>) -> Config {
        let mut cfg = Config::with_defaults();
        // `./log` is shown as `/srv/app/log`, not `/srv/app/./log`.
        cfg.base_dir = absolute(dir.as_ref()).components().collect();
        cfg
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
        let value = parse::read_json(text, &shown)?;
        let bad = |key: &str, reason: String| Error::Config { path: source.clone(), key: key.into(), reason };
        let Value::Object(map) = value else {
            return Err(bad("(top level)", "the config must be a JSON object".into()));
        };
        // `base_dir` first: it is required, and a relative one resolves
        // against the config file's directory.
        let Some(base) = map.get("base_dir") else {
            return Err(bad("base_dir", "missing; it names the directory holding the log".into()));
        };
        let base = Dir::parse(base).map_err(|r| bad("base_dir", r))?;
        let base = match (&source, base.is_relative()) {
            (Some(file), true) => file.parent().map(|d| d.join(&base)).unwrap_or(base),
            _ => base,
        };
        let mut cfg = Config::new(base);
        cfg.source = source.clone();
        let mut given = Given::default();
        for (key, v) in map.iter().filter(|(key, _)| *key != "base_dir") {
            if !given.read(key, v).map_err(|r| bad(key, r))? {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                let hint = suggest::closest(key, &known).map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default();
                return Err(bad(key, format!("unknown key{hint}; known keys: {}", known.join(", "))));
            }
        }
        let wait_given = given.full_max_wait_ms.is_some();
        given.apply(&mut cfg);
        if wait_given && cfg.full_max_wait().is_none() {
            return Err(bad(
                "full_max_wait_ms",
                "only applies to full_policy \"block\"; remove it or set full_policy to \"block\"".into(),
            ));
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
        if let Err((key, reason)) = self.check_ranges() {
            return bad(key, reason);
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
        if let Err((key, reason)) = self.check_contents() {
            return bad(key, reason);
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
        let mut m = serde_json::Map::new();
        self.emit_keys(&mut m);
        Value::Object(m)
    }

    /// The config file this config was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Largest record `write()` accepts (default 4 MiB, or what fits in a
    /// segment of `data_file_max_size` if that is less).
    pub fn max_record_bytes(&self) -> u64 {
        self.max_record_bytes.unwrap_or_else(|| (4 * size::MIB).min(self.record_room()))
    }

    /// Largest payload that fits in an empty segment with its seal frame.
    fn record_room(&self) -> u64 {
        let overhead = DATA_START + frame::SEAL_LEN as u64 + frame::HEADER_LEN as u64 + frame::ALIGN as u64;
        self.data_file_max_size.saturating_sub(overhead)
    }

    /// `full_max_wait_ms`: the wait of [`FullPolicy::Block`], `None` under
    /// another policy.
    fn full_max_wait(&self) -> Option<Duration> {
        match self.full_policy {
            FullPolicy::Block { max_wait } => Some(max_wait),
            FullPolicy::Error | FullPolicy::DropOldest => None,
        }
    }

    /// Sets `full_max_wait_ms`, which only [`FullPolicy::Block`] has.
    fn set_full_max_wait_ms(&mut self, ms: u64) -> &mut Config {
        if let FullPolicy::Block { max_wait } = &mut self.full_policy {
            *max_wait = Duration::from_millis(ms);
        }
        self
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_relative() {
        std::env::current_dir().map(|c| c.join(p)).unwrap_or_else(|_| p.to_path_buf())
    } else {
        p.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::size::{GIB, MIB};
    use super::*;

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
    fn every_key_round_trips_through_the_json_form() {
        let defaults = Config::new("/x").to_json();
        for (key, samples) in keys::samples() {
            // The first sample that is valid on its own and not the default.
            let found = samples.iter().find_map(|sample| {
                let mut text = serde_json::json!({ "base_dir": "/x" });
                text[key] = sample.clone();
                let cfg = Config::from_json_str(&text.to_string(), None).ok()?;
                (defaults.get(key) != Some(sample)).then_some((sample, cfg))
            });
            let Some((sample, cfg)) = found else { panic!("no sample of {key} sets it: {samples:?}") };
            let json = cfg.to_json();
            assert_eq!(json.get(key), Some(sample), "{key} is written back as read");
            let back = Config::from_json_str(&json.to_string(), None).unwrap();
            assert_eq!(back.to_json(), json, "{key} reads back as the same configuration");
        }
    }

    #[test]
    fn the_key_table_the_defaults_and_the_json_form_name_the_same_keys() {
        let table: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
        let mut unique = table.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), table.len(), "a key is declared twice");
        let generated: Vec<&str> = keys::samples().iter().map(|(k, _)| *k).collect();
        assert_eq!(generated, table);
        // The defaults leave out exactly the limits that are off.
        let unset = ["max_disk_bytes", "max_topic_bytes", "retention_max_bytes", "retention_max_total_bytes"];
        let defaults = Config::new("/x").to_json();
        let mut printed: Vec<&str> = defaults.as_object().unwrap().keys().map(String::as_str).collect();
        printed.extend(unset);
        printed.sort_unstable();
        assert_eq!(printed, unique, "the defaults' JSON form names every key but the unset limits");
        let back = Config::from_json_str(&defaults.to_string(), None).unwrap();
        assert_eq!(back.to_json(), defaults, "the defaults read back as themselves");
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
mod documentation {
    use super::size::MIB;
    use super::*;

    #[test]
    fn the_readme_table_names_every_key_in_order_with_its_default() {
        let readme = include_str!("../../README.md");
        let table =
            readme.split("| key | default | meaning |\n|---|---|---|\n").nth(1).expect("the README's key table");
        let defaults = Config::new("/x").to_json();
        let mut named = Vec::new();
        for row in table.lines().take_while(|l| l.starts_with('|')) {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            let keys: Vec<&str> = cells[0].split(" / ").map(|k| k.trim_matches('`')).collect();
            let values: Vec<&str> = cells[1].split(" / ").collect();
            for (i, key) in keys.iter().enumerate() {
                named.push(*key);
                let shown = values[i.min(values.len() - 1)];
                let default = defaults.get(*key);
                match (shown, default) {
                    ("(required in files)", _) => assert_eq!(*key, "base_dir"),
                    ("none", None) => {}
                    (s, Some(Value::Number(n))) if s.starts_with('"') => {
                        assert_eq!(parse_size(s.trim_matches('"')).ok(), n.as_u64(), "README default of {key}")
                    }
                    (s, Some(d)) => {
                        assert_eq!(&serde_json::from_str::<Value>(s).unwrap(), d, "README default of {key}")
                    }
                    (s, None) => panic!("README gives {key} the default {s}, the library none"),
                }
            }
        }
        let keys: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
        assert_eq!(named, keys, "the README's table lists the keys of KEYS, in order");
    }

    #[test]
    fn the_shipped_example_config_parses_and_names_every_key() {
        let text = include_str!("../../meta.example.json");
        let cfg = Config::from_json_str(text, Some(Path::new("/etc/logstream/meta.json"))).unwrap();
        assert_eq!(cfg, {
            let mut d = Config::new("/var/lib/app/logstream");
            d.source = cfg.source.clone();
            d.set_max_record_bytes(4 * MIB);
            d
        });
        let mut last = 0;
        for (key, _) in KEYS {
            let Some(at) = text.find(&format!("\"{key}\"")) else { panic!("meta.example.json lacks {key}") };
            assert!(at > last, "meta.example.json lists {key} out of the table's order");
            last = at;
        }
    }
}
