//! mem_max_size is a real bound: the bytes of batches handed to closures and
//! not yet finished never exceed it.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;

#[test]
fn the_bytes_of_batches_in_flight_never_exceed_mem_max_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    let mem = 1u64 << 20;
    cfg.set_mem_max_size(mem).set_max_batch_bytes(300 * 1024).set_max_concurrent_forward(16);
    let w = logstream::Writer::open(&cfg).unwrap();
    let topics = 12;
    let per_topic = 400u64;
    for i in 0..per_topic {
        for t in 0..topics {
            w.write(&format!("t{t}"), &vec![i as u8; 2000]).unwrap();
        }
    }
    let in_flight = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let (f2, p2, d2) = (in_flight.clone(), peak.clone(), done.clone());
    let reader = logstream::Reader::builder(&cfg)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let now = f2.fetch_add(b.bytes(), Ordering::SeqCst) + b.bytes();
            p2.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(3));
            f2.fetch_sub(b.bytes(), Ordering::SeqCst);
            d2.fetch_add(b.len() as u64, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    wait_for("everything", Duration::from_secs(60), || done.load(Ordering::SeqCst) == per_topic * topics);
    reader.stop().unwrap();
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= mem, "{peak} bytes were in flight, mem_max_size is {mem}");
    assert!(peak > 300 * 1024, "several batches ran at once ({peak} bytes)");
}
