//! 10 000 topics: no per-topic inotify instance or watch, file descriptors
//! bounded and not growing with the topic count, memory maps within the
//! kernel's default limit, and every record delivered.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;

fn open_fds() -> (usize, usize) {
    let mut total = 0;
    let mut inotify = 0;
    for e in std::fs::read_dir("/proc/self/fd").unwrap() {
        total += 1;
        if let Ok(target) = std::fs::read_link(e.unwrap().path())
            && target.to_string_lossy().contains("inotify")
        {
            inotify += 1;
        }
    }
    (total, inotify)
}

fn maps() -> usize {
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().count()
}

#[test]
fn ten_thousand_topics_use_bounded_files_one_watcher_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_poll_interval_ms(1000);
    let (fds_before, inotify_before) = open_fds();
    let w = logstream::Writer::open(&cfg).unwrap();
    let (reader, seen) = collecting_reader(&cfg, "g");
    let n = 10_000;
    for t in 0..n {
        let topic = format!("topic-{t:05}");
        w.write(&topic, &payload(&topic, 0)).unwrap();
    }
    w.flush().unwrap();
    wait_for("every topic's record", Duration::from_secs(300), || count(&seen) == n);
    let (fds, inotify) = open_fds();
    assert!(inotify - inotify_before <= 1, "{} inotify instances for one reader", inotify - inotify_before);
    assert!(fds - fds_before < 64, "{} file descriptors held for {n} topics", fds - fds_before);
    let m = maps();
    assert!(m < 40_000, "{m} memory maps for {n} topics (limit 65530)");
    reader.stop().unwrap();
    w.close().unwrap();
    let expected: BTreeMap<String, u64> = (0..n).map(|t| (format!("topic-{t:05}"), 1)).collect();
    assert_dense(&seen, &expected);
}
