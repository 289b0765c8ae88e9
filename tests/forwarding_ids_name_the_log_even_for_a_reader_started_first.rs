//! `Batch::log_id` (with the epoch and seq, the id forwarders de-duplicate
//! by downstream) names the log that wrote the records, even for a reader
//! started before any writer had opened the directory: it used to be 0 for
//! such a reader's whole life, so a restarted reader sent the same records
//! under other ids.
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

fn ids_of(cfg: &logstream::Config, group: &str, n: usize) -> Vec<u64> {
    let ids: Arc<Mutex<Vec<u64>>> = Arc::default();
    let i2 = ids.clone();
    let r = logstream::Reader::builder(cfg)
        .group(group)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            i2.lock().unwrap().extend(std::iter::repeat_n(b.log_id(), b.len()));
            Ok(())
        })
        .unwrap();
    wait_for("delivery", Duration::from_secs(30), || ids.lock().unwrap().len() >= n);
    r.stop().unwrap();
    ids.lock().unwrap().clone()
}

#[test]
fn a_reader_started_before_the_first_writer_forwards_under_the_logs_id() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    // The reader first: there is no logstream.meta yet.
    let early: Arc<Mutex<Vec<u64>>> = Arc::default();
    let e2 = early.clone();
    let r = logstream::Reader::builder(&cfg)
        .group("early")
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            e2.lock().unwrap().extend(std::iter::repeat_n(b.log_id(), b.len()));
            Ok(())
        })
        .unwrap();
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..10 {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    wait_for("the early reader's delivery", Duration::from_secs(30), || early.lock().unwrap().len() >= 10);
    r.stop().unwrap();
    // A reader started now reads the log's id from logstream.meta.
    let late = ids_of(&cfg, "late", 10);
    w.close().unwrap();
    let early = early.lock().unwrap().clone();
    assert!(late.iter().all(|&id| id != 0 && id == late[0]), "the log has one id: {late:?}");
    assert_eq!(early, late, "the early reader forwards under the log's id too");
}
