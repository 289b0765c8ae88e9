//! A topic deleted and written again is a new stretch of the same log, not
//! a restart of it: its sequence numbers continue after the deleted ones, so
//! no seq ever names two different records and every group — restarted or
//! left running, caught up or not — receives the new records (issue 21,
//! item 3).
mod common;

use std::time::Duration;

use common::*;
use logstream::{DeleteMode, Writer};

const WAIT: Duration = Duration::from_secs(30);

fn write_n(w: &Writer, topic: &str, from: u64, n: u64) {
    for seq in from..from + n {
        assert_eq!(w.write(topic, &payload(topic, seq)).unwrap(), seq, "seq of a new write to {topic}");
    }
    w.flush().unwrap();
}

fn seqs(seen: &Seen, topic: &str) -> Vec<u64> {
    seen.lock().unwrap().get(topic).map(|v| v.iter().map(|r| r.0).collect()).unwrap_or_default()
}

#[test]
fn a_restarted_group_receives_a_recreated_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = Writer::open(&cfg).unwrap();
    write_n(&w, "t", 0, 100);
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("the group to consume the first 100", WAIT, || count(&seen) == 100);
    r.stop().unwrap();

    w.delete_topic("t", DeleteMode::IfConsumed).unwrap();
    // The new records continue the numbering: 100.., not 0.. again.
    write_n(&w, "t", 100, 50);

    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("the restarted group to receive the recreated topic", WAIT, || count(&seen) == 50);
    r.stop().unwrap();
    assert_eq!(seqs(&seen, "t"), (100..150).collect::<Vec<_>>());
    for (seq, data) in &seen.lock().unwrap()["t"] {
        assert_eq!(data, &payload("t", *seq), "contents of seq {seq}");
    }
    w.close().unwrap();
}

#[test]
fn a_running_group_receives_a_recreated_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = Writer::open(&cfg).unwrap();
    write_n(&w, "t", 0, 100);
    write_n(&w, "other", 0, 10);
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("the group to consume the first 100", WAIT, || seqs(&seen, "t").len() == 100);
    // The deletion is refused until the group's position is persisted.
    wait_for("the deletion to be allowed", WAIT, || match w.delete_topic("t", DeleteMode::IfConsumed) {
        Ok(_) => true,
        Err(logstream::Error::TopicInUse { .. }) => false,
        Err(e) => panic!("delete_topic: {e}"),
    });
    write_n(&w, "t", 100, 50);
    // The reader goes on with the other topics too.
    write_n(&w, "other", 10, 10);

    wait_for("the running group to receive the recreated topic", WAIT, || seqs(&seen, "t").len() == 150);
    wait_for("the other topic to go on", WAIT, || seqs(&seen, "other").len() == 20);
    r.stop().unwrap();
    assert_eq!(seqs(&seen, "t"), (0..150).collect::<Vec<_>>());
    w.close().unwrap();
}

#[test]
fn a_recreated_topic_continues_its_numbering_after_the_writer_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = Writer::open(&cfg).unwrap();
    write_n(&w, "t", 0, 30);
    w.delete_topic("t", DeleteMode::Force).unwrap();
    w.close().unwrap();

    // A new session must know where the deleted topic ended.
    let w = Writer::open(&cfg).unwrap();
    write_n(&w, "t", 30, 5);
    w.delete_topic("t", DeleteMode::Force).unwrap();
    write_n(&w, "t", 35, 5);
    w.close().unwrap();
    let got = read_all(&cfg, "t");
    assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), (35..40).collect::<Vec<_>>());
}

#[test]
fn a_group_that_had_not_finished_a_force_deleted_topic_is_told_and_receives_the_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = Writer::open(&cfg).unwrap();
    write_n(&w, "t", 0, 10);
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("the group to consume the first 10", WAIT, || count(&seen) == 10);
    r.stop().unwrap();
    write_n(&w, "t", 10, 90);
    w.delete_topic("t", DeleteMode::Force).unwrap();
    write_n(&w, "t", 100, 20);

    let gaps = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g2 = gaps.clone();
    let seen: Seen = Default::default();
    let s2 = seen.clone();
    let r = logstream::Reader::builder(&cfg)
        .group("g")
        .on_corruption(move |c| g2.lock().unwrap().push(format!("{c:?}")))
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let mut m = s2.lock().unwrap();
            m.entry(b.topic().to_owned()).or_default().extend(b.records().map(|x| (x.seq(), x.data().to_vec())));
            Ok(())
        })
        .unwrap();
    wait_for("the group to receive the recreated topic", WAIT, || count(&seen) == 20);
    r.stop().unwrap();
    assert_eq!(seqs(&seen, "t"), (100..120).collect::<Vec<_>>());
    let gaps = gaps.lock().unwrap();
    assert!(
        gaps.iter().any(|g| g.contains("Gap") && g.contains("10") && g.contains("100")),
        "the skipped records 10..100 are reported: {gaps:?}"
    );
    w.close().unwrap();
}

#[test]
fn a_running_group_lets_go_of_a_deleted_topics_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = Writer::open(&cfg).unwrap();
    write_n(&w, "t", 0, 100);
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("the group to consume the first 100", WAIT, || seqs(&seen, "t").len() == 100);
    w.delete_topic("t", DeleteMode::Force).unwrap();
    // Space of a deleted file is freed when nobody maps it any more.
    let base = dir.path().display().to_string();
    wait_for("no mapping of the deleted topic's files", WAIT, || {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        !maps.lines().any(|l| l.contains(&base) && l.ends_with("(deleted)") && l.contains(".dat"))
    });
    r.stop().unwrap();
    w.close().unwrap();
}
