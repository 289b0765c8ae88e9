//! Cancellation never loses a record: futures dropped because their runtime
//! shut down are delivered again (and never made dead letters for it, even
//! with one attempt allowed); a handle dropped while futures are in flight
//! waits for them (without blocking the runtime that runs them); a
//! `start_async` future dropped before it completed leaves no member behind.
#![cfg(feature = "tokio")]
mod async_common;
mod common;

use std::sync::Arc;
use std::time::Duration;

use async_common::*;
use common::{config, payload};
use logstream::{Batch, RetryPolicy};

fn runtime(current_thread: bool) -> tokio::runtime::Runtime {
    let mut b = if current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    b.enable_all().build().unwrap()
}

/// One delivery's future, boxed.
type Delivery = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), std::io::Error>> + Send>>;

fn one_attempt() -> RetryPolicy {
    RetryPolicy { initial: Duration::from_millis(1), max_delay: Duration::from_millis(5), max_attempts: Some(1) }
}

/// A forwarder that records what it delivers, except batches holding
/// `hang_at`, whose future never completes.
fn forwarder(
    got: Delivered,
    hang_at: Option<u64>,
    hung: Arc<tokio::sync::Notify>,
) -> impl Fn(Arc<Batch>) -> Delivery + Send + Sync + 'static {
    move |b: Arc<Batch>| {
        let (got, hung) = (got.clone(), hung.clone());
        Box::pin(async move {
            if hang_at.is_some_and(|s| (b.first_seq()..=b.last_seq()).contains(&s)) {
                hung.notify_one();
                std::future::pending::<()>().await;
            }
            got.record(&b);
            Ok(())
        })
    }
}

fn a_runtime_shutting_down_with_futures_in_flight_loses_nothing(current_thread: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_max_batch_bytes(1024);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..400 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let first = Delivered::default();
    let hung = Arc::new(tokio::sync::Notify::new());
    let rt = runtime(current_thread);
    let reader = rt.block_on(async {
        let r = logstream::Reader::builder(&cfg)
            .group("g")
            .retry(one_attempt())
            .start_async(forwarder(first.clone(), Some(200), hung.clone()))
            .await
            .unwrap();
        tokio::time::timeout(SAFETY, hung.notified()).await.expect("the batch holding seq 200 is in flight");
        r
    });
    // The runtime goes away with that future pending: it is dropped.
    drop(rt);
    // Outside any runtime, the handle stops on this thread.
    let stats = reader.stats();
    drop(reader);
    assert!(first.count() < 400);
    assert_eq!(stats.dead_letters, 0);

    let second = Delivered::default();
    let rt = runtime(current_thread);
    rt.block_on(async {
        let r = logstream::Reader::builder(&cfg)
            .group("g")
            .retry(one_attempt())
            .start_async(forwarder(second.clone(), None, hung.clone()))
            .await
            .unwrap();
        second.until("the rest after the restart", |d| d.of("t").last() == Some(&399)).await;
        r.stop_async().await.unwrap();
    });
    let g = logstream::Group::open(&cfg, "g").unwrap();
    assert!(g.dead_letters("t", 10).unwrap().is_empty(), "a dropped future made dead letters");
    let mut all = first.of("t");
    let again = second.of("t");
    assert!(again.contains(&200), "the batch whose future was dropped is delivered again");
    all.extend(again);
    all.sort_unstable();
    all.dedup();
    assert_eq!(all, (0..400).collect::<Vec<_>>(), "every record delivered");
}

#[test]
fn a_current_thread_runtime_shutting_down_with_futures_in_flight_loses_nothing() {
    a_runtime_shutting_down_with_futures_in_flight_loses_nothing(true);
}

#[test]
fn a_multi_thread_runtime_shutting_down_with_futures_in_flight_loses_nothing() {
    a_runtime_shutting_down_with_futures_in_flight_loses_nothing(false);
}

/// Dropping the handle while a future waits for its endpoint: the stop
/// waits for it on `spawn_blocking`, so the runtime (even one thread)
/// keeps running it; what it confirmed is persisted.
async fn a_handle_dropped_with_futures_in_flight_waits_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..50 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let got = Delivered::default();
    let (entered, release) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
    let (g2, e2, r2) = (got.clone(), entered.clone(), release.clone());
    let reader = logstream::Reader::builder(&cfg)
        .group("g")
        .start_async(move |b: Arc<Batch>| {
            let (got, entered, release) = (g2.clone(), e2.clone(), r2.clone());
            async move {
                entered.notify_one();
                release.notified().await;
                got.record(&b);
                Ok::<(), std::io::Error>(())
            }
        })
        .await
        .unwrap();
    tokio::time::timeout(SAFETY, entered.notified()).await.expect("a batch is in flight");
    drop(reader);
    // The future in flight still runs on this runtime and finishes.
    release.notify_one();
    got.until("the batch in flight to finish", |d| d.count() > 0).await;
    let delivered = got.of("t");
    // Its confirmation is persisted: the group resumes after it.
    let g = logstream::Group::open(&cfg, "g").unwrap();
    let want = delivered.last().unwrap() + 1;
    wait_for("the dropped reader's final persist", || {
        g.positions().unwrap().iter().any(|p| p.topic == "t" && p.next_seq == want)
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_handle_dropped_with_futures_in_flight_waits_for_them_on_a_current_thread_runtime() {
    a_handle_dropped_with_futures_in_flight_waits_for_them().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_dropped_with_futures_in_flight_waits_for_them_on_a_multi_thread_runtime() {
    a_handle_dropped_with_futures_in_flight_waits_for_them().await;
}

/// A `start_async` dropped before it completed (lost a `select!`): the
/// reader it was starting is stopped, and a later member gets everything.
async fn a_dropped_start_future_leaves_no_member_behind() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..100 {
        w.write("t", &payload("t", i)).unwrap();
    }
    // The group exists first: two readers creating a new group at the same
    // moment is another scenario (both may fail to start).
    let mut none = cfg.clone();
    none.set_white_topics(vec!["none".to_owned()]);
    logstream::Reader::builder(&none)
        .group("g")
        .start(|_: &Batch| Ok::<(), std::io::Error>(()))
        .unwrap()
        .stop()
        .unwrap();
    let early = Delivered::default();
    let hung = Arc::new(tokio::sync::Notify::new());
    let start = logstream::Reader::builder(&cfg).group("g").start_async(forwarder(early.clone(), None, hung.clone()));
    tokio::select! {
        biased;
        _ = start => panic!("the start was meant to be cancelled"),
        _ = std::future::ready(()) => {}
    }
    let later = Delivered::default();
    let r =
        logstream::Reader::builder(&cfg).group("g").start_async(forwarder(later.clone(), None, hung)).await.unwrap();
    // Either reader may deliver the last records: checked every few ms.
    wait_for("every record, by one reader or the other", || {
        let mut all = early.of("t");
        all.extend(later.of("t"));
        all.contains(&99) && all.len() >= 100
    })
    .await;
    r.stop_async().await.unwrap();
    let mut all = early.of("t");
    all.extend(later.of("t"));
    all.sort_unstable();
    all.dedup();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_start_future_leaves_no_member_behind_on_a_current_thread_runtime() {
    a_dropped_start_future_leaves_no_member_behind().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_start_future_leaves_no_member_behind_on_a_multi_thread_runtime() {
    a_dropped_start_future_leaves_no_member_behind().await;
}
