//! A group whose checkpoint files are damaged or missing falls back to an
//! older position or to the earliest retained record: records are delivered
//! again, never skipped.
mod common;

use std::time::Duration;

use common::*;

fn consumed_log(dir: &std::path::Path, n: u64) -> logstream::Config {
    let mut cfg = config(dir);
    cfg.set_checkpoint_interval_ms(0).set_retain_consumed(true);
    let w = logstream::Writer::open(&cfg).unwrap();
    let (r, seen) = collecting_reader(&cfg, "g");
    for i in 0..n {
        w.write("t", &payload("t", i)).unwrap();
        if i % 10 == 9 {
            let want = (i + 1) as usize;
            wait_for("delivery", Duration::from_secs(20), || count(&seen) == want);
        }
    }
    r.stop().unwrap();
    w.close().unwrap();
    cfg
}

fn first_delivered(cfg: &logstream::Config) -> u64 {
    let (r, seen) = collecting_reader(cfg, "g");
    wait_for("a delivery", Duration::from_secs(20), || count(&seen) > 0);
    r.stop().unwrap();
    seen.lock().unwrap()["t"][0].0
}

#[test]
fn a_missing_checkpoint_restarts_the_group_at_the_earliest_record() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = consumed_log(dir.path(), 50);
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("t", b"new").unwrap();
    w.close().unwrap();
    assert_eq!(first_delivered(&cfg), 50, "with its checkpoint the group resumes");
    for f in ["checkpoints.log", "checkpoints.snap"] {
        let _ = std::fs::remove_file(dir.path().join("groups/g").join(f));
    }
    assert_eq!(first_delivered(&cfg), 0, "without it, the group starts over (at-least-once)");
}

#[test]
fn a_damaged_newest_checkpoint_entry_falls_back_to_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = consumed_log(dir.path(), 50);
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("t", b"new").unwrap();
    w.close().unwrap();
    let journal = dir.path().join("groups/g/checkpoints.log");
    let mut b = std::fs::read(&journal).unwrap();
    let n = b.len();
    b[n - 100] ^= 0x40; // inside the newest 256-byte entry
    std::fs::write(&journal, &b).unwrap();
    let report = logstream::verify(&cfg).unwrap();
    assert_eq!(report.groups[0].damaged_entries.len(), 1, "verify reports the damaged entry");
    let first = first_delivered(&cfg);
    assert!((40..50).contains(&first), "fell back to the previous position ({first}), not forward");
}

#[test]
fn a_garbage_checkpoint_file_is_ignored_and_the_group_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = consumed_log(dir.path(), 20);
    std::fs::write(dir.path().join("groups/g/checkpoints.log"), b"not a checkpoint file at all").unwrap();
    let report = logstream::verify(&cfg).unwrap();
    assert_eq!(report.groups[0].unreadable_files.len(), 1);
    assert_eq!(first_delivered(&cfg), 0);
}
