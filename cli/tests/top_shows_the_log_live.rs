//! `logstream top`: a live view of a log while its writer runs — JSON lines
//! on a pipe, and the real screen in a pseudo-terminal (under tmux).
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::*;

/// A JSON line of `top`, parsed.
fn parse(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
}

/// The topic row `topic` of a `top` JSON line.
fn topic<'a>(screen: &'a serde_json::Value, topic: &str) -> &'a serde_json::Value {
    screen["topics"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["topic"] == topic))
        .unwrap_or(&serde_json::Value::Null)
}

#[test]
fn top_on_a_pipe_prints_a_json_line_per_interval_with_the_live_writers_rate() {
    let log = Log::with(&[("orders", &["o0"])]);
    consume_all(&log, "audit", 1);
    let w = log.writer();
    // Not --json: standard output is a pipe, so top falls back to JSON lines.
    let mut child = log.spawn(&["top", "--interval", "0.2"]);
    let lines = Lines::of(child.stdout.take().expect("stdout"));
    let first = parse(&lines.next("the first look"));
    assert_eq!(topic(&first, "orders")["next_seq"], 1, "{first}");
    assert!(topic(&first, "orders")["write_rate"].is_null(), "no rate at the first look: {first}");
    for i in 1..=50 {
        w.write("orders", format!("o{i}").as_bytes()).expect("write");
    }
    w.flush().expect("flush");
    // The look that sees the 50 new records gives them a rate, and the group a lag.
    let seen = loop {
        let s = parse(&lines.next("a look after the writes"));
        if topic(&s, "orders")["next_seq"] == 51 {
            break s;
        }
    };
    let rate = topic(&seen, "orders")["write_rate"].as_f64().expect("a rate");
    assert!(rate > 0.0, "{seen}");
    let audit = &seen["groups"][0];
    assert_eq!((audit["group"].as_str(), audit["topic"].as_str()), (Some("audit"), Some("orders")));
    assert_eq!(audit["lag_records"], 50, "{seen}");
    assert!(audit["lag_seconds"].as_f64().is_some_and(|s| s >= 0.0), "{seen}");
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("send SIGINT");
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    w.close().expect("close");
}

#[test]
fn top_json_with_a_count_prints_that_many_lines_and_no_terminal_codes() {
    let log = Log::with(&[("orders", &["o0"])]);
    let a = log.cmd().args(["top", "--json", "--count", "2", "--interval", "0.1"]).assert().success();
    let out = stdout_of(&a);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(!out.contains('\u{1b}'), "no escape sequences on a pipe: {out:?}");
    for l in out.lines() {
        assert_eq!(topic(&parse(l), "orders")["records"], 1);
    }
}

/// A reader in this process whose closure fails on one topic: `top`, in
/// another process, learns it from the member file and shows the attempts
/// and the error; so does `groups`, with the member's counters.
#[test]
fn top_shows_a_topic_whose_reader_retries_a_failing_batch() {
    let log = Log::with(&[("orders", &["o0", "o1"]), ("refunds", &["r0"])]);
    let mut cfg = log.cfg.clone();
    cfg.set_rebalance_interval_ms(50);
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    let reader = logstream::Reader::builder(&cfg)
        .group("shipper")
        .retry(logstream::RetryPolicy {
            initial: std::time::Duration::from_millis(20),
            max_delay: std::time::Duration::from_millis(50),
            max_attempts: None,
        })
        .start(move |b: &logstream::Batch| -> Result<(), String> {
            if b.topic() == "orders" {
                let _ = tx.send(b.attempt());
                return Err("503 from the sink".into());
            }
            Ok(())
        })
        .expect("start reader");
    // Real failures first: the third attempt has been made.
    while rx.recv_timeout(PATIENCE).expect("an attempt") < 3 {}
    let mut child = log.spawn(&["top", "--interval", "0.1"]);
    let lines = Lines::of(child.stdout.take().expect("stdout"));
    let orders = loop {
        let s = parse(&lines.next("a look that shows the retries"));
        let row = s["groups"].as_array().and_then(|g| g.iter().find(|r| r["topic"] == "orders")).cloned();
        if let Some(r) = row
            && r["retry_attempts"].as_u64().is_some_and(|n| n >= 2)
        {
            break r;
        }
    };
    assert_eq!(orders["retry_error"], "503 from the sink", "{orders}");
    assert_eq!(orders["group"], "shipper");
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("send SIGINT");
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    let member = loop {
        let g = logstream::Group::open(&log.cfg, "shipper").expect("open group");
        let m = g.members().expect("members").pop().expect("the reader is a member");
        if m.counters.is_some_and(|c| c.failures >= 3 && c.records >= 1) {
            break m;
        }
        assert!(rx.recv_timeout(PATIENCE).is_ok(), "the counters were not published: {m:?}");
    };
    assert_eq!(member.format, 2);
    assert_eq!(member.retrying.len(), 1, "{member:?}");
    let groups = stdout_of(&log.cmd().args(["groups"]).assert().success());
    assert!(groups.contains("orders failing, attempt"), "{groups}");
    assert!(groups.contains("503 from the sink"), "{groups}");
    reader.stop().expect("stop reader");
}

/// A tmux server of this test's own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(session_cmd: &str, width: u16, height: u16) -> Tmux {
        let found = Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
        assert!(found, "this test needs tmux: run scripts/install-test-deps.sh");
        let t = Tmux { socket: format!("logstream-top-test-{}", std::process::id()) };
        let (w, h) = (width.to_string(), height.to_string());
        let started = t
            .cmd(&["new-session", "-d", "-s", "top", "-x", &w, "-y", &h, session_cmd])
            .env("TERM", "xterm-256color")
            .status()
            .expect("run tmux");
        assert!(started.success(), "tmux new-session failed");
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).args(args);
        c
    }

    /// What the pane shows now.
    fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", "top"]).output().expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits for the screen to satisfy `cond`; returns it. Panics with the
    /// last screen after the patience.
    fn wait_screen(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = self.screen();
            if cond(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; the screen:\n{s}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn keys(&self, keys: &str) {
        assert!(self.cmd(&["send-keys", "-t", "top", keys]).status().expect("tmux send-keys").success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn top_in_a_terminal_shows_the_live_log_and_q_gives_the_terminal_back() {
    let log = Log::with(&[("orders", &["o0"]), ("注文", &["a"])]);
    consume_all(&log, "audit", 2);
    let w = log.writer();
    let cmd = format!(
        "{} --dir {} top --interval 0.2; echo top-exited-$?; sleep 600",
        shell_quote(bin()),
        shell_quote(log.dir())
    );
    let tmux = Tmux::start(&cmd, 130, 24);
    let row =
        |s: &str, start: &str| s.lines().find(|l| l.trim_start_matches('│').starts_with(start)).map(str::to_owned);
    let first = tmux.wait_screen("the topics", |s| row(s, "orders").is_some() && row(s, "注文").is_some());
    assert!(first.contains("WRITE/s") && first.contains("LAG AGE"), "{first}");
    assert!(first.lines().any(|l| l.starts_with("q quit  s sort")), "the help line:\n{first}");
    for i in 1..=149 {
        w.write("orders", format!("o{i}").as_bytes()).expect("write");
    }
    w.flush().expect("flush");
    // The writer's records show: 150 retained, and the group 149 behind.
    let live = tmux.wait_screen("the new records", |s| {
        row(s, "orders").is_some_and(|r| r.contains(" 150 ")) && row(s, "audit").is_some_and(|r| r.contains(" 149 "))
    });
    // Rows line up though 注文 is two characters four columns wide: every
    // line of the table ends at the same display column.
    let widths: Vec<usize> = ["│TOPIC", "orders", "注文"]
        .iter()
        .filter_map(|n| row(&live, n.trim_start_matches('│')))
        .map(|r| unicode_width::UnicodeWidthStr::width(r.trim_end()))
        .collect();
    assert!(widths.len() == 3 && widths.iter().all(|&w| w == widths[0]), "{widths:?}\n{live}");
    // The filter hides what does not match.
    tmux.keys("/");
    tmux.keys("ord");
    tmux.keys("Enter");
    tmux.wait_screen("the filter", |s| s.contains("filter: ord") && row(s, "注文").is_none());
    tmux.keys("q");
    let after = tmux.wait_screen("top to exit", |s| s.contains("top-exited-0"));
    assert!(!after.contains("WRITE/s"), "the main screen is back, the view gone:\n{after}");
    w.close().expect("close");
}
