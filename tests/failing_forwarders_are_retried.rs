//! A failing closure gets the same batch again and then continues; a partial
//! confirm followed by an error redelivers only the rest; a panic is a failure.
mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

type Calls = Arc<Mutex<Vec<(u64, u64, u32)>>>;

fn write_n(w: &logstream::Writer, topic: &str, n: u64) {
    for i in 0..n {
        w.write(topic, &payload(topic, i)).unwrap();
    }
}

#[test]
fn a_failing_closure_gets_the_same_batch_again_and_then_continues() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_max_batch_bytes(1024);
    let w = logstream::Writer::open(&cfg).unwrap();
    write_n(&w, "t", 100);
    let calls: Calls = Arc::default();
    let failures = Arc::new(AtomicU32::new(0));
    let (c2, f2) = (calls.clone(), failures.clone());
    let reader = logstream::Reader::builder(&cfg)
        .start(move |b: &logstream::Batch| -> Result<(), String> {
            c2.lock().unwrap().push((b.first_seq(), b.last_seq(), b.attempt()));
            // The first batch fails twice.
            if b.first_seq() == 0 && f2.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err("downstream unavailable".into());
            }
            Ok(())
        })
        .unwrap();
    wait_for("the whole topic", Duration::from_secs(20), || {
        calls.lock().unwrap().last().is_some_and(|c| c.1 == 99 && c.2 == 1)
    });
    reader.stop().unwrap();
    let calls = calls.lock().unwrap();
    assert_eq!(calls[0], (0, calls[0].1, 1));
    assert_eq!(calls[1], (0, calls[0].1, 2), "the same batch, second attempt");
    assert_eq!(calls[2], (0, calls[0].1, 3), "the same batch, third attempt");
    assert_eq!(calls[3].0, calls[0].1 + 1, "then it continues after the batch");
    let delivered_ok: Vec<_> = calls.iter().skip(2).map(|c| (c.0, c.1)).collect();
    for pair in delivered_ok.windows(2) {
        assert_eq!(pair[1].0, pair[0].1 + 1, "batches follow each other without gap or overlap");
    }
    assert_eq!(reader.stats().failures, 2);
}

#[test]
fn a_partial_confirm_then_an_error_redelivers_only_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    write_n(&w, "t", 50);
    let calls: Calls = Arc::default();
    let c2 = calls.clone();
    let reader = logstream::Reader::builder(&cfg)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            c2.lock().unwrap().push((b.first_seq(), b.last_seq(), b.attempt()));
            if b.attempt() == 1 && b.first_seq() == 0 {
                b.confirm(19).unwrap();
                assert!(b.confirm(b.last_seq() + 1).is_err(), "confirming outside the batch is refused");
                return Err(std::io::Error::other("failed after 20 records"));
            }
            Ok(())
        })
        .unwrap();
    wait_for("the retry", Duration::from_secs(20), || calls.lock().unwrap().len() >= 2);
    reader.stop().unwrap();
    let calls = calls.lock().unwrap();
    assert_eq!(calls[0], (0, 49, 1));
    assert_eq!(calls[1], (20, 49, 2), "only the unconfirmed rest comes again");
}

#[test]
fn a_panicking_closure_is_retried_and_the_reader_survives() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    write_n(&w, "t", 10);
    let calls: Calls = Arc::default();
    let c2 = calls.clone();
    let reader = logstream::Reader::builder(&cfg)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            c2.lock().unwrap().push((b.first_seq(), b.last_seq(), b.attempt()));
            if b.attempt() == 1 {
                panic!("forwarder bug");
            }
            Ok(())
        })
        .unwrap();
    wait_for("the retry after the panic", Duration::from_secs(20), || calls.lock().unwrap().len() >= 2);
    write_n(&w, "t", 5);
    wait_for("later records", Duration::from_secs(20), || calls.lock().unwrap().iter().any(|c| c.1 >= 10));
    reader.stop().unwrap();
    assert_eq!(reader.stats().panics, 2, "the first attempt of each batch panicked");
}
