//! `logstream groups`: each consumer group with the position it saved.
mod common;

use std::sync::mpsc;

use common::*;

/// Consumes every record of the log as `group`, then stops (saving positions).
fn consume_all(log: &Log, group: &str, records: usize) {
    let (tx, rx) = mpsc::channel::<usize>();
    let reader = logstream::Reader::builder(&log.cfg)
        .group(group)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let _ = tx.send(b.len());
            Ok(())
        })
        .expect("start reader");
    let mut seen = 0;
    while seen < records {
        seen += rx.recv_timeout(PATIENCE).expect("a batch within the patience");
    }
    reader.stop().expect("stop reader");
}

#[test]
fn groups_lists_each_group_with_the_position_it_saved() {
    let log = Log::with(&[("login", &["alice", "bob", "carol"]), ("billing", &["1", "2"])]);
    consume_all(&log, "audit", 5);
    let out = stdout_of(&log.cmd().arg("groups").assert().success());
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["GROUP", "TOPIC", "POSITION", "NOTE"]);
    assert_eq!(rows[1..], [vec!["audit", "billing", "2"], vec!["audit", "login", "3"]], "{out}");
}

#[test]
fn groups_json_gives_positions_and_checkpoint_problems() {
    let log = Log::with(&[("login", &["alice", "bob"])]);
    consume_all(&log, "audit", 2);
    let v = json_of(&log.cmd().args(["groups", "--json"]).assert().success());
    assert_eq!(
        v,
        serde_json::json!([{
            "group": "audit",
            "positions": [{"topic": "login", "next_seq": 2}],
            "past_end": [],
            "damaged_entries": [],
            "unreadable_files": []
        }])
    );
}

#[test]
fn groups_of_a_log_without_readers_says_so() {
    let log = Log::with(&[("login", &["alice"])]);
    log.cmd().arg("groups").assert().success().stdout(predicates::str::starts_with("no consumer groups in "));
    log.cmd().args(["groups", "--json"]).assert().success().stdout("[]\n");
}
