//! At most max_concurrent_forward closures run at once, never two for one topic.
mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

#[test]
fn at_most_max_concurrent_forward_closures_run_at_once_and_never_two_for_one_topic() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_max_concurrent_forward(3).set_max_batch_bytes(1024);
    let w = logstream::Writer::open(&cfg).unwrap();
    let topics = 10;
    let per = 200u64;
    for i in 0..per {
        for t in 0..topics {
            w.write(&format!("t{t}"), &[i as u8; 100]).unwrap();
        }
    }
    let running = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let overlap = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let (r2, m2, b2, o2, d2) = (running.clone(), max_seen.clone(), busy.clone(), overlap.clone(), delivered.clone());
    let reader = logstream::Reader::builder(&cfg)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let now = r2.fetch_add(1, Ordering::SeqCst) + 1;
            m2.fetch_max(now, Ordering::SeqCst);
            if !b2.lock().unwrap().insert(b.topic().to_owned()) {
                o2.fetch_add(1, Ordering::SeqCst);
            }
            // Hold the slot long enough for the pool to fill up.
            std::thread::sleep(Duration::from_millis(2));
            b2.lock().unwrap().remove(b.topic());
            r2.fetch_sub(1, Ordering::SeqCst);
            d2.fetch_add(b.len(), Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    wait_for("all records", Duration::from_secs(60), || delivered.load(Ordering::SeqCst) >= (per as usize) * topics);
    reader.stop().unwrap();
    assert!(max_seen.load(Ordering::SeqCst) <= 3, "{} closures ran at once", max_seen.load(Ordering::SeqCst));
    assert_eq!(max_seen.load(Ordering::SeqCst), 3, "the pool should use all its workers with 10 busy topics");
    assert_eq!(overlap.load(Ordering::SeqCst), 0, "two closures ran for one topic at once");
}
