//! Concurrency races: segment rolls, retention deletions, checkpointing,
//! reader restarts and pull readers racing with writers on many threads never
//! lose or duplicate a record.
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn rolls_retention_and_checkpoints_racing_with_readers_and_writers_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // Tiny segments: a roll every 37 records; checkpoints before every batch;
    // retention deletes consumed segments as soon as both groups have them.
    cfg.set_idx_file_max_item_num(37)
        .set_data_file_max_size(64 * 1024)
        .set_checkpoint_interval_ms(0)
        .set_max_batch_bytes(2048)
        .set_flush_interval_ms(1)
        .set_max_concurrent_forward(4);
    let w = logstream::Writer::open(&cfg).unwrap();
    let (steady, steady_seen) = collecting_reader(&cfg, "steady");
    let stop = Arc::new(AtomicBool::new(false));

    // Pull readers scanning from random places while segments roll and vanish.
    let scanners: Vec<_> = (0..2)
        .map(|k| {
            let cfg = cfg.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let topic = format!("t{}", n % 4);
                    let mut r = logstream::TopicReader::open(&cfg, &topic, (n * 7919 + k) % 500).unwrap();
                    let mut last: Option<u64> = None;
                    while let Some(b) = r.next_batch(4096).unwrap() {
                        // A reader outside any group is not protected by
                        // retention: segments may vanish ahead of it, which
                        // it must report as a gap, never skip silently.
                        let gaps: Vec<u64> = r
                            .take_events()
                            .into_iter()
                            .filter_map(|e| match e {
                                logstream::Corruption::Gap { to_seq, .. } => Some(to_seq),
                                _ => None,
                            })
                            .collect();
                        for rec in b.records() {
                            assert_eq!(rec.data(), payload(&topic, rec.seq()), "scanner read wrong bytes");
                            if let Some(l) = last {
                                assert!(rec.seq() > l, "scanner saw a repeat");
                                assert!(
                                    rec.seq() == l + 1 || gaps.contains(&rec.seq()),
                                    "scanner skipped {}..{} without a gap report",
                                    l + 1,
                                    rec.seq()
                                );
                            }
                            last = Some(rec.seq());
                        }
                    }
                    n += 1;
                }
            })
        })
        .collect();

    // Writers need the record's own seq in the payload: write under a per-topic order.
    let topic_locks: Arc<Vec<parking_lot::Mutex<()>>> = Arc::new((0..4).map(|_| parking_lot::Mutex::new(())).collect());
    let writers: Vec<_> = (0..4)
        .map(|k| {
            let w = w.clone();
            let locks = topic_locks.clone();
            std::thread::spawn(move || {
                for i in 0..2500u64 {
                    let t = (i as usize * 3 + k) % 4;
                    let topic = format!("t{t}");
                    let _g = locks[t].lock();
                    let seq = w.next_seq(&topic).unwrap();
                    assert_eq!(w.write(&topic, &payload(&topic, seq)).unwrap(), seq);
                }
            })
        })
        .collect();

    // A second group restarted again and again while all this runs.
    let mut restarted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut rounds = 0;
    while writers.iter().any(|h| !h.is_finished()) || rounds < 5 {
        let (r, seen) = collecting_reader(&cfg, "restarted");
        std::thread::sleep(Duration::from_millis(20));
        r.stop().unwrap();
        drop(r);
        for (t, v) in seen.lock().unwrap().iter() {
            restarted.entry(t.clone()).or_default().extend(v.iter().map(|x| x.0));
        }
        rounds += 1;
        assert!(Instant::now() < deadline);
    }
    for h in writers {
        h.join().unwrap();
    }
    let expected: BTreeMap<String, u64> = (0..4).map(|t| (format!("t{t}"), 2500)).collect();
    let (r, seen) = collecting_reader(&cfg, "restarted");
    wait_for("the restarted group to finish", Duration::from_secs(60), || {
        restarted.values().map(Vec::len).sum::<usize>() + count(&seen) >= 10_000
    });
    r.stop().unwrap();
    wait_for("the steady group to finish", Duration::from_secs(60), || count(&steady_seen) == 10_000);
    wait_for("retention to delete consumed segments", Duration::from_secs(60), || steady.stats().segments_deleted > 0);
    steady.stop().unwrap();
    stop.store(true, Ordering::Relaxed);
    for s in scanners {
        s.join().unwrap();
    }
    assert_dense(&steady_seen, &expected);
    for (t, v) in seen.lock().unwrap().iter() {
        restarted.entry(t.clone()).or_default().extend(v.iter().map(|x| x.0));
    }
    for (t, v) in &restarted {
        assert!(v.iter().copied().eq(0..2500), "{t}: the restarted group lost or repeated records");
    }
    w.close().unwrap();
}
