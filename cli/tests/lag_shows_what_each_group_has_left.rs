//! `logstream lag`: per group and topic, the retained range, the group's
//! position and the records and bytes it has left.
mod common;

use common::*;

fn behind_log() -> Log {
    let log = Log::with(&[("login", &["alice", "bob"])]);
    consume_all(&log, "audit", 2);
    let w = log.writer();
    for name in ["carol", "dave", "erin"] {
        w.write("login", name.as_bytes()).expect("write");
    }
    w.write("billing", b"42").expect("write");
    w.close().expect("close");
    log
}

#[test]
fn lag_prints_each_topic_of_each_group_with_what_is_left() {
    let log = behind_log();
    let out = stdout_of(&log.cmd().arg("lag").assert().success());
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["GROUP", "TOPIC", "FIRST", "NEXT", "CONFIRMED", "LAG", "BYTES", "LAST-CONFIRM", "OWNER"]);
    assert_eq!(rows[1][..6], ["audit", "billing", "0", "1", "-", "1"], "a topic the group never read: {out}");
    assert_eq!(rows[2][..6], ["audit", "login", "0", "5", "2", "3"], "{out}");
    assert!(rows[2][8].ends_with('Z') && rows[2][9] == "-", "{out}");
}

#[test]
fn lag_json_gives_records_and_bytes_left_and_the_last_confirm_time() {
    let log = behind_log();
    let v = json_of(&log.cmd().args(["lag", "--json", "--group", "audit"]).assert().success());
    let login = v.as_array().expect("a list").iter().find(|r| r["topic"] == "login").expect("login");
    assert_eq!((login["confirmed"].as_u64(), login["lag_records"].as_u64()), (Some(2), Some(3)));
    assert!(login["lag_bytes"].as_u64().is_some_and(|b| b >= 3 * 4), "{login}");
    assert!(login["last_confirm_ns"].is_u64() && login["owner"].is_null(), "{login}");
}

#[test]
fn lag_of_a_group_that_does_not_exist_is_one_line_and_exit_code_1() {
    let log = behind_log();
    let a = log.cmd().args(["lag", "-g", "nobody"]).assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("\"nobody\""), "{err}");
}
