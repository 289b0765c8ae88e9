//! Corruption in the middle: every single-bit flip in the data files, index
//! files and checkpoint journal of a small log is either harmless or detected
//! by a CRC; damaged records are never delivered, the damage is reported
//! (reader events and `verify`), the valid records after it still arrive, and
//! a damaged checkpoint falls back to an older position, never a newer one.
mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use common::*;

const TOPIC: &str = "t";
const RECORDS: u64 = 10;

fn build(dir: &Path) -> (logstream::Config, BTreeMap<u64, Vec<u8>>) {
    let mut cfg = config(dir);
    cfg.set_idx_file_max_item_num(4).set_index_interval_bytes(64);
    let w = logstream::Writer::open(&cfg).unwrap();
    let mut want = BTreeMap::new();
    for i in 0..RECORDS {
        let data = vec![b'a' + i as u8; (i * 7 % 40) as usize];
        w.write(TOPIC, &data).unwrap();
        want.insert(i, data);
    }
    // A group that confirmed the first 6 records, in two checkpoints.
    let mut r = logstream::TopicReader::open(&cfg, TOPIC, 0).unwrap();
    let _ = r.next_batch(1 << 20).unwrap();
    w.close().unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let s2 = seen.clone();
    let mut gcfg = cfg.clone();
    gcfg.set_checkpoint_interval_ms(0).set_max_batch_bytes(1024);
    let reader = logstream::Reader::builder(&gcfg)
        .group("g")
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            // Confirm up to seq 5 only, then fail: the position stops at 6.
            if b.first_seq() > 5 {
                return Err(std::io::Error::other("stop here"));
            }
            let last = b.last_seq().min(5);
            b.confirm(last).unwrap();
            s2.store(last + 1, std::sync::atomic::Ordering::SeqCst);
            if b.last_seq() > 5 { Err(std::io::Error::other("stop after 5")) } else { Ok(()) }
        })
        .unwrap();
    wait_for("the group to confirm 6 records", std::time::Duration::from_secs(20), || {
        reader.positions().iter().any(|p| p.persisted == 6)
    });
    reader.stop().unwrap();
    (cfg, want)
}

/// Bytes of a file that mean something (the rest is preallocated zeros).
fn meaningful_len(path: &Path) -> usize {
    let b = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    if name.ends_with(".dat") {
        // Header page prefix plus frames up to the seal.
        let sealed_end = u64::from_le_bytes(b[80..88].try_into().unwrap()) as usize;
        return 4096 + (sealed_end + 24 - 4096);
    }
    b.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1)
}

fn flip(path: &Path, byte: usize, bit: u8) {
    let f = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8];
    f.read_at(&mut b, byte as u64).unwrap();
    b[0] ^= 1 << bit;
    f.write_at(&b, byte as u64).unwrap();
}

fn ranges(path: &Path) -> Vec<std::ops::Range<usize>> {
    let len = meaningful_len(path);
    if path.extension().is_some_and(|e| e == "dat") {
        vec![0..192, 4096..len]
    } else {
        std::iter::once(0..len).collect()
    }
}

fn read_from(cfg: &logstream::Config, seq: u64) -> (Vec<(u64, Vec<u8>)>, Vec<logstream::Corruption>) {
    let mut r = logstream::TopicReader::open(cfg, TOPIC, seq).unwrap();
    let mut out = Vec::new();
    for _ in 0..1000 {
        match r.next_batch(1 << 20).unwrap() {
            Some(b) => out.extend(b.records().map(|x| (x.seq(), x.data().to_vec()))),
            None => break,
        }
    }
    (out, r.take_events())
}

#[test]
fn every_single_bit_flip_is_harmless_or_detected_and_never_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, want) = build(dir.path());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("topics").join(TOPIC))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dat" || e == "idx"))
        .collect();
    files.sort();
    let journal = dir.path().join("groups/g/checkpoints.log");
    files.push(journal.clone());
    let mut flips = 0;
    let mut detected = 0;
    for file in &files {
        for range in ranges(file) {
            for byte in range {
                for bit in 0..8u8 {
                    flip(file, byte, bit);
                    flips += 1;
                    let what = format!("{} byte {byte} bit {bit}", file.display());
                    for start in [0, 5] {
                        let (got, events) = read_from(&cfg, start);
                        for (s, d) in &got {
                            assert_eq!(Some(d), want.get(s), "{what}: delivered wrong bytes for seq {s}");
                        }
                        let seqs: Vec<u64> = got.iter().map(|g| g.0).collect();
                        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{what}: out of order {seqs:?}");
                        let missing = (start..RECORDS).filter(|s| !seqs.contains(s)).count();
                        if missing > 0 {
                            assert!(!events.is_empty(), "{what}: {missing} records missing without a report");
                        }
                    }
                    let report = logstream::verify(&cfg).unwrap();
                    if !report.is_clean() {
                        detected += 1;
                    }
                    let (got, _) = read_from(&cfg, 0);
                    if got.len() < RECORDS as usize {
                        assert!(!report.is_clean(), "{what}: records unreadable but verify says clean");
                    }
                    if *file == journal {
                        // A damaged checkpoint never moves the group forward.
                        let g = report.groups.iter().find(|g| g.group == "g").unwrap();
                        let pos = g.positions.iter().find(|p| p.0 == TOPIC).map_or(0, |p| p.1);
                        assert!(pos <= 6, "{what}: group position moved forward to {pos}");
                    }
                    flip(file, byte, bit);
                }
            }
        }
    }
    assert!(flips > 10_000, "only {flips} flips");
    assert!(detected * 2 > flips, "verify detected only {detected} of {flips} flips");
}

#[test]
fn recovery_after_bit_flips_keeps_every_valid_record_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (_, want) = build(&dir.path().join("orig"));
    let orig = dir.path().join("orig");
    let mut files: Vec<PathBuf> = std::fs::read_dir(orig.join("topics").join(TOPIC))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dat" || e == "idx"))
        .collect();
    files.sort();
    let mut n = 0u64;
    for file in &files {
        for range in ranges(file) {
            for byte in range.step_by(5) {
                let bit = (byte % 8) as u8;
                n += 1;
                let copy = dir.path().join(format!("c{n}"));
                copy_dir(&orig, &copy);
                let rel = file.strip_prefix(&orig).unwrap();
                flip(&copy.join(rel), byte, bit);
                let what = format!("{} byte {byte} bit {bit}", rel.display());
                let cfg = config(&copy);
                let w = logstream::Writer::open(&cfg).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
                w.close().unwrap();
                let (got, _) = read_from(&cfg, 0);
                for (s, d) in &got {
                    assert_eq!(Some(d), want.get(s), "{what}: wrong bytes for seq {s} after recovery");
                }
                let w = logstream::Writer::open(&cfg).unwrap();
                assert!(w.recovery_report().is_clean(), "{what}: second recovery not clean");
                w.close().unwrap();
                assert_eq!(read_from(&cfg, 0).0, got, "{what}: records changed on the second open");
                std::fs::remove_dir_all(&copy).unwrap();
            }
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}
