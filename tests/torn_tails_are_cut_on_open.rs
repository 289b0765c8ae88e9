//! A segment ending in a half record, zeros or random bytes is cut back to its
//! last valid record when a writer opens the directory; recovery is reported
//! and idempotent, and the sequence continues.
mod common;

use std::os::unix::fs::FileExt;
use std::path::Path;

use common::*;
use logstream::testing::{Crash, CrashRecorder};

/// A log whose writer "died" after `n` records: the image a kill -9 leaves.
fn killed_log(dir: &Path, n: u64) -> (logstream::Config, std::path::PathBuf, u64) {
    let live = dir.join("live");
    std::fs::create_dir_all(&live).unwrap();
    let rec = CrashRecorder::install(&live);
    let w = logstream::Writer::open(&config(&live)).unwrap();
    for i in 0..n {
        w.write("t", &payload("t", i)).unwrap();
    }
    let img = dir.join("img");
    rec.crash_image(&img, Crash::ProcessKill).unwrap();
    rec.uninstall();
    w.close().unwrap();
    let seg = img.join("topics/t/00000000000000000000.dat");
    // Offset just past the last record.
    let b = std::fs::read(&seg).unwrap();
    let mut off = 4096usize;
    while let Ok(logstream::format::frame::Frame::Record { len, .. }) =
        logstream::format::frame::decode_bytes(&b[off..])
    {
        off += len;
    }
    (config(&img), seg, off as u64)
}

fn check_cut(cfg: &logstream::Config, n: u64, expect_cut_at: Option<u64>) {
    let w = logstream::Writer::open(cfg).unwrap();
    let rep = w.recovery_report().clone();
    let t = rep.topics.iter().find(|t| t.topic == "t").unwrap();
    assert_eq!(t.next_seq, n);
    assert_eq!(t.cut.as_ref().map(|c| c.offset), expect_cut_at, "{t:?}");
    let recs = read_all(cfg, "t");
    assert_eq!(recs.len() as u64, n);
    for (s, d) in &recs {
        assert_eq!(d, &payload("t", *s));
    }
    assert_eq!(w.write("t", b"next").unwrap(), n, "the sequence continues after the cut");
    w.close().unwrap();
    let w = logstream::Writer::open(cfg).unwrap();
    assert!(w.recovery_report().is_clean(), "recovery is idempotent: {:?}", w.recovery_report());
    assert_eq!(read_all(cfg, "t").len() as u64, n + 1);
    w.close().unwrap();
}

#[test]
fn a_half_written_record_at_the_end_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, seg, end) = killed_log(dir.path(), 50);
    let mut frame = vec![0u8; 256];
    let len = logstream::format::frame::encode_record(&mut frame, 50, 1, &[7u8; 200]);
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.write_all_at(&frame[..len / 2], end).unwrap();
    check_cut(&cfg, 50, Some(end));
}

#[test]
fn random_bytes_at_the_end_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, seg, end) = killed_log(dir.path(), 50);
    let garbage: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1).collect();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.write_all_at(&garbage, end).unwrap();
    check_cut(&cfg, 50, Some(end));
}

#[test]
fn zeros_at_the_end_are_a_clean_end() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _, _) = killed_log(dir.path(), 50);
    // Nothing after the last record: the segment is sealed there, nothing is cut.
    check_cut(&cfg, 50, None);
}

#[test]
fn a_record_whose_commit_word_never_landed_is_cut_and_readers_never_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, seg, end) = killed_log(dir.path(), 50);
    // The body of the next record is there, its commit word is not.
    let mut frame = vec![0u8; 256];
    let len = logstream::format::frame::encode_record(&mut frame, 50, 1, b"never committed");
    frame[..8].fill(0);
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.write_all_at(&frame[..len], end).unwrap();
    // A reader before recovery sees 50 records and waits.
    assert_eq!(read_all(&cfg, "t").len(), 50);
    check_cut(&cfg, 50, Some(end));
}
