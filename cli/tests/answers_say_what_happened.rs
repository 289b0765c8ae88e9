//! Answers that say what happened: a start that was moved, a position with
//! nothing at it, a topic that is not there, a lock that is held — each is
//! said, not left for the user to guess.
mod common;

use common::*;

/// 25 records of `t` (`t-0`..`t-24`, segments of 10) whose first segment
/// was deleted, as retention deletes it: `t` retains `t-10`..`t-24`.
fn retained_from_ten() -> Log {
    let recs = numbered("t", 25);
    let log = Log::with(&[("t", &recs.iter().map(String::as_str).collect::<Vec<_>>())]);
    for ext in ["dat", "idx"] {
        std::fs::remove_file(log.dir().join("topics/t").join(format!("{:020}.{ext}", 0))).expect("remove segment");
    }
    log
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

#[test]
fn tail_from_before_the_first_retained_record_says_what_was_skipped() {
    let log = retained_from_ten();
    let a = log.cmd().args(["tail", "t", "--from", "3", "-n", "2"]).assert().success().stdout("t-10\nt-11\n");
    let err = stderr_of(&a);
    assert!(err.contains("records 3..10") && err.contains("no longer retained") && err.contains("from 10"), "{err}");
}

#[test]
fn tail_from_past_the_end_says_why_nothing_came_and_exits_6() {
    let log = retained_from_ten();
    let a = log.cmd().args(["tail", "t", "--from", "30"]).assert().code(6).stdout("");
    let err = assert_one_line_error(&a);
    assert!(err.contains("seq 30") && err.contains("next record will be 25"), "{err}");
    // The end itself: nothing there either.
    let a = log.cmd().args(["tail", "t", "--from", "latest"]).assert().code(6).stdout("");
    assert_one_line_error(&a);
}

#[test]
fn tail_takes_globs_and_labels_each_line_with_its_topic() {
    let log = Log::with(&[("orders-eu", &["e1", "e2"]), ("orders-us", &["u1"]), ("billing", &["b1"])]);
    let out = stdout_of(&log.cmd().args(["tail", "orders-*"]).assert().success());
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["[orders-eu] e1", "[orders-eu] e2", "[orders-us] u1"], "{out}");
    // One topic shown: no label.
    log.cmd().args(["tail", "orders-?s"]).assert().success().stdout("u1\n");
}

#[test]
fn tail_follow_with_a_glob_picks_up_a_matching_topic_created_later() {
    let log = Log::with(&[("orders-eu", &["e1"]), ("billing", &["b1"])]);
    let mut child = log.spawn(&["tail", "-f", "orders-*", "--from", "0"]);
    let lines = Lines::of(child.stdout.take().expect("stdout"));
    assert_eq!(lines.next("the existing topic's record"), "[orders-eu] e1");
    let w = log.writer();
    w.write("billing", b"b2").expect("write");
    w.write("orders-us", b"u1").expect("write");
    w.flush().expect("flush");
    assert_eq!(lines.next("the new topic's record"), "[orders-us] u1");
    w.close().expect("close");
    child.kill().expect("kill the follower");
    child.wait().expect("reap the follower");
}

#[test]
fn a_glob_that_matches_no_topic_is_an_error_naming_it() {
    let log = Log::with(&[("billing", &["b1"])]);
    let a = log.cmd().args(["tail", "orders-*"]).assert().code(1).stdout("");
    let err = assert_one_line_error(&a);
    assert!(err.contains("no topic matches \"orders-*\"") && err.contains("billing"), "{err}");
}

#[test]
fn reset_to_a_seq_outside_what_is_retained_says_where_it_went_and_why() {
    let log = retained_from_ten();
    consume_all(&log, "audit", 15);
    let out = stdout_of(&log.cmd().args(["reset", "-g", "audit", "t", "--to", "99"]).assert().success());
    assert!(out.contains("from seq 25") && out.contains("seq 99 is past the end of the topic"), "{out}");
    let out = stdout_of(&log.cmd().args(["reset", "-g", "audit", "t", "--to", "3"]).assert().success());
    assert!(out.contains("from seq 10") && out.contains("seq 3 is no longer retained"), "{out}");
    let v = json_of(&log.cmd().args(["--json", "reset", "-g", "audit", "t", "--to", "99"]).assert().success());
    assert_eq!(v["next_seq"], 25);
    assert_eq!(v["requested"], 99);
}

/// A log whose group `shipper` gave up on the one record of `orders`.
fn log_with_a_dead_letter(data: &str) -> Log {
    let log = Log::with(&[("orders", &[data]), ("login", &["alice"])]);
    let mut cfg = log.cfg.clone();
    cfg.set_retry_max_attempts(1).set_retry_initial_ms(1).set_retry_max_ms(5);
    let reader = logstream::Reader::builder(&cfg)
        .group("shipper")
        .start(|b: &logstream::Batch| -> Result<(), std::io::Error> {
            if b.topic() == "orders" { Err(std::io::Error::other("no")) } else { Ok(()) }
        })
        .expect("start reader");
    let group = logstream::Group::open(&log.cfg, "shipper").expect("open group");
    wait_for("the order to become a dead letter", || {
        group.dead_letter_counts().is_ok_and(|c| c == [("orders".to_owned(), 1)])
    });
    reader.stop().expect("stop reader");
    log
}

#[test]
fn dlq_of_a_topic_without_dead_letters_names_the_topic() {
    let log = log_with_a_dead_letter("x");
    for cmd in ["list", "count"] {
        log.cmd()
            .args(["dlq", cmd, "-g", "shipper", "login"])
            .assert()
            .success()
            .stdout("no dead letters of topic \"login\" in group \"shipper\"\n");
    }
}

#[test]
fn dlq_of_a_topic_that_does_not_exist_is_refused() {
    let log = log_with_a_dead_letter("x");
    for cmd in ["list", "count", "replay"] {
        let a = log.cmd().args(["dlq", cmd, "-g", "shipper", "ordres"]).assert().code(1).stdout("");
        let err = assert_one_line_error(&a);
        assert!(err.contains("no topic \"ordres\"") && err.contains("orders"), "{cmd}: {err}");
    }
}

#[test]
fn dlq_list_prints_data_as_text_escaping_only_what_a_terminal_cannot_show() {
    let log = log_with_a_dead_letter("{\"id\":1,\"note\":\"ünïcode\"}\t\u{1b}[31m");
    let out = stdout_of(&log.cmd().args(["dlq", "list", "-g", "shipper"]).assert().success());
    let row = out.lines().nth(1).expect("a row");
    assert!(row.ends_with("{\"id\":1,\"note\":\"ünïcode\"}\\t\\u{1b}[31m"), "{out}");
}

#[test]
fn repair_with_a_live_writer_fails_on_the_lock_before_showing_a_plan() {
    let log = Log::with(&[("t", &["a"])]);
    let w = log.writer();
    w.write("t", b"b").expect("write");
    let a = log.cmd().args(["verify", "--repair", "--yes"]).assert().code(4).stdout("");
    let err = assert_one_line_error(&a);
    assert!(err.contains("locked") && err.contains(&format!("pid {}", std::process::id())), "{err}");
    w.close().expect("close");
}

#[test]
fn write_refuses_a_new_topic_name_starting_with_a_dash() {
    let log = Log::empty();
    let a = log.cmd().args(["write", "--", "-x"]).write_stdin("a\n").assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("\"-x\"") && err.contains("'-'"), "{err}");
    assert!(!log.dir().exists(), "nothing was created");
}

/// Display columns of `s`: two for CJK and emoji, one for the rest (enough
/// for the names below).
fn columns(s: &str) -> usize {
    s.chars().map(|c| if u32::from(c) >= 0x1100 { 2 } else { 1 }).sum()
}

#[test]
fn tables_line_up_with_cjk_and_emoji_topic_names() {
    let log = Log::with(&[("注文", &["a"]), ("📦", &["b"]), ("orders", &["c"])]);
    let out = stdout_of(&log.cmd().arg("stat").assert().success());
    let lines: Vec<&str> = out.lines().take(4).collect();
    // The end of the FIRST column, in display columns, is the same on every line.
    let end_of_first = |l: &str| {
        let name_end = l.find(' ').expect("a space after the name");
        let rest = &l[name_end..];
        let first_end =
            rest.trim_start().find(' ').expect("a space after FIRST") + (rest.len() - rest.trim_start().len());
        columns(&l[..name_end]) + first_end
    };
    let ends: Vec<usize> = lines.iter().map(|l| end_of_first(l)).collect();
    assert!(ends.iter().all(|&e| e == ends[0]), "{ends:?}\n{out}");
}

#[test]
fn an_error_about_a_very_long_name_shortens_it() {
    let log = Log::with(&[("t", &["a"])]);
    let long = "a".repeat(300);
    let a = log.cmd().args(["tail", &long]).assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.len() < 200 && err.contains("300 bytes") && err.contains("aaaa…"), "{err}");
}

#[test]
fn config_check_without_a_file_reads_the_one_logstream_config_names() {
    let log = Log::empty();
    let file = log.config_file();
    let a = logstream().args(["config", "check"]).env(logstream::CONFIG_ENV, &file).assert().success();
    let v = json_of(&a);
    assert_eq!(v["base_dir"].as_str().map(std::path::PathBuf::from), Some(log.tmp.path().join("log")));
    // --config names it too.
    logstream().arg("--config").arg(&file).args(["config", "check"]).assert().success();
}
