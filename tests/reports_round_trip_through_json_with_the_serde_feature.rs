//! With the `serde` feature, the public reports and stats serialize, and
//! what they serialize to reads back as the same value: tools print and
//! store them directly (issue 20, item 6). Without the feature this file is
//! empty; CI runs it with `--features serde`, and the CLI enables it.
#![cfg(feature = "serde")]
mod common;

use std::fmt::Debug;
use std::time::Duration;

use common::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Serializes `v` and reads it back; the copy must equal the original
/// (compared through `Debug` for types without `PartialEq`).
fn round_trip<T: Serialize + DeserializeOwned + Debug>(what: &str, v: &T) -> String {
    let json = serde_json::to_string(v).unwrap_or_else(|e| panic!("{what} serializes: {e}"));
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{what} reads back from {json}: {e}"));
    assert_eq!(format!("{back:?}"), format!("{v:?}"), "{what} round-trips through {json}");
    json
}

#[test]
fn every_report_and_stats_type_round_trips_through_json() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..100 {
        w.write("orders", &payload("orders", i)).unwrap();
    }
    w.flush().unwrap();
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("delivery", Duration::from_secs(30), || count(&seen) == 100);

    let json = round_trip("TopicInfo", &w.topics().unwrap());
    assert!(json.contains("\"orders\""), "{json}");
    round_trip("WriterStats", &w.stats());
    round_trip("RecoveryReport", w.recovery_report());
    round_trip("ReaderStats", &r.stats());
    r.stop().unwrap();
    let group = logstream::Group::open(&cfg, "g").unwrap();
    round_trip("GroupPosition", &group.positions().unwrap());
    round_trip("TopicLag", &group.lag().unwrap());
    round_trip("VerifyReport", &logstream::verify(&cfg).unwrap());
    let close = w.close_timeout(Duration::from_secs(10)).unwrap();
    round_trip("CloseReport", &close);
    round_trip("RepairReport", &logstream::repair(&cfg).unwrap());
    round_trip("DeleteMode", &logstream::DeleteMode::IfConsumed);
    round_trip("Durability", &logstream::Durability::Sync);
}
