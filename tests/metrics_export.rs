//! With the `metrics` feature, the writer's and readers' counters reach the
//! installed `metrics` recorder and match the work done.
#![cfg(feature = "metrics")]

mod common;

use std::time::Duration;

use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// A metric: name, labels, value.
type Metric = (String, Vec<(String, String)>, DebugValue);

fn value(snap: &[Metric], name: &str, group: Option<&str>) -> Option<f64> {
    snap.iter()
        .filter(|(n, labels, _)| n == name && group.is_none_or(|g| labels.iter().any(|(k, v)| k == "group" && v == g)))
        .map(|(_, _, v)| match v {
            DebugValue::Counter(c) => *c as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(_) => f64::NAN,
        })
        .next()
}

#[test]
fn writer_and_reader_counters_are_published_through_the_metrics_facade() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let snap = || -> Vec<Metric> {
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(k, _, _, v)| {
                let key = k.key();
                let labels = key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
                (key.name().to_owned(), labels, v)
            })
            .collect()
    };

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..500 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let bytes: u64 = (0..500).map(|i| payload("t", i).len() as u64).sum();
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("every record delivered", Duration::from_secs(30), || count(&seen) == 500);
    // Published about once a second by each background thread.
    wait_for("the writer's counters", Duration::from_secs(30), || {
        let s = snap();
        value(&s, "logstream_writer_records_total", None) == Some(500.0)
            && value(&s, "logstream_writer_bytes_total", None) == Some(bytes as f64)
    });
    wait_for("the reader's counters", Duration::from_secs(30), || {
        let s = snap();
        value(&s, "logstream_reader_records_total", Some("g")) == Some(500.0)
            && value(&s, "logstream_reader_lag_records", Some("g")) == Some(0.0)
            && value(&s, "logstream_reader_topics_owned", Some("g")) == Some(1.0)
    });
    let s = snap();
    assert!(value(&s, "logstream_writer_syncs_total", None).is_some_and(|v| v >= 1.0));
    assert!(value(&s, "logstream_writer_sync_seconds_p99", None).is_some_and(|v| v > 0.0));
    r.stop().unwrap();
}
