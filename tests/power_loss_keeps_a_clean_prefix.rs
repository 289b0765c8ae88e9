//! Power loss: the disk keeps only what was synced, plus a random part of
//! the rest (torn and lost pages, lost directory entries). After recovery
//! every record before a `flush()` that returned is there, each topic is a
//! clean prefix of what was written, recovery is idempotent, and a group's
//! saved position never points past the end of its topic.
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use logstream::testing::{Crash, CrashRecorder};

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const TOPICS: [&str; 3] = ["alpha", "beta", "gamma"];

type Written = BTreeMap<String, Vec<Vec<u8>>>;
type Running = (logstream::Writer, logstream::ReaderHandle);

/// Runs a writer and a reader (checkpoint interval 0) on `live`, writing and
/// flushing at random; returns them still running, with what was written and
/// what was flushed.
fn run_workload(live: &Path, rng: &mut Rng) -> (Running, Written, BTreeMap<String, usize>) {
    let mut cfg = config(live);
    cfg.set_idx_file_max_item_num(20 + rng.below(300))
        .set_data_file_max_size(64 * 1024 + rng.below(4) * 64 * 1024)
        .set_flush_interval_ms(1 + rng.below(30))
        .set_checkpoint_interval_ms(0)
        .set_index_interval_bytes(64 + rng.below(2000))
        // Every topic is checked as a prefix from seq 0: the group's own
        // retention (consumed segments deleted, once a second) would cut that
        // prefix whenever the workload outlasts a retention pass, as it does
        // on a loaded machine. Retention under crashes has its own tests
        // (crash_at_every_file_system_step_loses_nothing, races_…).
        .set_retain_consumed(true);
    let w = logstream::Writer::open(&cfg).unwrap();
    let (reader, _) = collecting_reader(&cfg, "g");
    let mut written: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    let mut flushed: BTreeMap<String, usize> = BTreeMap::new();
    let steps = 200 + rng.below(1500);
    for i in 0..steps {
        let t = TOPICS[rng.below(3) as usize];
        let v = written.entry(t.to_owned()).or_default();
        let mut data = payload(t, v.len() as u64);
        data.resize(data.len() + rng.below(3000) as usize, (i % 251) as u8);
        assert_eq!(w.write(t, &data).unwrap(), v.len() as u64);
        v.push(data);
        if rng.below(100) == 0 {
            w.flush().unwrap();
            for (t, v) in &written {
                flushed.insert(t.clone(), v.len());
            }
        }
        if rng.below(400) == 0 {
            // Let the flush thread and the reader run for a while.
            std::thread::sleep(Duration::from_millis(rng.below(15)));
        }
    }
    ((w, reader), written, flushed)
}

fn check_image(img: &Path, what: &str, written: &BTreeMap<String, Vec<Vec<u8>>>, flushed: &BTreeMap<String, usize>) {
    let cfg = config(img);
    let w = logstream::Writer::open(&cfg).unwrap_or_else(|e| panic!("{what}: recovery failed: {e}"));
    let mut lens = BTreeMap::new();
    for t in TOPICS {
        let recs = read_all(&cfg, t);
        let all = written.get(t).map(Vec::as_slice).unwrap_or(&[]);
        let must = flushed.get(t).copied().unwrap_or(0);
        assert!(
            recs.len() >= must,
            "{what}: {t} lost flushed records: {} left (from seq {:?}), {must} were flushed",
            recs.len(),
            recs.first().map(|r| r.0)
        );
        assert!(recs.len() <= all.len(), "{what}: {t} has records never written");
        for (i, (s, d)) in recs.iter().enumerate() {
            assert_eq!(*s, i as u64, "{what}: {t}: not a clean prefix at {i}");
            assert_eq!(d, &all[i], "{what}: {t} #{i}: wrong bytes");
        }
        assert_eq!(w.next_seq(t).unwrap(), recs.len() as u64, "{what}: {t}: sequence does not continue");
        lens.insert(t.to_owned(), recs.len());
    }
    w.close().unwrap();
    // Recovery is idempotent: a second open finds nothing to do and the same records.
    let w = logstream::Writer::open(&cfg).unwrap();
    assert!(w.recovery_report().is_clean(), "{what}: second recovery changed things: {:?}", w.recovery_report());
    for t in TOPICS {
        assert_eq!(read_all(&cfg, t).len(), lens[t], "{what}: {t} changed on the second open");
    }
    w.close().unwrap();
    // The group's saved positions never point past the end, and nothing is damaged.
    let events = Arc::new(Mutex::new(Vec::new()));
    let e2 = events.clone();
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let reader = logstream::Reader::builder(&cfg)
        .group("g")
        .on_corruption(move |c| e2.lock().unwrap().push(format!("{c:?}")))
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let mut m = s2.lock().unwrap();
            for r in b.records() {
                m.entry(b.topic().to_owned()).or_default().push((r.seq(), r.data().to_vec()));
            }
            Ok(())
        })
        .unwrap();
    let caught_up = || {
        let pos = reader.positions();
        TOPICS.iter().all(|t| lens[*t] == 0 || pos.iter().any(|p| p.topic == *t && p.confirmed as usize == lens[*t]))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !caught_up() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: group did not catch up: positions {:?}, lengths {lens:?}, events {:?}",
            reader.positions(),
            events.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    reader.stop().unwrap();
    let events = events.lock().unwrap();
    assert!(events.is_empty(), "{what}: reader reported {events:?}");
}

#[test]
fn after_a_power_loss_flushed_records_survive_and_each_topic_is_a_clean_prefix() {
    let seeds: u64 = std::env::var("LOGSTREAM_POWER_LOSS_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    for run in 0..seeds {
        let seed = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(run + 1);
        let mut rng = Rng(seed);
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live");
        std::fs::create_dir(&live).unwrap();
        let rec = CrashRecorder::install(&live);
        let (running, written, flushed) = run_workload(&live, &mut rng);
        // The crash happens now: the images show the disk at this instant,
        // whatever the writer and reader do afterwards.
        let images = [
            ("synced-only", Crash::SyncedOnly),
            ("power-loss-1", Crash::PowerLoss { seed: seed ^ 1 }),
            ("power-loss-2", Crash::PowerLoss { seed: seed ^ 2 }),
            ("kill-9", Crash::ProcessKill),
        ];
        for (name, crash) in images {
            rec.crash_image(&dir.path().join(name), crash).unwrap();
        }
        rec.uninstall();
        running.1.stop().unwrap();
        running.0.close().unwrap();
        for (name, crash) in images {
            let what = format!("run {run} (seed {seed:#x}) {name}");
            let mut must = flushed.clone();
            if crash == Crash::ProcessKill {
                // kill -9 keeps every record write() returned for.
                must = written.iter().map(|(t, v)| (t.clone(), v.len())).collect();
            }
            check_image(&dir.path().join(name), &what, &written, &must);
        }
    }
}

#[test]
fn pages_written_back_early_after_a_flush_are_kept_once_flushed_and_cut_cleanly_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir(&live).unwrap();
    let rec = CrashRecorder::install(&live);
    let mut cfg = config(&live);
    // Only the explicit flushes sync; segments hold several writeback steps.
    cfg.set_data_file_max_size(16 << 20).set_flush_interval_ms(60_000);
    let w = logstream::Writer::open(&cfg).unwrap();
    // A flush arms early writeback for the writes that follow.
    w.flush().unwrap();
    let mut written: Written = BTreeMap::new();
    let mut flushed = BTreeMap::new();
    let v = written.entry("alpha".to_owned()).or_default();
    for i in 0..90_000u64 {
        let mut data = payload("alpha", i);
        data.resize(200, (i % 251) as u8);
        w.write("alpha", &data).unwrap();
        v.push(data);
        if i == 40_000 {
            w.flush().unwrap();
            flushed.insert("alpha".to_owned(), v.len());
        }
    }
    wait_for("early writeback behind the writer", Duration::from_secs(30), || {
        w.stats().early_writeback_bytes >= 8 << 20
    });
    let images = [
        ("synced-only", Crash::SyncedOnly),
        ("power-loss", Crash::PowerLoss { seed: 7 }),
        ("kill-9", Crash::ProcessKill),
    ];
    for (name, crash) in images {
        rec.crash_image(&dir.path().join(name), crash).unwrap();
    }
    rec.uninstall();
    w.close().unwrap();
    for (name, crash) in images {
        let must =
            if crash == Crash::ProcessKill { BTreeMap::from([("alpha".to_owned(), 90_000)]) } else { flushed.clone() };
        check_image(&dir.path().join(name), name, &written, &must);
    }
}
