//! Write-side control: durability modes with group commit, batches, disk
//! caps with each policy, close with a deadline, topic admin, age rolling,
//! and the writer's counters.
mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use logstream::testing::{Crash, CrashRecorder, Faults, add_hook, remove_hook};
use logstream::{DeleteMode, Durability, Error, FullPolicy};

#[test]
fn concurrent_durable_writes_share_syncs_and_each_survives_a_power_loss() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let rec = CrashRecorder::install(&live);
    let mut cfg = config(&live);
    cfg.set_flush_interval_ms(60_000); // only the durable writes sync
    let w = logstream::Writer::open(&cfg).unwrap();
    let threads = 8;
    let per = 50u64;
    let handles: Vec<_> = (0..threads)
        .map(|k| {
            let w = w.clone();
            std::thread::spawn(move || {
                let topic = format!("t{k}");
                for i in 0..per {
                    assert_eq!(w.write_durable(&topic, &payload(&topic, i)).unwrap(), i);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Every write_durable returned: a power loss now keeps them all.
    rec.crash_image(&dir.path().join("img"), Crash::SyncedOnly).unwrap();
    rec.uninstall();
    let syncs = w.stats().syncs;
    assert!(syncs < threads * per, "{syncs} syncs for {} durable writes: no group commit", threads * per);
    w.close().unwrap();
    let img = config(&dir.path().join("img"));
    let _ = logstream::Writer::open(&img).unwrap();
    for k in 0..threads {
        let topic = format!("t{k}");
        let recs = read_all(&img, &topic);
        assert_eq!(recs.len() as u64, per, "{topic}: durable records lost in the power loss");
        for (s, d) in recs {
            assert_eq!(d, payload(&topic, s));
        }
    }
}

#[test]
fn a_lone_durable_write_is_on_stable_storage_the_moment_it_returns() {
    // A caller with no company runs the sync itself (no flush thread
    // involved): each record must be in the synced image as soon as its
    // `write_durable` returned, not only at the end.
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let rec = CrashRecorder::install(&live);
    let mut cfg = config(&live);
    cfg.set_flush_interval_ms(60_000);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..12u64 {
        assert_eq!(w.write_durable("t", &payload("t", i)).unwrap(), i);
        let img = dir.path().join(format!("img{i}"));
        rec.crash_image(&img, Crash::SyncedOnly).unwrap();
        let recs = read_all(&config(&img), "t");
        assert_eq!(recs.len() as u64, i + 1, "record {i} was acknowledged durable but a power loss drops it");
        assert_eq!(recs.last().unwrap().1, payload("t", i));
    }
    rec.uninstall();
    assert!(w.stats().syncs >= 12, "one sync per lone durable write");
    w.close().unwrap();
}

#[test]
fn batches_get_contiguous_sequence_numbers_and_a_sync_batch_survives_a_power_loss() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let rec = CrashRecorder::install(&live);
    let mut cfg = config(&live);
    cfg.set_flush_interval_ms(60_000).set_idx_file_max_item_num(300);
    let w = logstream::Writer::open(&cfg).unwrap();
    let t = w.topic("t").unwrap();
    let data: Vec<Vec<u8>> = (0..1000u64).map(|i| payload("t", i)).collect();
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    assert_eq!(t.write_batch(&refs[..10]).unwrap(), 0..10);
    // Another thread's records never land inside a batch.
    let w2 = w.clone();
    let other = std::thread::spawn(move || (0..200).map(|_| w2.write("t", b"other").unwrap()).collect::<Vec<_>>());
    let range = t.write_batch_with(&refs[10..], Durability::Sync).unwrap();
    let others = other.join().unwrap();
    assert_eq!(range.end - range.start, 990);
    assert!(others.iter().all(|s| !range.contains(s)), "a record of another writer landed inside the batch");
    rec.crash_image(&dir.path().join("img"), Crash::SyncedOnly).unwrap();
    rec.uninstall();
    drop(t);
    w.close().unwrap();
    let img = config(&dir.path().join("img"));
    let recs = read_all(&img, "t");
    let batch: Vec<&(u64, Vec<u8>)> = recs.iter().filter(|r| range.contains(&r.0)).collect();
    assert_eq!(batch.len(), 990, "the durable batch survives a power loss whole");
    for (i, (_, d)) in batch.iter().enumerate() {
        assert_eq!(d, &data[10 + i]);
    }
}

#[test]
fn the_sync_durability_config_makes_every_write_durable_before_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let rec = CrashRecorder::install(&live);
    let mut cfg = config(&live);
    cfg.set_flush_interval_ms(60_000).set_durability(Durability::Sync);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..20 {
        w.write("t", &payload("t", i)).unwrap();
    }
    rec.crash_image(&dir.path().join("img"), Crash::SyncedOnly).unwrap();
    rec.uninstall();
    w.close().unwrap();
    assert_eq!(read_all(&config(&dir.path().join("img")), "t").len(), 20);
}

fn capped(dir: &std::path::Path, policy: FullPolicy) -> logstream::Config {
    let mut cfg = config(dir);
    cfg.set_data_file_max_size(256 * 1024)
        .set_idx_file_max_item_num(100)
        .set_max_disk_bytes(Some(2 << 20))
        .set_full_policy(policy);
    cfg
}

fn fill_until_full(w: &logstream::Writer, topic: &str) -> (u64, Error) {
    for i in 0.. {
        match w.write(topic, &[i as u8; 1000]) {
            Ok(_) => {}
            Err(e) => return (i, e),
        }
        assert!(i < 100_000, "the cap was never reached");
    }
    unreachable!()
}

#[test]
fn at_a_disk_cap_the_error_policy_fails_at_once_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = capped(dir.path(), FullPolicy::Error);
    let w = logstream::Writer::open(&cfg).unwrap();
    let (n, e) = fill_until_full(&w, "t");
    assert!(matches!(e, Error::Full { what: "max_disk_bytes", .. }), "{e}");
    assert!(n > 100, "only {n} records fit in 2 MiB");
    assert!(w.stats().full_errors >= 1);
    assert!(w.stats().disk_bytes <= 2 << 20);
    w.close().unwrap();
    assert_eq!(read_all(&cfg, "t").len() as u64, n, "every accepted record is there");
}

#[test]
fn at_a_disk_cap_the_block_policy_waits_then_fails_with_full() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = capped(dir.path(), FullPolicy::Block { max_wait: Duration::from_millis(300) });
    let w = logstream::Writer::open(&cfg).unwrap();
    let (_, e) = fill_until_full(&w, "t");
    assert!(matches!(e, Error::Full { .. }), "{e}");
    // Sealed segments give their unused preallocation back when their sync
    // pass trims them; on a loaded machine that pass may come during the
    // wait below and make room. Let it come first, then fill what it freed.
    w.flush().unwrap();
    let (_, e) = fill_until_full(&w, "t");
    assert!(matches!(e, Error::Full { .. }), "{e}");
    // Full: the next write waits the whole max_wait before it gives up.
    let started = Instant::now();
    assert!(matches!(w.write("t", &[0u8; 1000]), Err(Error::Full { .. })));
    assert!(started.elapsed() >= Duration::from_millis(300), "gave up after {:?}", started.elapsed());
    assert!(w.stats().full_waits >= 2);
    w.close().unwrap();
}

#[test]
fn at_a_disk_cap_the_block_policy_continues_once_a_consumer_frees_space() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = capped(dir.path(), FullPolicy::Block { max_wait: Duration::from_secs(60) });
    cfg.set_checkpoint_interval_ms(0);
    let w = logstream::Writer::open(&cfg).unwrap();
    // A consumer that deletes what it consumed keeps the log under the cap.
    let (reader, seen) = collecting_reader(&cfg, "g");
    let n = 6000u64; // about 6 MB through a 2 MiB cap
    for i in 0..n {
        w.write("t", &vec![i as u8; 1000]).unwrap();
    }
    wait_for("the consumer", Duration::from_secs(120), || count(&seen) as u64 == n);
    reader.stop().unwrap();
    assert!(w.stats().full_waits > 0, "the writer never had to wait for the consumer");
    w.close().unwrap();
}

#[test]
fn at_a_disk_cap_drop_oldest_deletes_old_segments_and_the_lagging_group_hears_of_the_exact_gap() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = capped(dir.path(), FullPolicy::DropOldest);
    let w = logstream::Writer::open(&cfg).unwrap();
    // A registered group that has read nothing yet.
    let (r, _) = collecting_reader(&cfg, "slow");
    r.stop().unwrap();
    drop(r);
    let n = 5000u64;
    for i in 0..n {
        w.write("t", &payload("t", i)).unwrap();
        w.write("t", &[0u8; 900]).unwrap();
    }
    assert!(w.stats().segments_dropped > 0);
    let first_left = logstream::topics(&cfg).unwrap()[0].first_seq;
    assert!(first_left > 0);
    let gaps = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let g2 = gaps.clone();
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let r = logstream::Reader::builder(&cfg)
        .group("slow")
        .on_corruption(move |c| g2.lock().push(c.clone()))
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let mut m = s2.lock().unwrap();
            m.entry(b.topic().to_owned()).or_default().extend(b.records().map(|x| (x.seq(), Vec::new())));
            Ok(())
        })
        .unwrap();
    wait_for("the rest", Duration::from_secs(30), || count(&seen) as u64 == 2 * n - first_left);
    r.stop().unwrap();
    let gaps = gaps.lock();
    assert_eq!(
        *gaps,
        vec![logstream::Corruption::Gap { topic: "t".into(), from_seq: 0, to_seq: first_left }],
        "the group is told exactly which records it lost"
    );
    w.close().unwrap();
}

#[test]
fn close_timeout_returns_in_time_under_a_stalled_disk_and_the_data_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_flush_interval_ms(60_000);
    let faults = Arc::new(Faults::new());
    add_hook(dir.path(), faults.clone());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..500 {
        w.write("t", &payload("t", i)).unwrap();
    }
    faults.stall_ms.store(3000, Ordering::SeqCst);
    let started = Instant::now();
    let report = w.close_timeout(Duration::from_millis(200)).unwrap();
    assert!(started.elapsed() < Duration::from_millis(1500), "close_timeout took {:?}", started.elapsed());
    assert!(!report.durable);
    assert_eq!(report.pending_records, 500);
    assert!(report.pending_bytes > 500 * 24);
    assert!(matches!(w.write("t", b"late"), Err(Error::Closed)));
    // The stalled sync finishes in the background and releases the directory.
    faults.stall_ms.store(0, Ordering::SeqCst);
    let w2 = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match logstream::Writer::open(&cfg) {
                Ok(w) => break w,
                Err(Error::Locked { .. }) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("{e}"),
            }
        }
    };
    remove_hook(dir.path());
    assert_eq!(w2.next_seq("t").unwrap(), 500);
    w2.close().unwrap();
    assert_eq!(read_all(&cfg, "t").len(), 500);
}

#[test]
fn deleting_a_topic_is_refused_while_a_group_lags_and_forcing_it_keeps_the_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_checkpoint_interval_ms(0);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..10 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let (r, _) = collecting_reader(&cfg, "g");
    r.stop().unwrap();
    drop(r);
    w.write("t", b"unread").unwrap();
    match w.delete_topic("t", DeleteMode::IfConsumed) {
        Err(e @ Error::TopicInUse { .. }) => assert!(e.to_string().contains("\"g\""), "{e}"),
        other => panic!("{other:?}"),
    }
    let info = w.delete_topic("t", DeleteMode::Force).unwrap();
    assert_eq!(info.records, 11);
    assert!(!dir.path().join("topics/t").exists());
    assert!(matches!(w.delete_topic("t", DeleteMode::Force), Err(Error::NoSuchTopic { .. })));
    assert_eq!(w.write("t", b"new").unwrap(), 11, "the name goes on after the deleted records");
    let infos = w.topics().unwrap();
    assert_eq!((infos[0].first_seq, infos[0].next_seq, infos[0].records), (11, 12, 1));
    w.close().unwrap();
}

#[test]
fn a_quiet_topic_rolls_its_segment_after_segment_max_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_segment_max_age_ms(200);
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("quiet", b"one").unwrap();
    wait_for("an age roll", Duration::from_secs(30), || {
        std::fs::read_dir(dir.path().join("topics/quiet")).unwrap().count() >= 4
    });
    assert_eq!(w.write("quiet", b"two").unwrap(), 1);
    w.close().unwrap();
    assert_eq!(read_all(&cfg, "quiet").len(), 2);
}

#[test]
fn the_writers_counters_match_the_work_done() {
    let dir = tempfile::tempdir().unwrap();
    let w = logstream::Writer::open(&config(dir.path())).unwrap();
    for i in 0..100u64 {
        w.write(["a", "b"][(i % 2) as usize], &[1u8; 10]).unwrap();
    }
    w.write_batch("c", &[b"xy", b"z"]).unwrap();
    w.flush().unwrap();
    let s = w.stats();
    assert_eq!((s.records, s.bytes, s.topics), (102, 1003, 3));
    assert!(s.syncs >= 1 && s.sync_latency.count >= 1);
    assert!(s.disk_bytes > 0);
    w.close().unwrap();
}

#[test]
fn early_writeback_starts_only_for_a_writer_whose_user_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_data_file_max_size(64 << 20);
    let w = logstream::Writer::open(&cfg).unwrap();
    let rec = [5u8; 1000];
    // 12 MB without a flush: the timed passes write it back, not the
    // prefault thread behind the writer.
    for _ in 0..12_000 {
        w.write("quiet", &rec).unwrap();
    }
    assert_eq!(w.stats().early_writeback_bytes, 0);
    // After a flush, the next 12 MB are written back as they are finished.
    w.flush().unwrap();
    for _ in 0..12_000 {
        w.write("flushed", &rec).unwrap();
    }
    wait_for("early writeback", Duration::from_secs(30), || w.stats().early_writeback_bytes >= 8 << 20);
    w.flush().unwrap();
    assert_eq!(read_all(&cfg, "flushed").len(), 12_000);
    w.close().unwrap();
}
