//! A future that never completes cannot hold `stop_async` hostage: it
//! returns after `max_forward_ms` with `Error::StopAbandoned` naming the
//! topic, the other topics were delivered meanwhile, and the abandoned
//! batch is delivered again by the group's next reader. On a current-thread
//! and a multi-thread runtime.
#![cfg(feature = "tokio")]
mod async_common;
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_common::*;
use common::{config, payload};

const MAX_FORWARD_MS: u64 = 300;

async fn stop_async_returns_even_when_a_future_never_completes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_max_forward_ms(MAX_FORWARD_MS);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..50 {
        w.write("stuck", &payload("stuck", i)).unwrap();
        w.write("fine", &payload("fine", i)).unwrap();
    }
    let got = Delivered::default();
    let entered = Arc::new(tokio::sync::Notify::new());
    let (g2, e2) = (got.clone(), entered.clone());
    let reader = logstream::Reader::builder(&cfg)
        .group("g")
        .start_async(move |b: Arc<logstream::Batch>| {
            let (g2, e2) = (g2.clone(), e2.clone());
            async move {
                if b.topic() == "stuck" {
                    e2.notify_one();
                    std::future::pending::<()>().await; // an HTTP call without a timeout
                }
                g2.record(&b);
                Ok::<(), std::io::Error>(())
            }
        })
        .await
        .unwrap();
    got.until("the other topic", |d| d.of("fine").len() == 50).await;
    tokio::time::timeout(SAFETY, entered.notified()).await.expect("the stuck topic's future started");
    let t = Instant::now();
    let stopped = tokio::time::timeout(SAFETY, reader.stop_async()).await.expect("stop_async returned");
    let took = t.elapsed();
    match stopped {
        Err(logstream::Error::StopAbandoned { topics, .. }) => assert_eq!(topics, ["stuck"]),
        other => panic!("expected StopAbandoned for topic stuck, got {other:?}"),
    }
    assert!(took < Duration::from_millis(MAX_FORWARD_MS) * 10, "stop took {took:?}");
    assert!(got.of("stuck").is_empty());

    // The next reader of the group gets the abandoned records.
    let again = Delivered::default();
    let a2 = again.clone();
    let next = logstream::Reader::builder(&cfg)
        .group("g")
        .start_async(move |b: Arc<logstream::Batch>| {
            let a2 = a2.clone();
            async move {
                a2.record(&b);
                Ok::<(), std::io::Error>(())
            }
        })
        .await
        .unwrap();
    again.until("the abandoned topic", |d| d.of("stuck").len() == 50).await;
    next.stop_async().await.unwrap();
    assert_eq!(again.of("stuck"), (0..50).collect::<Vec<_>>());
    assert!(again.of("fine").is_empty(), "the other topic's position was persisted");
}

#[tokio::test(flavor = "current_thread")]
async fn stop_async_returns_even_when_a_future_never_completes_on_a_current_thread_runtime() {
    stop_async_returns_even_when_a_future_never_completes().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_async_returns_even_when_a_future_never_completes_on_a_multi_thread_runtime() {
    stop_async_returns_even_when_a_future_never_completes().await;
}
