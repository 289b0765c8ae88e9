//! `AsyncTopicReader::next_batch().await` sleeps while caught up and is woken
//! by the doorbell when a record is written (the fallback poll is set to a
//! minute, so nothing else can wake it within the tests' safety timeouts);
//! dropping a pending `next_batch` future loses nothing. Each scenario runs
//! on a current-thread and on a multi-thread runtime.
#![cfg(feature = "tokio")]
mod common;

use std::time::Duration;

use common::*;
use logstream::AsyncTopicReader;

/// Only a doorbell ring can wake a reader within this (the poll is a minute).
const SAFETY: Duration = Duration::from_secs(20);

fn slow_poll_config(dir: &std::path::Path) -> logstream::Config {
    let mut cfg = config(dir);
    cfg.set_poll_interval_ms(60_000);
    cfg
}

/// Reads `n` records of `topic` from seq 0, batch by batch.
async fn read_n(r: &mut AsyncTopicReader, n: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    while (out.len() as u64) < n {
        let b = tokio::time::timeout(SAFETY, r.next_batch(1 << 20))
            .await
            .unwrap_or_else(|_| panic!("no wake-up after {} of {n} records", out.len()))
            .unwrap();
        out.extend(b.records().map(|rec| (rec.seq(), rec.data().to_vec())));
    }
    out
}

async fn a_waiting_reader_wakes_when_a_record_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = slow_poll_config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("t", &payload("t", 0)).unwrap();
    let mut r = AsyncTopicReader::open(&cfg, "t", 0).unwrap();
    assert_eq!(read_n(&mut r, 1).await, vec![(0, payload("t", 0))]);
    // Caught up: the reader is pending (and armed).
    assert!(tokio::time::timeout(Duration::from_millis(50), r.next_batch(1 << 20)).await.is_err());
    let waiting = tokio::spawn(async move { read_n(&mut r, 1).await });
    // Written from another thread, as a producer would.
    let w2 = w.clone();
    std::thread::spawn(move || w2.write("t", &payload("t", 1)).unwrap()).join().unwrap();
    assert_eq!(waiting.await.unwrap(), vec![(1, payload("t", 1))]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_waiting_reader_wakes_when_a_record_is_written_on_a_current_thread_runtime() {
    a_waiting_reader_wakes_when_a_record_is_written().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_reader_wakes_when_a_record_is_written_on_a_multi_thread_runtime() {
    a_waiting_reader_wakes_when_a_record_is_written().await;
}

/// A producer thread writes one record at a time into small segments while
/// two readers (two topics, one shared waiter thread) follow: every record
/// arrives, in order, across the segment rolls.
async fn readers_follow_a_live_producer_across_segment_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = slow_poll_config(dir.path());
    cfg.set_idx_file_max_item_num(64);
    let w = logstream::Writer::open(&cfg).unwrap();
    let n = 1_000u64;
    let mut readers = Vec::new();
    for topic in ["a", "b"] {
        let mut r = AsyncTopicReader::open(&cfg, topic, 0).unwrap();
        readers.push(tokio::spawn(async move { (topic, read_n(&mut r, n).await) }));
    }
    let producer = std::thread::spawn(move || {
        for i in 0..n {
            for topic in ["a", "b"] {
                w.write(topic, &payload(topic, i)).unwrap();
            }
            if i % 16 == 0 {
                std::thread::yield_now();
            }
        }
    });
    for r in readers {
        let (topic, got) = r.await.unwrap();
        let want: Vec<(u64, Vec<u8>)> = (0..n).map(|i| (i, payload(topic, i))).collect();
        assert_eq!(got, want, "topic {topic}: records missing, repeated or out of order");
    }
    producer.join().unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn readers_follow_a_live_producer_across_segment_rolls_on_a_current_thread_runtime() {
    readers_follow_a_live_producer_across_segment_rolls().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_follow_a_live_producer_across_segment_rolls_on_a_multi_thread_runtime() {
    readers_follow_a_live_producer_across_segment_rolls().await;
}

/// `next_batch` futures dropped while pending (timed out, or lost a
/// `select!`) take nothing with them: the next call starts where the
/// reader stood.
async fn dropping_a_pending_next_batch_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = slow_poll_config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    let mut r = AsyncTopicReader::open(&cfg, "t", 0).unwrap();
    for i in 0..10u64 {
        assert!(
            tokio::time::timeout(Duration::from_millis(5), r.next_batch(1 << 20)).await.is_err(),
            "a batch came before anything was written"
        );
        w.write("t", &payload("t", 2 * i)).unwrap();
        w.write("t", &payload("t", 2 * i + 1)).unwrap();
        let got = read_n(&mut r, 2).await;
        assert_eq!(got, vec![(2 * i, payload("t", 2 * i)), (2 * i + 1, payload("t", 2 * i + 1))]);
    }
    // Polled first (it arms and waits), then cancelled in a select! by a
    // signal that is already there.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tx.send(()).unwrap();
    tokio::select! {
        biased;
        _ = r.next_batch(1 << 20) => panic!("nothing was written"),
        _ = rx => {}
    }
    w.write("t", &payload("t", 20)).unwrap();
    assert_eq!(read_n(&mut r, 1).await, vec![(20, payload("t", 20))]);
    assert_eq!(r.position(), 21);
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_a_pending_next_batch_loses_nothing_on_a_current_thread_runtime() {
    dropping_a_pending_next_batch_loses_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_pending_next_batch_loses_nothing_on_a_multi_thread_runtime() {
    dropping_a_pending_next_batch_loses_nothing().await;
}
