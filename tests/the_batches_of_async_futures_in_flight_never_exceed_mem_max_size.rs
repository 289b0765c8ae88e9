//! mem_max_size bounds the async reader too: the bytes of the batches whose
//! futures have not finished never exceed it, while several run at once.
//! On a current-thread and a multi-thread runtime.
#![cfg(feature = "tokio")]
mod async_common;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_common::*;
use common::config;

async fn the_batches_in_flight_never_exceed_mem_max_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    let mem = 1u64 << 20;
    cfg.set_mem_max_size(mem).set_max_batch_bytes(300 * 1024).set_max_concurrent_forward(16);
    let w = logstream::Writer::open(&cfg).unwrap();
    let (topics, per_topic) = (12, 400u64);
    for i in 0..per_topic {
        for t in 0..topics {
            w.write(&format!("t{t}"), &vec![i as u8; 2000]).unwrap();
        }
    }
    let (in_flight, peak) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let got = Delivered::default();
    let (f2, p2, g2) = (in_flight.clone(), peak.clone(), got.clone());
    let reader = logstream::Reader::builder(&cfg)
        .start_async(move |b: Arc<logstream::Batch>| {
            let (f2, p2, g2) = (f2.clone(), p2.clone(), g2.clone());
            async move {
                let now = f2.fetch_add(b.bytes(), Ordering::SeqCst) + b.bytes();
                p2.fetch_max(now, Ordering::SeqCst);
                // The endpoint takes a while: the runtime's timer, no thread held.
                tokio::time::sleep(Duration::from_millis(3)).await;
                f2.fetch_sub(b.bytes(), Ordering::SeqCst);
                g2.record(&b);
                Ok::<(), std::io::Error>(())
            }
        })
        .await
        .unwrap();
    got.until("every record", |d| d.count() as u64 == per_topic * topics).await;
    reader.stop_async().await.unwrap();
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= mem, "{peak} bytes were in flight, mem_max_size is {mem}");
    assert!(peak > 300 * 1024, "several batches ran at once ({peak} bytes)");
}

#[tokio::test(flavor = "current_thread")]
async fn the_batches_in_flight_never_exceed_mem_max_size_on_a_current_thread_runtime() {
    the_batches_in_flight_never_exceed_mem_max_size().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batches_in_flight_never_exceed_mem_max_size_on_a_multi_thread_runtime() {
    the_batches_in_flight_never_exceed_mem_max_size().await;
}
