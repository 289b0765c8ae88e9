//! Helpers for the forwarders' tests (feature `testing`): logs of known
//! records, waiting on real events with a deadline, and the exactly-once
//! check every shipping test ends with. They panic on failure, as test
//! helpers do.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{Forwarder, LocalError, Progress, Shutdown};

/// Records per topic: (seq, data), in the order found in a log or an engine.
pub type Topics = BTreeMap<String, Vec<(u64, Vec<u8>)>>;

/// A log config on `dir` with short intervals and small batches (many
/// batches per topic, so that failures land in the middle of topics).
pub fn config(dir: &Path) -> logstream::Config {
    let mut cfg = logstream::Config::new(dir);
    cfg.set_flush_interval_ms(10).set_poll_interval_ms(200).set_retry_initial_ms(20).set_retry_max_ms(500);
    cfg.set_max_batch_bytes(16 * 1024);
    cfg
}

/// Polls `cond` until it holds; panics with `what` after `timeout` (a
/// safety net: conditions are real events, this only bounds a hung test).
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Deterministic payload for (topic, seq).
pub fn payload(topic: &str, seq: u64) -> Vec<u8> {
    format!("{topic}:{seq}:{}", "x".repeat((seq % 37) as usize)).into_bytes()
}

/// Topic names `t00`, `t01`, …
pub fn topic_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i:02}")).collect()
}

/// Appends records `from..to` ([`payload`]) to each topic, interleaved, and
/// closes the writer.
pub fn write_range(cfg: &logstream::Config, topics: &[String], from: u64, to: u64) {
    let w = logstream::Writer::open(cfg).expect("open the writer");
    for seq in from..to {
        for t in topics {
            assert_eq!(w.write(t, &payload(t, seq)).expect("write"), seq, "topic {t}");
        }
    }
    w.close().expect("close the writer");
}

/// Writes records `0..per_topic` to each topic; see [`write_range`].
pub fn write_log(cfg: &logstream::Config, topics: &[String], per_topic: u64) {
    write_range(cfg, topics, 0, per_topic);
}

/// True when the reader confirmed every record of every topic.
pub fn all_confirmed(reader: &logstream::ReaderHandle, topics: usize, per_topic: u64) -> bool {
    let p = reader.positions();
    p.len() == topics && p.iter().all(|p| p.confirmed == per_topic)
}

/// Every record of every topic of a log, read with pull cursors.
pub fn read_log(cfg: &logstream::Config, topics: &[String]) -> Topics {
    let mut out = Topics::new();
    for t in topics {
        let mut r = logstream::TopicReader::open(cfg, t, 0).expect("open a topic reader");
        let v = out.entry(t.clone()).or_default();
        while let Some(b) = r.next_batch(1 << 20).expect("read a batch") {
            v.extend(b.records().map(|rec| (rec.seq(), rec.data().to_vec())));
        }
    }
    out
}

/// Asserts that each topic holds exactly records `0..per_topic`, once, in
/// order, with the payloads written.
pub fn assert_exactly_once_in_order(found: &Topics, topics: &[String], per_topic: u64) {
    assert_eq!(found.len(), topics.len(), "topics found: {:?}", found.keys().collect::<Vec<_>>());
    for t in topics {
        let v = &found[t];
        let seqs: Vec<u64> = v.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs.len() as u64, per_topic, "topic {t}: {} records, expected {per_topic}", seqs.len());
        assert!(seqs.iter().copied().eq(0..per_topic), "topic {t}: sequence numbers are not 0..{per_topic} in order");
        for (seq, data) in v {
            assert_eq!(data, &payload(t, *seq), "topic {t} record {seq}: wrong bytes");
        }
    }
}

/// Runs `forwarder` on the log of `cfg` as `group` with [`Forwarder::run`],
/// reporting every 20 ms, until the reader confirmed `records` records (or
/// a minute passed, the safety net); returns the final progress.
///
/// # Panics
/// When the reader cannot start or stop.
pub fn run_until_confirmed<F: Forwarder>(
    forwarder: F,
    cfg: &logstream::Config,
    group: &str,
    records: u64,
) -> Progress<F::Stats>
where
    F::Error: From<LocalError> + std::fmt::Debug,
{
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    forwarder
        .run(cfg, group, &shutdown, Duration::from_millis(20), |p| {
            if p.reader.records >= records || p.elapsed > Duration::from_secs(60) {
                stop.trigger();
            }
        })
        .expect("run the forwarder")
}

/// Forwarding throughput: writes `n` records of `record_len` bytes over
/// `topics` topics into a new log (default batch size, not the tests'
/// small one), forwards them through `forwarder` and returns records/s from
/// the reader's start to the last confirmation.
///
/// # Panics
/// When the log cannot be written or read.
pub fn forward_rate<F: Forwarder>(forwarder: F, n: u64, topics: usize, record_len: usize) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut cfg = config(dir.path());
    cfg.set_max_batch_bytes(2 << 20);
    let names = topic_names(topics);
    let per_topic = n / topics as u64;
    let w = logstream::Writer::open(&cfg).expect("open the writer");
    let data = vec![b'x'; record_len];
    for _ in 0..per_topic {
        for t in &names {
            w.write(t, &data).expect("write");
        }
    }
    w.close().expect("close the writer");
    let forwarder = std::sync::Arc::new(forwarder);
    let shipping = forwarder.clone();
    let start = Instant::now();
    let reader = logstream::Reader::builder(&cfg)
        .group("bench")
        .start(move |b: &logstream::Batch| shipping.forward(b))
        .expect("start the reader");
    wait_for("every record confirmed", Duration::from_secs(600), || all_confirmed(&reader, topics, per_topic));
    let rate = (per_topic * topics as u64) as f64 / start.elapsed().as_secs_f64();
    reader.stop().expect("stop the reader");
    rate
}
