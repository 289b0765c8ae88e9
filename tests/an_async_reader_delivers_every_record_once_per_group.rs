//! `ReaderBuilder::start_async`: with two members of one group and one of
//! another, every record reaches each group exactly once, in topic order;
//! a topic's futures never overlap, and at most `max_concurrent_forward`
//! futures are in flight at once. On a current-thread and a multi-thread
//! runtime.
#![cfg(feature = "tokio")]
mod async_common;
mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_common::*;
use common::{config, payload};
use logstream::{AsyncReaderHandle, Batch};

const TOPICS: usize = 6;
const PER_TOPIC: u64 = 400;
const MAX_IN_FLIGHT: usize = 3;

/// What the futures of every member saw, shared to check the bounds.
#[derive(Default)]
struct Bounds {
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    busy_topics: Mutex<HashSet<String>>,
    overlaps: AtomicUsize,
}

async fn member(cfg: &logstream::Config, group: &str, got: &Delivered, bounds: &Arc<Bounds>) -> AsyncReaderHandle {
    let (got, bounds) = (got.clone(), bounds.clone());
    logstream::Reader::builder(cfg)
        .group(group)
        .start_async(move |b: Arc<Batch>| {
            let (got, bounds) = (got.clone(), bounds.clone());
            async move {
                if !bounds.busy_topics.lock().unwrap().insert(b.topic().to_owned()) {
                    bounds.overlaps.fetch_add(1, Ordering::SeqCst);
                }
                let now = bounds.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                bounds.most_in_flight.fetch_max(now, Ordering::SeqCst);
                // A real await point: other futures run meanwhile.
                tokio::task::yield_now().await;
                for rec in b.records() {
                    assert_eq!(rec.data(), payload(b.topic(), rec.seq()));
                }
                got.record(&b);
                bounds.in_flight.fetch_sub(1, Ordering::SeqCst);
                bounds.busy_topics.lock().unwrap().remove(b.topic());
                Ok::<(), std::io::Error>(())
            }
        })
        .await
        .unwrap()
}

async fn every_record_is_delivered_once_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_max_concurrent_forward(MAX_IN_FLIGHT).set_max_batch_bytes(2048).set_rebalance_interval_ms(50);
    let w = logstream::Writer::open(&cfg).unwrap();
    let topics: Vec<String> = (0..TOPICS).map(|k| format!("t{k}")).collect();
    for t in &topics {
        w.write(t, &payload(t, 0)).unwrap();
    }
    // `g` is shared by two members; each member bounds its own futures.
    let (g, h) = (Delivered::default(), Delivered::default());
    let (gb1, gb2, hb) = (Arc::default(), Arc::default(), Arc::default());
    let g1 = member(&cfg, "g", &g, &gb1).await;
    let g2 = member(&cfg, "g", &g, &gb2).await;
    let h1 = member(&cfg, "h", &h, &hb).await;
    // The group's topics are shared before the bulk is written.
    wait_for("both members of g to own topics", || g1.stats().topics_owned > 0 && g2.stats().topics_owned > 0).await;
    let producer = std::thread::spawn(move || {
        for i in 1..PER_TOPIC {
            for t in &topics {
                w.write(t, &payload(t, i)).unwrap();
            }
        }
        w
    });
    let total = TOPICS * PER_TOPIC as usize;
    g.until("every record for group g", |d| d.count() >= total).await;
    h.until("every record for group h", |d| d.count() >= total).await;
    let w = producer.join().unwrap();
    assert!(g1.stats().batches > 0 && g2.stats().batches > 0, "both members of g delivered");
    g1.stop_async().await.unwrap();
    g2.stop_async().await.unwrap();
    h1.stop_async().await.unwrap();
    for (name, d) in [("g", &g), ("h", &h)] {
        for k in 0..TOPICS {
            let t = format!("t{k}");
            assert_eq!(
                d.of(&t),
                (0..PER_TOPIC).collect::<Vec<_>>(),
                "group {name}, topic {t}: not each record once, in order"
            );
        }
    }
    for b in [&gb1, &gb2, &hb] {
        assert_eq!(b.overlaps.load(Ordering::SeqCst), 0, "two futures of one topic ran at once");
        let most = b.most_in_flight.load(Ordering::SeqCst);
        assert!(most <= MAX_IN_FLIGHT, "{most} futures in flight, max_concurrent_forward is {MAX_IN_FLIGHT}");
    }
    w.close().unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn every_record_is_delivered_once_per_group_on_a_current_thread_runtime() {
    every_record_is_delivered_once_per_group().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_delivered_once_per_group_on_a_multi_thread_runtime() {
    every_record_is_delivered_once_per_group().await;
}
