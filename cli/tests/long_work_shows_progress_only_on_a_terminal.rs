//! `verify`, `verify --repair`, `dlq replay` and `reset` draw progress on a
//! terminal (recorded here with `script`, which runs the real binary on a
//! pseudo-terminal and keeps every byte it draws), and nothing on a pipe or
//! with `--json`.
mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::*;

/// 700 records of `t`: 70 segments, enough for `verify` to show its bar.
fn big_log() -> Log {
    let recs = numbered("t", 700);
    Log::with(&[("t", &recs.iter().map(String::as_str).collect::<Vec<_>>())])
}

/// A log whose group `shipper` gave up on the 20 records of `orders`.
fn log_with_dead_letters() -> Log {
    let recs = numbered("o", 20);
    let log = Log::with(&[("orders", &recs.iter().map(String::as_str).collect::<Vec<_>>())]);
    let mut cfg = log.cfg.clone();
    cfg.set_retry_max_attempts(1).set_retry_initial_ms(1).set_retry_max_ms(5);
    let reader = logstream::Reader::builder(&cfg)
        .group("shipper")
        .start(|_: &logstream::Batch| -> Result<(), std::io::Error> { Err(std::io::Error::other("no")) })
        .expect("start reader");
    let group = logstream::Group::open(&log.cfg, "shipper").expect("open group");
    wait_for("the orders to become dead letters", || {
        group.dead_letter_counts().is_ok_and(|c| c == [("orders".to_owned(), 20)])
    });
    reader.stop().expect("stop reader");
    log
}

/// A log whose writer was killed (SIGKILL) after 5 records: its last
/// segment is left open, so `--repair` has work to do.
fn killed_writer_log() -> Log {
    let log = Log::empty();
    let mut child = log.spawn(&["write", "t"]);
    let mut stdin = child.stdin.take().expect("stdin");
    for i in 0..5 {
        writeln!(stdin, "record-{i}").expect("feed the writer");
    }
    stdin.flush().expect("flush");
    wait_for("the writer to write every line", || {
        logstream::topics(&log.cfg).is_ok_and(|t| t.first().is_some_and(|t| t.next_seq == 5))
    });
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
    log
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Everything `logstream --dir <log> ARGS` draws on a terminal (standard
/// error; standard output goes to /dev/null), and its exit code.
fn on_a_terminal(dir: &Path, args: &[&str]) -> (String, i32) {
    let found = Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "this test needs script(1): run scripts/install-test-deps.sh");
    let mut line = format!("{} --dir {}", quote(&bin().display().to_string()), quote(&dir.display().to_string()));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    line.push_str(" >/dev/null");
    let record = tempfile::NamedTempFile::new().expect("temporary file");
    let status = Command::new("script")
        .args(["-q", "-e", "-c", &line])
        .arg(record.path())
        .env_remove(logstream::CONFIG_ENV)
        .env("TERM", "xterm-256color")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run script");
    let drawn = std::fs::read(record.path()).expect("read what was drawn");
    // script's own first and last lines name the command: not drawn by it.
    let drawn: Vec<&str> = std::str::from_utf8(&drawn)
        .unwrap_or("")
        .lines()
        .filter(|l| !l.starts_with("Script started on") && !l.starts_with("Script done on"))
        .collect();
    (drawn.join("\n"), status.code().unwrap_or(-1))
}

#[test]
fn verify_on_a_terminal_shows_a_bar_with_rate_and_time_left() {
    let log = big_log();
    let (drawn, code) = on_a_terminal(log.dir(), &["verify"]);
    assert_eq!(code, 0, "{drawn}");
    assert!(drawn.contains("verifying [") && drawn.contains("/70 segments") && drawn.contains("/s, "), "{drawn}");
    assert!(drawn.contains(" left"), "{drawn}");
}

#[test]
fn repair_replay_and_reset_on_a_terminal_show_their_progress() {
    let log = log_with_dead_letters();
    let (drawn, code) = on_a_terminal(log.dir(), &["dlq", "replay", "-g", "shipper"]);
    assert_eq!(code, 0, "{drawn}");
    assert!(drawn.contains("replaying [") && drawn.contains("/20 dead letters"), "{drawn}");
    let (drawn, code) = on_a_terminal(log.dir(), &["reset", "-g", "shipper", "orders", "--to", "earliest"]);
    assert_eq!(code, 0, "{drawn}");
    assert!(drawn.contains("moving group \"shipper\" in topic \"orders\""), "{drawn}");
    let log = killed_writer_log();
    let (drawn, code) = on_a_terminal(log.dir(), &["verify", "--repair", "--yes"]);
    assert_eq!(code, 0, "{drawn}");
    assert!(drawn.contains("repairing "), "{drawn}");
}

#[test]
fn with_json_a_terminal_gets_no_progress() {
    let log = big_log();
    let (drawn, code) = on_a_terminal(log.dir(), &["--json", "verify"]);
    assert_eq!(code, 0, "{drawn}");
    assert!(!drawn.contains("verifying") && !drawn.contains('['), "{drawn}");
}

#[test]
fn on_a_pipe_long_work_prints_no_progress_noise() {
    let log = big_log();
    log.cmd().arg("verify").assert().success().stderr("");
    let log = killed_writer_log();
    log.cmd().args(["verify", "--repair", "--yes"]).assert().success().stderr("");
    let log = log_with_dead_letters();
    log.cmd().args(["dlq", "replay", "-g", "shipper"]).assert().success().stderr("");
    log.cmd().args(["reset", "-g", "shipper", "orders", "--to", "latest"]).assert().success().stderr("");
}
