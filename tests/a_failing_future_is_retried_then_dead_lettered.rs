//! An async forwarder whose future fails (or panics) gets the same batch
//! again after the retry policy's backoff; once the attempts run out the
//! batch becomes the group's dead letters and the topic moves on. On a
//! current-thread and a multi-thread runtime.
#![cfg(feature = "tokio")]
mod async_common;
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_common::*;
use common::{config, payload};
use logstream::{Batch, RetryPolicy};

async fn a_failing_future_is_retried_then_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_max_batch_bytes(1024);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..150 {
        w.write("ok", &payload("ok", i)).unwrap();
        w.write("bad", &payload("bad", i)).unwrap();
    }
    // Attempts per (topic, first seq), in order.
    let attempts: Arc<Mutex<Vec<(String, u64, u32)>>> = Arc::default();
    let got = Delivered::default();
    let (a2, g2) = (attempts.clone(), got.clone());
    let reader = logstream::Reader::builder(&cfg)
        .group("g")
        .retry(RetryPolicy {
            initial: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_attempts: Some(3),
        })
        .start_async(move |b: Arc<Batch>| {
            let (attempts, got) = (a2.clone(), g2.clone());
            async move {
                tokio::task::yield_now().await;
                attempts.lock().unwrap().push((b.topic().to_owned(), b.first_seq(), b.attempt()));
                match (b.topic(), b.attempt()) {
                    // The endpoint refuses the first batch of "bad" for good:
                    // an error, then a panic, then an error again.
                    ("bad", 2) if b.first_seq() == 0 => panic!("the endpoint's client panicked"),
                    ("bad", _) if b.first_seq() == 0 => Err(format!("endpoint refused seq {}", b.first_seq())),
                    _ => {
                        got.record(&b);
                        Ok(())
                    }
                }
            }
        })
        .await
        .unwrap();
    got.until("the rest of both topics", |d| d.of("ok").len() == 150 && d.of("bad").last() == Some(&149)).await;
    let stats = reader.stats();
    reader.stop_async().await.unwrap();

    let attempts = attempts.lock().unwrap();
    let first_bad: Vec<u32> = attempts.iter().filter(|(t, s, _)| t == "bad" && *s == 0).map(|(_, _, a)| *a).collect();
    assert_eq!(first_bad, [1, 2, 3], "the failing batch was tried exactly max_attempts times");
    assert_eq!(got.of("ok"), (0..150).collect::<Vec<_>>());
    assert_eq!(stats.panics, 1, "the panicking future counts as a panic");
    assert_eq!(stats.failures, 2);

    let group = logstream::Group::open(&cfg, "g").unwrap();
    let letters = group.dead_letters("bad", 1000).unwrap();
    let dead: Vec<u64> = letters.iter().map(|l| l.seq).collect();
    let delivered = got.of("bad");
    assert!(!dead.is_empty() && dead[0] == 0, "the failing batch became dead letters: {dead:?}");
    assert_eq!(delivered.first(), Some(&(dead.last().unwrap() + 1)), "the topic moved on right after them");
    for l in &letters {
        assert_eq!(l.data, payload("bad", l.seq));
        assert_eq!(l.attempts, 3);
        assert!(l.error.contains("endpoint refused"), "{}", l.error);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_failing_future_is_retried_then_dead_lettered_on_a_current_thread_runtime() {
    a_failing_future_is_retried_then_dead_lettered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_future_is_retried_then_dead_lettered_on_a_multi_thread_runtime() {
    a_failing_future_is_retried_then_dead_lettered().await;
}
