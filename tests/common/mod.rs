//! Helpers shared by the scenario tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub type Seen = Arc<Mutex<BTreeMap<String, Vec<(u64, Vec<u8>)>>>>;

/// A config on `dir` with short intervals so tests finish fast.
pub fn config(dir: &Path) -> logstream::Config {
    let mut cfg = logstream::Config::new(dir);
    cfg.set_flush_interval_ms(10).set_poll_interval_ms(200).set_retry_initial_ms(1).set_retry_max_ms(20);
    cfg
}

/// Polls `cond` until it holds; panics with `what` after `timeout` (a safety
/// net: conditions are real events, this only bounds a hung test).
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// A reader that records every delivered record per topic.
pub fn collecting_reader(cfg: &logstream::Config, group: &str) -> (logstream::ReaderHandle, Seen) {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let r = logstream::Reader::builder(cfg)
        .group(group)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let mut m = s2.lock().unwrap();
            let v = m.entry(b.topic().to_owned()).or_default();
            for rec in b.records() {
                v.push((rec.seq(), rec.data().to_vec()));
            }
            Ok(())
        })
        .unwrap();
    (r, seen)
}

/// Total records seen.
pub fn count(seen: &Seen) -> usize {
    seen.lock().unwrap().values().map(Vec::len).sum()
}

/// Asserts that each topic's records are exactly `0..n` in order.
pub fn assert_dense(seen: &Seen, expected: &BTreeMap<String, u64>) {
    let m = seen.lock().unwrap();
    for (topic, &n) in expected {
        let v = m.get(topic).map(Vec::as_slice).unwrap_or(&[]);
        let seqs: Vec<u64> = v.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs.len() as u64, n, "topic {topic}: {} records, expected {n}", seqs.len());
        assert!(seqs.iter().copied().eq(0..n), "topic {topic}: sequence numbers not 0..{n} in order");
    }
}

/// Deterministic payload for (topic, seq).
pub fn payload(topic: &str, seq: u64) -> Vec<u8> {
    format!("{topic}:{seq}:{}", "x".repeat((seq % 37) as usize)).into_bytes()
}

// Not every scenario runs a child process.
#[allow(unused_imports)]
pub use logstream::testing::{child_lines, child_say, spawn_child};

/// Reads every record of `topic` with a pull cursor.
pub fn read_all(cfg: &logstream::Config, topic: &str) -> Vec<(u64, Vec<u8>)> {
    let mut r = logstream::TopicReader::open(cfg, topic, 0).unwrap();
    let mut out = Vec::new();
    while let Some(b) = r.next_batch(1 << 20).unwrap() {
        out.extend(b.records().map(|rec| (rec.seq(), rec.data().to_vec())));
    }
    out
}

/// Every persisted position of the group in `group_dir`, per topic, in
/// generation order (journal and snapshot entries, as the format defines them).
pub fn persisted_history(group_dir: &Path) -> BTreeMap<String, Vec<(u64, u64)>> {
    use logstream::format::checkpoint::{FILE_HEADER_LEN, Kind, decode_entries};
    let mut out: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for f in ["checkpoints.snap", "checkpoints.log"] {
        let Ok(b) = std::fs::read(group_dir.join(f)) else { continue };
        for e in decode_entries(&b[FILE_HEADER_LEN.min(b.len())..]).entries {
            if e.kind == Kind::Position {
                out.entry(e.topic).or_default().push((e.generation, e.next_seq));
            }
        }
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
    }
    out
}

/// Asserts that no persisted position of the group ever went backwards.
pub fn assert_no_position_went_back(group_dir: &Path) {
    for (t, h) in persisted_history(group_dir) {
        for pair in h.windows(2) {
            assert!(pair[0].1 <= pair[1].1, "topic {t}: position went back from {:?} to {:?}", pair[0], pair[1]);
        }
    }
}
