//! `logstream tail`: records in order, in three formats, from a position,
//! and with `-f` the records written after it started, until Ctrl-C.
mod common;

use std::io::Read;
use std::time::Duration;

use common::*;

#[test]
fn tail_prints_every_record_of_a_topic_in_order_one_per_line() {
    let log = Log::with(&[("login", &["alice", "bob", "carol"])]);
    log.cmd().args(["tail", "login"]).assert().success().stdout("alice\nbob\ncarol\n").stderr("");
}

#[test]
fn tail_from_a_sequence_number_with_a_count_prints_that_range_across_segments() {
    let recs = numbered("t", 35);
    let recs: Vec<&str> = recs.iter().map(String::as_str).collect();
    let log = Log::with(&[("t", &recs)]);
    log.cmd().args(["tail", "t", "--from", "8", "-n", "4"]).assert().success().stdout("t-8\nt-9\nt-10\nt-11\n");
}

#[test]
fn tail_from_latest_without_follow_prints_nothing_and_exits_6() {
    let log = Log::with(&[("login", &["alice"])]);
    log.cmd().args(["tail", "login", "--from", "latest"]).assert().code(6).stdout("");
}

#[test]
fn tail_json_prints_one_object_per_record_and_hex_for_bytes_that_are_not_utf8() {
    let log = Log::empty();
    let w = log.writer();
    w.write("t", b"plain text").expect("write");
    w.write("t", &[0xff, 0x00, 0x80]).expect("write");
    w.close().expect("close");
    let out = stdout_of(&log.cmd().args(["tail", "t", "--format", "json"]).assert().success());
    let recs: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(recs.len(), 2, "{out}");
    assert_eq!((recs[0]["topic"].as_str(), recs[0]["seq"].as_u64()), (Some("t"), Some(0)));
    assert_eq!(recs[0]["data"], "plain text");
    assert!(recs[0].get("data_hex").is_none());
    assert!(recs[0]["time"].as_str().is_some_and(|s| s.ends_with('Z')) && recs[0]["time_ns"].is_u64());
    assert_eq!(recs[1]["data_hex"], "ff0080");
    assert!(recs[1].get("data").is_none());
    // --json means the same.
    let again = stdout_of(&log.cmd().args(["--json", "tail", "t"]).assert().success());
    assert_eq!(again, out);
}

#[test]
fn tail_hex_prints_topic_sequence_number_time_and_bytes() {
    let log = Log::with(&[("login", &["hi"])]);
    let out = stdout_of(&log.cmd().args(["tail", "login", "--format", "hex"]).assert().success());
    let fields: Vec<&str> = out.trim_end().split(' ').collect();
    assert_eq!(fields.len(), 4, "{out}");
    assert_eq!((fields[0], fields[1], fields[3]), ("login", "0", "6869"));
    assert!(fields[2].ends_with('Z'), "{out}");
}

#[test]
fn tail_of_several_topics_prints_each_topic_in_order_each_line_labelled() {
    let a = numbered("a", 30);
    let b = numbered("b", 30);
    let log = Log::with(&[
        ("a", &a.iter().map(String::as_str).collect::<Vec<_>>()),
        ("b", &b.iter().map(String::as_str).collect::<Vec<_>>()),
    ]);
    let out = stdout_of(&log.cmd().args(["tail", "a", "b"]).assert().success());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 60);
    // Each line carries its topic, as more than one is shown.
    let of = |t: &str| {
        let label = format!("[{t}] ");
        lines.iter().filter_map(|l| l.strip_prefix(label.as_str())).map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(of("a"), a);
    assert_eq!(of("b"), b);
}

#[test]
fn tail_follow_prints_a_record_written_after_it_started() {
    let log = Log::with(&[("login", &["alice", "bob"])]);
    let mut child = log.spawn(&["tail", "-f", "login", "--from", "0"]);
    let lines = Lines::of(child.stdout.take().expect("stdout"));
    assert_eq!(lines.next("the first old record"), "alice");
    assert_eq!(lines.next("the second old record"), "bob");
    let w = log.writer();
    w.write("login", b"carol").expect("write");
    assert_eq!(lines.next("the record written while following"), "carol");
    w.close().expect("close");
    child.kill().expect("kill the follower");
    child.wait().expect("reap the follower");
}

#[test]
fn tail_follow_starts_after_the_newest_record_by_default() {
    let log = Log::with(&[("login", &["old-0", "old-1", "old-2"])]);
    let mut child = log.spawn(&["tail", "-f", "login", "-n", "1"]);
    let lines = Lines::of(child.stdout.take().expect("stdout"));
    // The follower may start before or after any of these writes; whichever
    // record it prints first must be a new one, never an old one.
    let w = log.writer();
    let mut i = 0;
    let first = loop {
        w.write("login", format!("new-{i}").as_bytes()).expect("write");
        i += 1;
        if let Some(line) = lines.within(Duration::from_millis(20)) {
            break line;
        }
        assert!(i < 1_500, "the follower printed nothing for 30 s");
    };
    assert!(first.starts_with("new-"), "printed {first:?}");
    let status = wait_exit(&mut child);
    assert!(status.success(), "-n 1 ends the follower: {status}");
    w.close().expect("close");
}

#[test]
fn ctrl_c_ends_tail_follow_cleanly_with_exit_code_0() {
    let log = Log::with(&[("login", &["alice"])]);
    let mut child = log.spawn(&["tail", "--follow", "login", "--from", "earliest"]);
    let lines = Lines::of(child.stdout.take().expect("stdout"));
    // A printed record means the Ctrl-C handler is in place (it is set first).
    assert_eq!(lines.next("the record"), "alice");
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("send SIGINT");
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(0), "{status}");
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    assert_eq!(err, "");
}

#[test]
fn tail_follow_waits_for_a_topic_that_does_not_exist_yet() {
    let log = Log::with(&[("login", &["alice"])]);
    // --from earliest: the first record whether the topic exists yet when the follower looks or not.
    let mut child = log.spawn(&["tail", "-f", "signup", "--from", "earliest", "-n", "1"]);
    let lines = Lines::of(child.stdout.take().expect("stdout"));
    let w = log.writer();
    w.write("signup", b"dave").expect("write");
    assert_eq!(lines.next("the first record of the new topic"), "dave");
    assert!(wait_exit(&mut child).success());
    w.close().expect("close");
}

#[test]
fn tail_of_a_topic_that_does_not_exist_names_the_topics_there() {
    let log = Log::with(&[("login", &["alice"])]);
    let a = log.cmd().args(["tail", "logn"]).assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("\"logn\"") && err.contains("login"), "{err}");
}

#[test]
fn a_reader_that_stops_reading_early_ends_tail_quietly() {
    // 400 KiB: far more than a pipe holds, so the command is still writing.
    let recs: Vec<String> = (0..200).map(|i| format!("{i:05}{}", "x".repeat(2000))).collect();
    let log = Log::with(&[("t", &recs.iter().map(String::as_str).collect::<Vec<_>>())]);
    let mut child = log.spawn(&["tail", "t"]);
    let mut out = child.stdout.take().expect("stdout");
    let mut first = [0u8; 6];
    out.read_exact(&mut first).expect("read the first bytes");
    assert_eq!(&first, b"00000x");
    drop(out);
    let status = wait_exit(&mut child);
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    assert_eq!((status.code(), err.as_str()), (Some(0), ""), "a closed pipe is not an error");
}

/// Waits until the wall clock is `by` past `t`: record times come from the
/// coarse clock, which trails the precise one by a few milliseconds.
fn clock_past(t: std::time::SystemTime, by: Duration) {
    while std::time::SystemTime::now() < t + by {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn tail_from_a_time_prints_the_records_written_at_or_after_it() {
    let log = Log::empty();
    let w = log.writer();
    w.write("t", b"a0").expect("write");
    w.write("t", b"a1").expect("write");
    let between = std::time::SystemTime::now() + Duration::from_millis(25);
    clock_past(between, Duration::from_millis(25));
    w.write("t", b"b0").expect("write");
    w.write("t", b"b1").expect("write");
    w.close().expect("close");

    // b0's own time as tail prints it (RFC 3339 with nanoseconds): b0 is included.
    let out = stdout_of(&log.cmd().args(["tail", "t", "--format", "json"]).assert().success());
    let b0: serde_json::Value = serde_json::from_str(out.lines().nth(2).expect("b0's line")).expect("JSON");
    assert_eq!(b0["data"], "b0");
    let at = b0["time"].as_str().expect("time");
    log.cmd().args(["tail", "t", "--from", at]).assert().success().stdout("b0\nb1\n");

    // Seconds since the epoch, between the two pairs.
    let between = between.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs_f64();
    log.cmd().args(["tail", "t", "--from", &format!("@{between:.6}")]).assert().success().stdout("b0\nb1\n");

    // Before everything, and after everything.
    log.cmd().args(["tail", "t", "--from", "1970-01-01T00:00:00Z"]).assert().success().stdout("a0\na1\nb0\nb1\n");
    log.cmd().args(["tail", "t", "--from", "2999-01-01T00:00:00+02:00"]).assert().code(6).stdout("");

    // Not a time: one line naming the forms, exit code 2.
    let err = log.cmd().args(["tail", "t", "--from", "2026-05-04T10:20"]).assert().code(2);
    let err = String::from_utf8_lossy(&err.get_output().stderr).into_owned();
    assert!(err.contains("RFC 3339") && err.lines().count() == 1, "{err}");
}
