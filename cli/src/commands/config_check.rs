//! `logstream config check FILE`: the effective configuration as JSON.
//!
//! The output is the library's [`Config::to_json`] in the order of
//! [`logstream::CONFIG_KEYS`] (the order of the documentation and of
//! `meta.example.json`): the file's own keys, every value in force (sizes in
//! bytes, `base_dir` absolute), caps that are not set left out; it is itself
//! a valid config file.

use std::path::PathBuf;

use logstream::Config;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::exit::{Exit, Outcome};
use crate::output::print_json;

/// A config's JSON form with its keys in `CONFIG_KEYS` order.
struct InKeyOrder(serde_json::Value);

impl Serialize for InKeyOrder {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (key, _) in logstream::CONFIG_KEYS {
            if let Some(v) = self.0.get(*key) {
                map.serialize_entry(key, v)?;
            }
        }
        map.end()
    }
}

/// Parses `file` (without one, the file the library would read:
/// `$LOGSTREAM_CONFIG`, else the default path) and prints the configuration
/// it gives.
///
/// # Errors
/// The library's error, naming the file and the bad key.
pub fn run(file: Option<PathBuf>) -> Outcome {
    let file = file
        .or_else(|| std::env::var_os(logstream::CONFIG_ENV).map(PathBuf::from))
        .unwrap_or_else(logstream::default_config_path);
    let cfg = Config::from_file(&file)?;
    print_json(&InKeyOrder(cfg.to_json()))?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_keys_follow_the_documented_order_and_lose_nothing() {
        let mut cfg = Config::new("/var/lib/app/logstream");
        cfg.set_max_disk_bytes(Some(1 << 30));
        let text = serde_json::to_string(&InKeyOrder(cfg.to_json())).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, cfg.to_json());
        let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        assert!(at("base_dir") < at("idx_file_max_item_num"));
        assert!(at("durability") < at("max_disk_bytes"));
        assert!(at("max_disk_bytes") < at("full_policy"));
    }
}
