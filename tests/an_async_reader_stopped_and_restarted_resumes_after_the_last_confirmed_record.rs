//! An async reader stopped with `stop_async` (or by dropping its handle
//! inside the runtime) persists its positions; a new one of the same group
//! resumes right after the last confirmed record. On a current-thread and
//! a multi-thread runtime.
#![cfg(feature = "tokio")]
mod async_common;
mod common;

use std::sync::Arc;

use async_common::*;
use common::{config, payload};
use logstream::{AsyncReaderHandle, Batch};

async fn collecting(cfg: &logstream::Config, got: &Delivered) -> AsyncReaderHandle {
    let got = got.clone();
    logstream::Reader::builder(cfg)
        .group("g")
        .start_async(move |b: Arc<Batch>| {
            let got = got.clone();
            async move {
                tokio::task::yield_now().await;
                got.record(&b);
                Ok::<(), std::io::Error>(())
            }
        })
        .await
        .unwrap()
}

fn write_range(w: &logstream::Writer, range: std::ops::Range<u64>) {
    for i in range {
        w.write("t", &payload("t", i)).unwrap();
    }
}

async fn stop_and_restart_resume_after_the_last_confirmed_record(drop_instead_of_stop: bool) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    write_range(&w, 0..500);
    let first = Delivered::default();
    let r1 = collecting(&cfg, &first).await;
    first.until("the first 500", |d| d.count() == 500).await;
    if drop_instead_of_stop {
        // Stops on spawn_blocking, without waiting: until then it may still
        // deliver what is written next; the next member takes the topic only
        // once this one gave it up with its position.
        drop(r1);
    } else {
        r1.stop_async().await.unwrap();
    }
    write_range(&w, 500..800);
    let second = Delivered::default();
    let r2 = collecting(&cfg, &second).await;
    // Two sources of deliveries (the dropped reader may still deliver), so
    // the condition is checked every few ms rather than on one's events.
    wait_for("the 300 new records", || first.count() + second.count() >= 800).await;
    r2.stop_async().await.unwrap();
    let (a, b) = (first.of("t"), second.of("t"));
    if drop_instead_of_stop {
        let cut = a.len() as u64;
        assert_eq!(a, (0..cut).collect::<Vec<_>>());
        assert_eq!(b, (cut..800).collect::<Vec<_>>(), "resumed exactly after the last confirmed record");
    } else {
        assert_eq!(a, (0..500).collect::<Vec<_>>());
        assert_eq!(b, (500..800).collect::<Vec<_>>(), "resumed exactly after the last confirmed record");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn stop_async_and_restart_resume_after_the_last_confirmed_record_on_a_current_thread_runtime() {
    stop_and_restart_resume_after_the_last_confirmed_record(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_async_and_restart_resume_after_the_last_confirmed_record_on_a_multi_thread_runtime() {
    stop_and_restart_resume_after_the_last_confirmed_record(false).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_handle_and_restart_resume_after_the_last_confirmed_record_on_a_current_thread_runtime() {
    stop_and_restart_resume_after_the_last_confirmed_record(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_handle_and_restart_resume_after_the_last_confirmed_record_on_a_multi_thread_runtime() {
    stop_and_restart_resume_after_the_last_confirmed_record(true).await;
}
