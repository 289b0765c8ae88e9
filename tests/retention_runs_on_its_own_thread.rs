//! Retention (disk measurement, age and size limits, deletions) runs on its
//! own `logstream-retention` thread: a stalled deletion never delays a
//! flush, a write blocked at a disk cap is let go as soon as retention frees
//! space, and the thread is gone after close, drop, or a failure.
mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::*;
use logstream::FullPolicy;
use logstream::testing::{Change, Faults, StorageHook, add_hook, remove_hook};

/// The tests count this process's retention threads: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Threads named `logstream-retention` in this process (Linux keeps the
/// first 15 bytes of a thread's name).
fn retention_threads() -> usize {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap();
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "logstream-reten")
        .count()
}

/// Holds every segment deletion (an unlinked data file) until released.
#[derive(Default)]
struct StallDeletions {
    stalled: AtomicBool,
    released: Mutex<bool>,
    cv: Condvar,
}

impl StallDeletions {
    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl StorageHook for StallDeletions {
    fn before_change(&self, change: &Change<'_>) -> io::Result<()> {
        if let Change::Remove(p) = change
            && p.extension().is_some_and(|e| e == "dat")
        {
            self.stalled.store(true, Ordering::SeqCst);
            let mut released = self.released.lock().unwrap();
            while !*released {
                released = self.cv.wait(released).unwrap();
            }
        }
        Ok(())
    }
}

fn aged(dir: &Path) -> logstream::Config {
    let mut cfg = config(dir);
    cfg.set_idx_file_max_item_num(10).set_retention_max_age_ms(1);
    cfg
}

#[test]
fn a_stalled_retention_deletion_does_not_delay_a_flush_and_close_joins_the_thread() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cfg = aged(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    // A new thread takes its name as it starts.
    wait_for("open to start the retention thread", Duration::from_secs(10), || retention_threads() == 1);
    let stall = Arc::new(StallDeletions::default());
    add_hook(dir.path(), stall.clone());
    for i in 0..100 {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    // About once a second the flush thread wakes retention, which finds
    // sealed segments older than 1 ms and stalls deleting the first.
    wait_for("retention to reach a deletion", Duration::from_secs(20), || stall.stalled.load(Ordering::SeqCst));
    // Meanwhile writes are made durable as ever.
    let (tx, rx) = std::sync::mpsc::channel();
    let w2 = w.clone();
    std::thread::spawn(move || {
        let started = Instant::now();
        let r = w2.write("t", b"during the stall").and_then(|_| w2.flush());
        let _ = tx.send((r, started.elapsed()));
    });
    let outcome = rx.recv_timeout(Duration::from_secs(10));
    stall.release();
    let (r, took) = outcome.expect("flush() waited for the stalled retention deletion");
    r.unwrap();
    assert!(took < Duration::from_secs(5), "flush took {took:?}");
    remove_hook(dir.path());
    w.close().unwrap();
    assert_eq!(retention_threads(), 0, "close joins the retention thread");
    // The last clone's drop does too.
    let w = logstream::Writer::open(&cfg).unwrap();
    wait_for("the retention thread", Duration::from_secs(10), || retention_threads() == 1);
    assert_eq!(w.next_seq("t").unwrap(), 101, "the record written during the stall is there");
    drop(w);
    assert_eq!(retention_threads(), 0, "drop joins the retention thread");
}

#[test]
fn a_write_blocked_at_a_disk_cap_goes_on_as_soon_as_retention_frees_space() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = aged(dir.path());
    cfg.set_data_file_max_size(256 * 1024)
        .set_idx_file_max_item_num(100)
        .set_max_disk_bytes(Some(2 << 20))
        .set_full_policy(FullPolicy::Block { max_wait: Duration::from_secs(60) });
    let w = logstream::Writer::open(&cfg).unwrap();
    // About 6 MB through a 2 MiB cap, with no consumer: only age retention
    // (woken by the blocked writer, not only once a second) makes room.
    let started = Instant::now();
    for i in 0..6000u64 {
        w.write("t", &vec![i as u8; 1000]).unwrap();
    }
    let stats = w.stats();
    assert!(stats.full_waits > 0, "the writer never met the cap");
    assert!(stats.segments_dropped > 0, "retention deleted nothing");
    assert!(started.elapsed() < Duration::from_secs(50), "took {:?}", started.elapsed());
    w.close().unwrap();
    assert_eq!(retention_threads(), 0);
}

#[test]
fn a_poisoned_writer_stops_its_retention_thread() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::new());
    add_hook(dir.path(), faults.clone());
    let w = logstream::Writer::open(&aged(dir.path())).unwrap();
    wait_for("the retention thread", Duration::from_secs(10), || retention_threads() == 1);
    w.write("t", b"a").unwrap();
    faults.syncs_left.store(0, Ordering::SeqCst);
    assert!(matches!(w.flush(), Err(logstream::Error::Poisoned { .. })));
    // No deletion after a failure: the thread ends without close.
    wait_for("the retention thread to end", Duration::from_secs(10), || retention_threads() == 0);
    remove_hook(dir.path());
    assert!(w.close().is_err(), "closing a poisoned writer reports the poison");
}
