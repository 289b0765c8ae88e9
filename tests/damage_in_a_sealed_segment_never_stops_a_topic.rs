//! Damage inside a sealed segment (zeros, garbage, a lost seal frame) is
//! skipped and reported; every valid record after it is still delivered, in
//! order, by the push `Reader` and the pull `TopicReader` alike.
mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

const TOPIC: &str = "t";
const PER_SEGMENT: u64 = 200;
const SEGMENTS: u64 = 3;
const TOTAL: u64 = PER_SEGMENT * SEGMENTS;
/// 128-byte payloads make 152-byte frames, so damage maps to known records.
const PAYLOAD: usize = 128;
const FRAME: u64 = 24 + PAYLOAD as u64;
const DATA_START: u64 = 4096;

fn data(seq: u64) -> Vec<u8> {
    let mut v = format!("{seq:08}").into_bytes();
    v.resize(PAYLOAD, b'a' + (seq % 26) as u8);
    v
}

/// Writes 600 records into 3 sealed segments of 200; returns the config and
/// the data files, oldest first.
fn build(dir: &Path) -> (logstream::Config, Vec<PathBuf>) {
    let mut cfg = config(dir);
    cfg.set_idx_file_max_item_num(PER_SEGMENT as _);
    let w = logstream::Writer::open(&cfg).unwrap();
    for seq in 0..TOTAL {
        w.write(TOPIC, &data(seq)).unwrap();
    }
    w.close().unwrap();
    let tdir = dir.join("topics").join(TOPIC);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&tdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .collect();
    files.sort();
    assert_eq!(files.len(), SEGMENTS as usize, "segments: {files:?}");
    (cfg, files)
}

#[derive(Clone, Copy)]
enum Fill {
    Zeros,
    Garbage,
}

/// Overwrites `range` (`None` end: to the end of the file) of segment `k` and
/// returns the sequence numbers whose frames it touched.
fn damage(files: &[PathBuf], k: usize, start: u64, end: Option<u64>, fill: Fill) -> BTreeSet<u64> {
    let f = std::fs::OpenOptions::new().read(true).write(true).open(&files[k]).unwrap();
    let end = end.unwrap_or_else(|| f.metadata().unwrap().len());
    let bytes: Vec<u8> = match fill {
        Fill::Zeros => vec![0; (end - start) as usize],
        Fill::Garbage => (0..end - start).map(|i| (i as u8).wrapping_mul(37) ^ 0xa5).collect(),
    };
    f.write_at(&bytes, start).unwrap();
    f.sync_all().unwrap();
    (0..PER_SEGMENT)
        .filter(|i| {
            let s = DATA_START + i * FRAME;
            s < end && s + FRAME > start
        })
        .map(|i| k as u64 * PER_SEGMENT + i)
        .collect()
}

fn skipped_in(events: &[logstream::Corruption]) -> u64 {
    events
        .iter()
        .map(|e| match e {
            logstream::Corruption::Damaged { skipped, .. } => *skipped,
            _ => 0,
        })
        .sum()
}

fn check(got: &[(u64, Vec<u8>)], lost: &BTreeSet<u64>, skipped: u64) {
    let want: Vec<u64> = (0..TOTAL).filter(|s| !lost.contains(s)).collect();
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, want, "delivered {} of {} expected records", seqs.len(), want.len());
    for (s, d) in got {
        assert_eq!(d, &data(*s), "contents of seq {s}");
    }
    assert_eq!(skipped, lost.len() as u64, "records reported skipped");
}

fn through_topic_reader(cfg: &logstream::Config, lost: &BTreeSet<u64>) {
    let mut r = logstream::TopicReader::open(cfg, TOPIC, 0).unwrap();
    let mut got = Vec::new();
    while let Some(b) = r.next_batch(4096).unwrap() {
        got.extend(b.records().map(|rec| (rec.seq(), rec.data().to_vec())));
    }
    let events = r.take_events();
    check(&got, lost, skipped_in(&events));
}

fn through_reader(cfg: &logstream::Config, lost: &BTreeSet<u64>) {
    let events: Arc<Mutex<Vec<logstream::Corruption>>> = Arc::default();
    let e2 = events.clone();
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let mut cfg = cfg.clone();
    cfg.set_max_batch_bytes(4096);
    let reader = logstream::Reader::builder(&cfg)
        .group("g")
        .on_corruption(move |c| e2.lock().unwrap().push(c.clone()))
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let mut m = s2.lock().unwrap();
            m.entry(b.topic().to_owned()).or_default().extend(b.records().map(|r| (r.seq(), r.data().to_vec())));
            Ok(())
        })
        .unwrap();
    let expected = (TOTAL - lost.len() as u64) as usize;
    wait_for("every valid record and the damage report", Duration::from_secs(20), || {
        count(&seen) >= expected && skipped_in(&events.lock().unwrap()) >= lost.len() as u64
    });
    reader.stop().unwrap();
    let got = seen.lock().unwrap().get(TOPIC).cloned().unwrap_or_default();
    check(&got, lost, skipped_in(&events.lock().unwrap()));
}

fn zeros_mid(k: usize) -> (tempfile::TempDir, logstream::Config, BTreeSet<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, files) = build(dir.path());
    let lost = damage(&files, k, 8192, Some(12288), Fill::Zeros);
    (dir, cfg, lost)
}

fn zeros_to_end() -> (tempfile::TempDir, logstream::Config, BTreeSet<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, files) = build(dir.path());
    let lost = damage(&files, 0, 8192, None, Fill::Zeros);
    (dir, cfg, lost)
}

fn garbage() -> (tempfile::TempDir, logstream::Config, BTreeSet<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, files) = build(dir.path());
    let lost = damage(&files, 1, 8192, Some(12288), Fill::Garbage);
    (dir, cfg, lost)
}

#[test]
fn zeros_in_the_middle_of_a_sealed_segment_are_skipped_by_the_reader() {
    let (_d, cfg, lost) = zeros_mid(1);
    through_reader(&cfg, &lost);
}

#[test]
fn zeros_in_the_middle_of_a_sealed_segment_are_skipped_by_the_topic_reader() {
    let (_d, cfg, lost) = zeros_mid(1);
    through_topic_reader(&cfg, &lost);
}

#[test]
fn zeros_up_to_the_end_of_a_sealed_segment_lose_its_seal_but_the_reader_goes_on() {
    let (_d, cfg, lost) = zeros_to_end();
    through_reader(&cfg, &lost);
}

#[test]
fn zeros_up_to_the_end_of_a_sealed_segment_lose_its_seal_but_the_topic_reader_goes_on() {
    let (_d, cfg, lost) = zeros_to_end();
    through_topic_reader(&cfg, &lost);
}

#[test]
fn garbage_bytes_in_a_sealed_segment_are_skipped_by_the_reader() {
    let (_d, cfg, lost) = garbage();
    through_reader(&cfg, &lost);
}

#[test]
fn garbage_bytes_in_a_sealed_segment_are_skipped_by_the_topic_reader() {
    let (_d, cfg, lost) = garbage();
    through_topic_reader(&cfg, &lost);
}

#[test]
fn damage_in_the_first_of_three_segments_lets_the_reader_deliver_the_other_two() {
    let (_d, cfg, lost) = zeros_mid(0);
    through_reader(&cfg, &lost);
}

#[test]
fn damage_in_the_first_of_three_segments_lets_the_topic_reader_deliver_the_other_two() {
    let (_d, cfg, lost) = zeros_mid(0);
    through_topic_reader(&cfg, &lost);
}
