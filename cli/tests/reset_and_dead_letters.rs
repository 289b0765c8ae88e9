//! `logstream reset` moves a group's position; `logstream dlq` counts,
//! lists, replays and clears the records a group gave up on.
mod common;

use common::*;

#[test]
fn reset_moves_a_groups_position_and_says_where_it_was() {
    let log = Log::with(&[("login", &["alice", "bob", "carol"])]);
    consume_all(&log, "audit", 3);
    log.cmd()
        .args(["reset", "--group", "audit", "login", "--to", "earliest"])
        .assert()
        .success()
        .stdout("group \"audit\" now delivers topic \"login\" from seq 0 (was 3)\n");
    let v = json_of(&log.cmd().args(["--json", "reset", "-g", "audit", "login", "--to", "1"]).assert().success());
    assert_eq!(v, serde_json::json!({"group": "audit", "topic": "login", "previous": 0, "next_seq": 1}));
    let lag = json_of(&log.cmd().args(["lag", "--json"]).assert().success());
    assert_eq!((lag[0]["confirmed"].as_u64(), lag[0]["lag_records"].as_u64()), (Some(1), Some(2)));
    let groups = stdout_of(&log.cmd().arg("groups").assert().success());
    assert!(groups.contains("set by a reset"), "{groups}");
    // A time: the first record written at or after it (here: all of them, and none).
    let v = json_of(&log.cmd().args(["--json", "reset", "-g", "audit", "login", "--to", "@0"]).assert().success());
    assert_eq!(v["next_seq"], 0);
    let v = json_of(
        &log.cmd().args(["--json", "reset", "-g", "audit", "login", "--to", "2999-01-01T00:00:00Z"]).assert().success(),
    );
    assert_eq!(v["next_seq"], 3);
}

#[test]
fn reset_of_a_missing_group_or_topic_is_one_line_and_exit_code_1() {
    let log = Log::with(&[("login", &["alice"])]);
    consume_all(&log, "audit", 1);
    for args in
        [&["reset", "-g", "nobody", "login", "--to", "latest"][..], &["reset", "-g", "audit", "nope", "--to", "0"]]
    {
        let a = log.cmd().args(args).assert().code(1);
        assert_one_line_error(&a);
    }
}

/// A log whose group `shipper` gave up on every record of `orders` (its
/// forwarder always fails, two attempts each).
fn log_with_dead_letters() -> Log {
    let log = Log::with(&[("orders", &["order-1", "order-2"]), ("login", &["alice"])]);
    let mut cfg = log.cfg.clone();
    cfg.set_retry_max_attempts(2).set_retry_initial_ms(1).set_retry_max_ms(5);
    let reader = logstream::Reader::builder(&cfg)
        .group("shipper")
        .start(|b: &logstream::Batch| -> Result<(), std::io::Error> {
            if b.topic() == "orders" { Err(std::io::Error::other("the warehouse said no")) } else { Ok(()) }
        })
        .expect("start reader");
    let group = logstream::Group::open(&log.cfg, "shipper").expect("open group");
    wait_for("both orders to become dead letters", || {
        group.dead_letter_counts().is_ok_and(|c| c == [("orders".to_owned(), 2)])
    });
    reader.stop().expect("stop reader");
    log
}

#[test]
fn dead_letters_are_counted_and_listed_with_the_error_that_sent_them_there() {
    let log = log_with_dead_letters();
    let out = stdout_of(&log.cmd().args(["dlq", "count", "--group", "shipper"]).assert().success());
    assert_eq!(out, "TOPIC   DEAD LETTERS\norders             2\n");
    let v = json_of(&log.cmd().args(["--json", "dlq", "count", "-g", "shipper", "orders"]).assert().success());
    assert_eq!(v, serde_json::json!([{"topic": "orders", "count": 2}]));

    let list = stdout_of(&log.cmd().args(["dlq", "list", "-g", "shipper"]).assert().success());
    let rows: Vec<&str> = list.lines().collect();
    assert_eq!(rows.len(), 3, "{list}");
    assert!(rows[1].starts_with("orders    0  ") && rows[1].ends_with("the warehouse said no  order-1"), "{list}");
    let v = json_of(&log.cmd().args(["dlq", "list", "-g", "shipper", "-n", "1", "--json"]).assert().success());
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!((v[0]["seq"].as_u64(), v[0]["data"].as_str()), (Some(0), Some("order-1")));
    assert_eq!((v[0]["attempts"].as_u64(), v[0]["error"].as_str()), (Some(2), Some("the warehouse said no")));
}

#[test]
fn replay_writes_the_dead_letters_back_into_their_topic() {
    let log = log_with_dead_letters();
    log.cmd()
        .args(["dlq", "replay", "-g", "shipper"])
        .assert()
        .success()
        .stdout("replayed 2 dead letter(s) of group \"shipper\"\n");
    let data: Vec<Vec<u8>> = log.records("orders").into_iter().map(|(_, d)| d).collect();
    assert_eq!(data, [&b"order-1"[..], b"order-2", b"order-1", b"order-2"]);
    log.cmd()
        .args(["dlq", "count", "-g", "shipper"])
        .assert()
        .success()
        .stdout("no dead letters in group \"shipper\"\n");
}

#[test]
fn clear_asks_first_and_deletes_only_after_a_yes() {
    let log = log_with_dead_letters();
    let a = log.cmd().args(["dlq", "clear", "-g", "shipper"]).write_stdin("n\n").assert().success();
    assert_eq!(stdout_of(&a), "nothing deleted\n");
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert_eq!(err, "delete 2 dead letter(s) of group \"shipper\"? [y/N] n\n");
    log.cmd()
        .args(["dlq", "clear", "-g", "shipper", "--yes"])
        .assert()
        .success()
        .stdout("deleted 2 dead letter(s) of group \"shipper\"\n");
    log.cmd().args(["--json", "dlq", "count", "-g", "shipper"]).assert().success().stdout("[]\n");
    assert_eq!(log.records("orders").len(), 2, "the topic itself is untouched");
}
