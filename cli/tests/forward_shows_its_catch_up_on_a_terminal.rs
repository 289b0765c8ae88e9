//! `logstream forward` started behind a backlog draws a catch-up bar on a
//! terminal (recorded with `script`, which runs the real binary on a
//! pseudo-terminal and keeps every byte it draws) and says when it has
//! caught up; on a pipe it draws nothing of the kind.
mod common;
mod sidecar;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use logstream_nats::testing::NatsServer;
use logstream_ship::testing::{config, topic_names, write_log};
use sidecar::{LogArg, Sidecar};

const PER_TOPIC: u64 = 50_000;
const TOPICS: usize = 4;

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn forward_args(server: &NatsServer) -> Vec<String> {
    ["forward", "--to", &server.url(), "--subject", "logs.{topic}", "--group", "shipper", "--ensure-stream", "LOGS"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn caught_up(cfg: &logstream::Config) -> bool {
    logstream::Group::open(cfg, "shipper")
        .and_then(|g| g.lag())
        .is_ok_and(|l| l.len() == TOPICS && l.iter().all(|t| t.lag_records == 0))
}

fn backlog(dir: &Path) -> logstream::Config {
    let cfg = config(dir);
    write_log(&cfg, &topic_names(TOPICS), PER_TOPIC);
    cfg
}

/// Kills the sidecar and `script` if the test fails (they would run on).
struct Guard {
    script: std::process::Child,
    pid_file: std::path::PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        let _ = self.script.kill();
        let _ = self.script.wait();
    }
}

#[test]
fn forward_behind_a_backlog_shows_a_catch_up_bar_on_a_terminal_and_says_when_it_caught_up() {
    let found = Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "this test needs script(1): run scripts/install-test-deps.sh");
    let server = NatsServer::start();
    let tmp = tempfile::tempdir().expect("temporary directory");
    let cfg = backlog(&tmp.path().join("log"));
    let pid_file = tmp.path().join("pid");
    let mut line = format!(
        "echo $$ > {}; exec {} --dir {}",
        quote(&pid_file.display().to_string()),
        quote(&bin().display().to_string()),
        quote(&cfg.base_dir().display().to_string())
    );
    for a in forward_args(&server) {
        line.push(' ');
        line.push_str(&quote(&a));
    }
    line.push_str(" >/dev/null");
    let record = tmp.path().join("drawn");
    let script = Command::new("script")
        .args(["-q", "-f", "-e", "-c", &line])
        .arg(&record)
        .env_remove(logstream::CONFIG_ENV)
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run script");
    let mut script = Guard { script, pid_file: pid_file.clone() };
    wait_for("the whole backlog forwarded", || caught_up(&cfg));
    let pid: i32 = std::fs::read_to_string(&pid_file).expect("the sidecar's pid").trim().parse().expect("a pid");
    // The note comes right after the last look that finds nothing left.
    let drawn_now = || String::from_utf8_lossy(&std::fs::read(&record).unwrap_or_default()).into_owned();
    let deadline = std::time::Instant::now() + PATIENCE;
    while !drawn_now().contains("caught up: ") {
        assert!(std::time::Instant::now() < deadline, "no caught-up note; drawn: {:?}", drawn_now());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = rustix::process::Pid::from_raw(pid).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("send SIGTERM");
    let status = wait_exit(&mut script.script);
    let drawn = String::from_utf8_lossy(&std::fs::read(&record).expect("read what was drawn")).into_owned();
    assert_eq!(status.code(), Some(0), "{drawn}");
    assert!(drawn.contains("catching up [") && drawn.contains(" records, ") && drawn.contains(" left"), "{drawn}");
    assert!(drawn.contains(" records forwarded in "), "{drawn}");
}

#[test]
fn forward_on_a_pipe_draws_no_catch_up_bar() {
    let server = NatsServer::start();
    let tmp = tempfile::tempdir().expect("temporary directory");
    let cfg = backlog(&tmp.path().join("log"));
    let args = forward_args(&server);
    let args: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let fwd = Sidecar::start(LogArg::Dir(cfg.base_dir()), &args);
    fwd.wait_started();
    wait_for("the whole backlog forwarded", || caught_up(&cfg));
    let stopped = fwd.terminate();
    stopped.assert_clean_stop(PER_TOPIC * TOPICS as u64);
    assert!(!stopped.stderr.iter().any(|l| l.contains("catching up") || l.contains("caught up")), "{stopped:#?}");
}
