//! `Writer::flush_async` and `write_durable_async` complete from the flush
//! thread's sync pass: while a sync is held up in the disk, the runtime's
//! only thread keeps running other tasks; once the future completes the
//! records are on stable storage (a power-loss image keeps them); a failed
//! sync is the writer's usual error. Each on a current-thread and a
//! multi-thread runtime.
#![cfg(feature = "tokio")]
mod common;

use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::*;
use logstream::testing::{Crash, CrashRecorder, Faults, StorageHook, SyncedRange};

const SAFETY: Duration = Duration::from_secs(20);

/// A disk whose syncs, once armed, wait until the test opens the gate; it
/// tells the test when a sync has arrived.
#[derive(Default)]
struct GatedDisk {
    state: Mutex<(bool, bool)>, // (armed, open)
    cv: Condvar,
    arrived: Mutex<Option<tokio::sync::mpsc::UnboundedSender<()>>>,
}

impl GatedDisk {
    fn hold(&self) {
        let mut s = self.state.lock().unwrap();
        if !s.0 {
            return;
        }
        if let Some(tx) = &*self.arrived.lock().unwrap() {
            let _ = tx.send(());
        }
        while !s.1 {
            s = self.cv.wait(s).unwrap();
        }
    }

    fn open(&self) {
        self.state.lock().unwrap().1 = true;
        self.cv.notify_all();
    }
}

impl StorageHook for GatedDisk {
    fn before_sync(&self, _range: &SyncedRange<'_>) -> io::Result<()> {
        self.hold();
        Ok(())
    }
    fn before_dir_sync(&self, _dir: &Path) -> io::Result<()> {
        self.hold();
        Ok(())
    }
    fn before_fs_sync(&self, _path: &Path) -> io::Result<()> {
        self.hold();
        Ok(())
    }
}

async fn a_flush_held_up_in_the_disk_leaves_the_runtime_free() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_flush_interval_ms(60_000); // only the flush asked for syncs
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("t", &payload("t", 0)).unwrap();
    w.flush().unwrap();
    // Opened before the disk is gated (claiming a doorbell slot syncs a directory).
    let mut r = logstream::AsyncTopicReader::open(&cfg, "t", 0).unwrap();
    let disk = Arc::new(GatedDisk::default());
    let (tx, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    *disk.arrived.lock().unwrap() = Some(tx);
    logstream::testing::add_hook(dir.path(), disk.clone());
    disk.state.lock().unwrap().0 = true;

    w.write("t", &payload("t", 1)).unwrap();
    let w2 = w.clone();
    let flush = tokio::spawn(async move { w2.flush_async().await });
    tokio::time::timeout(SAFETY, arrived.recv()).await.expect("the flush reached the disk").unwrap();
    // The sync is held in the disk now. This task runs on the same runtime
    // (on a current-thread one, the same thread): it writes, reads with an
    // async reader and sees the flush still pending.
    w.write("t", &payload("t", 2)).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let b = tokio::time::timeout(SAFETY, r.next_batch(1 << 20)).await.unwrap().unwrap();
        seen.extend(b.records().map(|rec| rec.seq()));
    }
    assert_eq!(seen, [0, 1, 2]);
    assert!(!flush.is_finished(), "the flush completed while its sync was held in the disk");
    disk.open();
    tokio::time::timeout(SAFETY, flush).await.expect("the flush completed").unwrap().unwrap();
    logstream::testing::remove_hook(dir.path());
}

#[tokio::test(flavor = "current_thread")]
async fn a_flush_held_up_in_the_disk_leaves_a_current_thread_runtime_free() {
    a_flush_held_up_in_the_disk_leaves_the_runtime_free().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_held_up_in_the_disk_leaves_a_multi_thread_runtime_free() {
    a_flush_held_up_in_the_disk_leaves_the_runtime_free().await;
}

/// Each awaited durable write (alone, and many at once) is in the image a
/// power loss would leave, the moment it completes.
async fn awaited_durable_writes_survive_a_power_loss() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let rec = CrashRecorder::install(&live);
    let mut cfg = config(&live);
    cfg.set_flush_interval_ms(60_000); // only the durable writes sync
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..5u64 {
        assert_eq!(w.write_durable_async("t", &payload("t", i)).await.unwrap(), i);
        let img = dir.path().join(format!("img{i}"));
        rec.crash_image(&img, Crash::SyncedOnly).unwrap();
        let recs = read_all(&config(&img), "t");
        assert_eq!(recs.len() as u64, i + 1, "record {i} was acknowledged durable but a power loss drops it");
        assert_eq!(recs.last().unwrap().1, payload("t", i));
    }
    let tasks: Vec<_> = (0..8)
        .map(|k| {
            let tw = w.topic(&format!("c{k}")).unwrap();
            tokio::spawn(async move {
                for i in 0..20u64 {
                    assert_eq!(tw.write_durable_async(&payload(tw.name(), i)).await.unwrap(), i);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let img = dir.path().join("img-all");
    rec.crash_image(&img, Crash::SyncedOnly).unwrap();
    rec.uninstall();
    for k in 0..8 {
        let topic = format!("c{k}");
        let recs = read_all(&config(&img), &topic);
        assert_eq!(recs.len(), 20, "{topic}: durable records lost in the power loss");
    }
    w.close().unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn awaited_durable_writes_survive_a_power_loss_on_a_current_thread_runtime() {
    awaited_durable_writes_survive_a_power_loss().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaited_durable_writes_survive_a_power_loss_on_a_multi_thread_runtime() {
    awaited_durable_writes_survive_a_power_loss().await;
}

async fn a_failed_sync_fails_the_awaited_flush_and_every_one_after() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    let faults = Arc::new(Faults::new());
    faults.syncs_left.store(0, std::sync::atomic::Ordering::SeqCst);
    logstream::testing::add_hook(dir.path(), faults);
    w.write("t", b"x").unwrap();
    let first = tokio::time::timeout(SAFETY, w.flush_async()).await.unwrap();
    assert!(matches!(first, Err(logstream::Error::Poisoned { .. })), "got {first:?}");
    let again = tokio::time::timeout(SAFETY, w.write_durable_async("t", b"y")).await.unwrap();
    assert!(matches!(again, Err(logstream::Error::Poisoned { .. })), "got {again:?}");
    logstream::testing::remove_hook(dir.path());
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_sync_fails_the_awaited_flush_on_a_current_thread_runtime() {
    a_failed_sync_fails_the_awaited_flush_and_every_one_after().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_fails_the_awaited_flush_on_a_multi_thread_runtime() {
    a_failed_sync_fails_the_awaited_flush_and_every_one_after().await;
}
