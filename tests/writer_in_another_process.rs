//! The writer and the reader in different processes: the reader follows the
//! child's writes live, and a child killed with SIGKILL loses no record that
//! `write()` had returned for.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;

const DIR: &str = "LOGSTREAM_TEST_DIR";
const COUNT: &str = "LOGSTREAM_TEST_COUNT";

/// Child role: writes COUNT records to two topics (forever if 0), saying each
/// acknowledged sequence number.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(DIR) else { return };
    let n: u64 = std::env::var(COUNT).unwrap().parse().unwrap();
    let cfg = config(std::path::Path::new(&dir));
    let w = logstream::Writer::open(&cfg).unwrap();
    child_say("open");
    // Continue where an earlier (killed) child stopped.
    let mut next = [w.next_seq("even").unwrap(), w.next_seq("odd").unwrap()];
    let mut i = 0u64;
    while n == 0 || i < n {
        let k = (i % 2) as usize;
        let topic = ["even", "odd"][k];
        let seq = w.write(topic, &payload(topic, next[k])).unwrap();
        assert_eq!(seq, next[k]);
        next[k] += 1;
        child_say(&format!("ack {topic} {seq}"));
        i += 1;
    }
    w.close().unwrap();
    child_say("closed");
}

#[test]
fn a_writer_in_a_child_process_is_read_live_in_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (reader, seen) = collecting_reader(&cfg, "g");
    let mut child = spawn_child("child_writer", &[(DIR, dir.path().display().to_string()), (COUNT, "4000".into())]);
    let lines: Vec<String> = child_lines(&mut child).collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(lines.last().map(String::as_str), Some("closed"));
    wait_for("all records from the child", Duration::from_secs(30), || count(&seen) == 4000);
    reader.stop().unwrap();
    assert_dense(&seen, &BTreeMap::from([("even".to_owned(), 2000), ("odd".to_owned(), 2000)]));
    for (topic, recs) in seen.lock().unwrap().iter() {
        for (s, d) in recs {
            assert_eq!(d, &payload(topic, *s));
        }
    }
}

#[test]
fn a_writer_child_killed_with_sigkill_mid_stream_loses_no_record_write_returned_for() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    for round in 0..3u64 {
        let mut child = spawn_child("child_writer", &[(DIR, dir.path().display().to_string()), (COUNT, "0".into())]);
        let mut lines = child_lines(&mut child);
        let target = 3000 + round * 1234;
        let mut n = 0;
        for line in lines.by_ref() {
            if let Some(rest) = line.strip_prefix("ack ") {
                let (topic, seq) = rest.split_once(' ').unwrap();
                acked.insert(topic.to_owned(), seq.parse::<u64>().unwrap() + 1);
                n += 1;
                if n == target {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Records acknowledged after we stopped reading are also there; count them.
        for line in lines {
            if let Some(rest) = line.strip_prefix("ack ") {
                let (topic, seq) = rest.split_once(' ').unwrap();
                acked.insert(topic.to_owned(), seq.parse::<u64>().unwrap() + 1);
            }
        }
        // Recovery: every acknowledged record is present, intact, in order, no gap.
        let w = logstream::Writer::open(&cfg).unwrap();
        for (topic, n) in acked.clone() {
            let recs = read_all(&cfg, &topic);
            assert!(recs.len() as u64 >= n, "round {round}: {topic} has {} records, {n} were acknowledged", recs.len());
            for (i, (s, d)) in recs.iter().enumerate() {
                assert_eq!(*s, i as u64, "round {round}: {topic}: gap or duplicate");
                assert_eq!(d, &payload(&topic, *s), "round {round}: {topic} #{s} damaged");
            }
            // Sequence numbers continue after what survived.
            assert_eq!(w.next_seq(&topic).unwrap(), recs.len() as u64);
            acked.insert(topic, recs.len() as u64);
        }
        w.close().unwrap();
    }
}
