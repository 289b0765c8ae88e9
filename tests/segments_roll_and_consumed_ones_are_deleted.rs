//! Segments roll at idx_file_max_item_num and data_file_max_size; readers
//! follow them; sealed segments every group consumed are deleted (unless
//! retain_consumed), and never while a group still needs them.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;

fn segments(dir: &std::path::Path, topic: &str) -> usize {
    std::fs::read_dir(dir.join("topics").join(topic))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".dat"))
        .count()
}

#[test]
fn segments_roll_by_record_count_and_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_idx_file_max_item_num(100).set_data_file_max_size(64 * 1024);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..1000u64 {
        w.write("count", &payload("count", i)).unwrap();
    }
    assert_eq!(segments(dir.path(), "count"), 10);
    for _ in 0..100u64 {
        w.write("size", &[1u8; 6000]).unwrap();
    }
    // 64 KiB minus the header page and a seal holds 10 frames of 6000 bytes.
    assert_eq!(segments(dir.path(), "size"), 10);
    w.close().unwrap();
    assert_eq!(read_all(&cfg, "count").len(), 1000);
    assert_eq!(read_all(&cfg, "size").len(), 100);
}

#[test]
fn consumed_segments_are_deleted_only_when_every_group_has_them_and_the_newest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_idx_file_max_item_num(100).set_checkpoint_interval_ms(0);
    let w = logstream::Writer::open(&cfg).unwrap();
    // Two groups registered; only one reads for now.
    let (slow, _) = collecting_reader(&cfg, "slow");
    slow.stop().unwrap();
    drop(slow);
    let (fast, seen) = collecting_reader(&cfg, "fast");
    for i in 0..1000u64 {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    wait_for("fast group", Duration::from_secs(20), || count(&seen) == 1000);
    // Let retention run after the positions were saved; nothing may go
    // while "slow" has not read.
    wait_for("positions saved", Duration::from_secs(20), || fast.positions().iter().all(|p| p.persisted == 1000));
    let passes = fast.stats().retention_passes;
    wait_for("a retention pass", Duration::from_secs(20), || fast.stats().retention_passes > passes);
    assert_eq!(segments(dir.path(), "t"), 10, "the slow group still needs every segment");
    fast.stop().unwrap();
    let (slow, seen_slow) = collecting_reader(&cfg, "slow");
    wait_for("slow group", Duration::from_secs(20), || count(&seen_slow) == 1000);
    wait_for("deletion of consumed segments", Duration::from_secs(20), || segments(dir.path(), "t") == 1);
    // The count follows the deletions, so it may trail the listing by a moment.
    wait_for("the deletions counted", Duration::from_secs(20), || slow.stats().segments_deleted >= 9);
    slow.stop().unwrap();
    assert_dense(&seen_slow, &BTreeMap::from([("t".to_owned(), 1000)]));
    // The topic continues where it was, and new records still arrive.
    assert_eq!(w.write("t", b"next").unwrap(), 1000);
}

#[test]
fn retain_consumed_keeps_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_idx_file_max_item_num(100).set_checkpoint_interval_ms(0).set_retain_consumed(true);
    let w = logstream::Writer::open(&cfg).unwrap();
    let (r, seen) = collecting_reader(&cfg, "g");
    for i in 0..1000u64 {
        w.write("t", &payload("t", i)).unwrap();
    }
    wait_for("all", Duration::from_secs(20), || count(&seen) == 1000);
    wait_for("positions saved", Duration::from_secs(20), || r.positions().iter().all(|p| p.persisted == 1000));
    let passes = r.stats().retention_passes;
    wait_for("a retention pass", Duration::from_secs(20), || r.stats().retention_passes > passes);
    r.stop().unwrap();
    assert_eq!(segments(dir.path(), "t"), 10);
    assert_eq!(r.stats().segments_deleted, 0);
}
