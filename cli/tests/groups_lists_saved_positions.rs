//! `logstream groups`: each consumer group with the position it saved.
mod common;

use std::sync::mpsc;

use common::*;

#[test]
fn groups_lists_each_group_with_the_position_it_saved() {
    let log = Log::with(&[("login", &["alice", "bob", "carol"]), ("billing", &["1", "2"])]);
    consume_all(&log, "audit", 5);
    let out = stdout_of(&log.cmd().arg("groups").assert().success());
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["GROUP", "TOPIC", "POSITION", "SAVED", "NOTE"]);
    assert_eq!(rows[1][..3], ["audit", "billing", "2"], "{out}");
    assert_eq!(rows[2][..3], ["audit", "login", "3"], "{out}");
    assert!(rows[1][3].ends_with('Z'), "{out}");
    assert_eq!(rows.len(), 3, "no member once the reader stopped: {out}");
}

#[test]
fn groups_json_gives_positions_with_their_time_and_members() {
    let log = Log::with(&[("login", &["alice", "bob"])]);
    consume_all(&log, "audit", 2);
    let v = json_of(&log.cmd().args(["groups", "--json"]).assert().success());
    assert_eq!(v[0]["group"], "audit");
    assert_eq!(v[0]["members"], serde_json::json!([]));
    let p = &v[0]["positions"][0];
    assert_eq!(
        (p["topic"].as_str(), p["next_seq"].as_u64(), p["reset"].as_bool()),
        (Some("login"), Some(2), Some(false))
    );
    assert!(p["saved_ns"].as_u64().is_some_and(|t| t > 0) && p["saved"].as_str().is_some_and(|s| s.ends_with('Z')));
}

#[test]
fn a_running_reader_shows_as_a_member_of_its_group() {
    let log = Log::with(&[("login", &["alice"])]);
    let (tx, rx) = mpsc::channel::<usize>();
    let reader = logstream::Reader::builder(&log.cfg)
        .group("live")
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let _ = tx.send(b.len());
            Ok(())
        })
        .expect("start reader");
    rx.recv_timeout(PATIENCE).expect("the reader delivers");
    wait_for("the member to own the topic", || {
        let v = json_of(&log.cmd().args(["groups", "--json"]).assert().success());
        v[0]["members"][0]["topics"] == serde_json::json!(["login"])
    });
    let out = stdout_of(&log.cmd().arg("groups").assert().success());
    assert!(out.contains(&format!("(pid {}) reads login", std::process::id())), "{out}");
    reader.stop().expect("stop reader");
}

#[test]
fn groups_of_a_log_without_readers_says_so() {
    let log = Log::with(&[("login", &["alice"])]);
    log.cmd().arg("groups").assert().success().stdout(predicates::str::starts_with("no consumer groups in "));
    log.cmd().args(["groups", "--json"]).assert().success().stdout("[]\n");
}
