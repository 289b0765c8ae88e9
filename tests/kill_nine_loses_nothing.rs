//! Process crash, many times in a row: a child writes at full speed to three
//! topics and is killed with SIGKILL at a random moment, `--cycles N` times
//! (200 by default; `cargo test --test kill_nine_loses_nothing -- --cycles
//! 5000` for a long run). After each kill: every record whose `write()` had
//! returned is present with its bytes, with no gap and no duplicate, and the
//! next writer continues the sequence numbers. A reader in this process
//! (checkpoint interval 0, restarted now and then) delivers every record
//! exactly once: it never redelivers what it confirmed and misses nothing.
//!
//! The child publishes, after each `write()` returns, the count of returned
//! writes per topic in a small shared file, so the parent knows exactly what
//! was acknowledged when it killed the child.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{collecting_reader, count, payload, read_all};

const TOPICS: [&str; 3] = ["orders", "clicks", "audit"];
const ROLE: &str = "LOGSTREAM_KILL_CHILD";

struct Shared {
    _map: memmap2::MmapMut,
    words: *const AtomicU64,
}

impl Shared {
    fn open(path: &Path) -> Shared {
        let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).unwrap();
        f.set_len(4096).unwrap();
        // SAFETY: a private test file, mapped shared between this process and
        // its child; only accessed through atomics.
        let mut map = unsafe { memmap2::MmapMut::map_mut(&f).unwrap() };
        let words = map.as_mut_ptr().cast::<AtomicU64>();
        Shared { _map: map, words }
    }
    fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < 8);
        // SAFETY: in bounds of the 4096-byte mapping, 8-aligned (page start).
        unsafe { &*self.words.add(i) }
    }
}

fn cfg(dir: &Path) -> logstream::Config {
    let mut c = common::config(dir);
    c.set_idx_file_max_item_num(5000).set_data_file_max_size(1 << 20).set_checkpoint_interval_ms(0);
    // Kills land while segments of one topic are being compressed, too.
    c.set_compress_topics(vec![TOPICS[0].to_owned()]);
    c
}

fn child(dir: &Path, shm: &Path) {
    let shared = Shared::open(shm);
    let w = logstream::Writer::open(&cfg(dir)).unwrap();
    let mut next: Vec<u64> = TOPICS.iter().map(|t| w.next_seq(t).unwrap()).collect();
    for (i, n) in next.iter().enumerate() {
        assert_eq!(shared.word(i).load(Ordering::SeqCst), *n, "the sequence continues where the last child stopped");
    }
    shared.word(7).store(1, Ordering::SeqCst); // started
    let mut i = 0usize;
    loop {
        let k = i % 3;
        let seq = w.write(TOPICS[k], &payload(TOPICS[k], next[k])).unwrap();
        assert_eq!(seq, next[k]);
        next[k] += 1;
        shared.word(k).store(next[k], Ordering::SeqCst);
        i = i.wrapping_add(1 + (i >> 7) % 2);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Ok(spec) = std::env::var(ROLE) {
        let (dir, shm) = spec.split_once('|').unwrap();
        child(Path::new(dir), Path::new(shm));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("kill_nine_loses_nothing: test");
        return;
    }
    let cycles: u64 = args
        .iter()
        .position(|a| a == "--cycles")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let shm: PathBuf = tmp.path().join("acks");
    let shared = Shared::open(&shm);
    let cfg = cfg(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (mut reader, mut seen) = collecting_reader(&cfg, "g");
    let mut delivered_before: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut verified: BTreeMap<String, u64> = BTreeMap::new();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let started = Instant::now();
    for cycle in 0..cycles {
        shared.word(7).store(0, Ordering::SeqCst);
        let mut c = std::process::Command::new(std::env::current_exe().unwrap())
            .env(ROLE, format!("{}|{}", dir.display(), shm.display()))
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while shared.word(7).load(Ordering::SeqCst) == 0 {
            if let Some(st) = c.try_wait().unwrap() {
                panic!("cycle {cycle}: child exited early: {st}");
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "cycle {cycle}: child did not start");
            std::thread::sleep(Duration::from_micros(200));
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_micros(rng % 20_000));
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
        let acked: Vec<u64> = (0..3).map(|i| shared.word(i).load(Ordering::SeqCst)).collect();
        // Recovery (by the next writer) keeps every acknowledged record; check
        // the part written in this cycle right after recovering it.
        let w = logstream::Writer::open(&cfg).unwrap();
        for (k, t) in TOPICS.iter().enumerate() {
            let next = w.next_seq(t).unwrap();
            assert!(next >= acked[k], "cycle {cycle}: {t}: {next} records left, {} acknowledged", acked[k]);
            shared.word(k).store(next, Ordering::SeqCst);
            let from = verified.get(*t).copied().unwrap_or(0);
            let mut r = logstream::TopicReader::open(&cfg, t, from).unwrap();
            let mut expect = from;
            while let Some(b) = r.next_batch(4 << 20).unwrap() {
                for rec in b.records() {
                    assert_eq!(rec.seq(), expect, "cycle {cycle}: {t}: gap or duplicate");
                    assert_eq!(rec.data(), payload(t, expect), "cycle {cycle}: {t} #{expect}: wrong bytes");
                    expect += 1;
                }
            }
            assert_eq!(expect, next, "cycle {cycle}: {t}: readable records end before next_seq");
            verified.insert((*t).to_owned(), next);
        }
        w.close().unwrap();
        if cycle % 50 == 49 {
            // Restart the reader: it resumes after what it confirmed.
            reader.stop().unwrap();
            drop(reader);
            for (t, v) in seen.lock().unwrap().iter() {
                delivered_before.entry(t.clone()).or_default().extend(v.iter().map(|r| r.0));
            }
            let (r, s) = collecting_reader(&cfg, "g");
            reader = r;
            seen = s;
        }
    }
    // Everything reaches the reader exactly once, in order.
    let total: u64 = verified.values().sum();
    let already: usize = delivered_before.values().map(Vec::len).sum();
    let deadline = Instant::now() + Duration::from_secs(120);
    while (count(&seen) + already) < total as usize {
        assert!(Instant::now() < deadline, "reader did not deliver everything: {} of {total}", count(&seen) + already);
        std::thread::sleep(Duration::from_millis(10));
    }
    reader.stop().unwrap();
    for t in TOPICS {
        let mut all = delivered_before.remove(t).unwrap_or_default();
        all.extend(seen.lock().unwrap().get(t).map(|v| v.iter().map(|r| r.0).collect::<Vec<_>>()).unwrap_or_default());
        let n = verified[t];
        assert_eq!(all.len() as u64, n, "{t}: delivered {} records for {n} (duplicates or losses)", all.len());
        assert!(all.iter().copied().eq(0..n), "{t}: not delivered exactly once in order");
        // Consumed segments were deleted along the way; what remains ends at n.
        assert_eq!(read_all(&cfg, t).last().map(|r| r.0 + 1), Some(n));
    }
    println!(
        "kill_nine_loses_nothing: {cycles} SIGKILL cycles, {total} records verified, in {:.1?}",
        started.elapsed()
    );
}
