//! `logstream groups` and `lag` show a group member that is alive but
//! frozen (a `logstream forward` sidecar stopped with SIGSTOP, its locks
//! held) as stale once it has sent no heartbeat for `member_timeout_ms`,
//! and as healthy again after SIGCONT.
mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Child;

use common::*;
use logstream_nats::testing::NatsServer;
use logstream_ship::testing::{config, topic_names, write_log};

/// Kills the sidecar if the test fails (a stopped one would stay forever).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, sig).expect("signal the sidecar");
}

fn groups_json(meta: &Path) -> serde_json::Value {
    json_of(&logstream().arg("--config").arg(meta).args(["groups", "--json"]).assert().success())
}

#[test]
fn groups_and_lag_show_a_frozen_member_as_stale() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let cfg = config(&tmp.path().join("log"));
    let topics = topic_names(2);
    write_log(&cfg, &topics, 10);
    let meta = tmp.path().join("meta.json");
    std::fs::write(&meta, r#"{"base_dir": "log", "member_timeout_ms": 1000, "rebalance_interval_ms": 100}"#)
        .expect("write the config file");
    let server = NatsServer::start();
    let url = server.url();
    let args: Vec<&OsStr> = [
        meta.as_os_str(),
        OsStr::new("forward"),
        OsStr::new("--to"),
        OsStr::new(&url),
        OsStr::new("--subject"),
        OsStr::new("logs.{topic}"),
        OsStr::new("--group"),
        OsStr::new("shipper"),
        OsStr::new("--ensure-stream"),
        OsStr::new("LOGS"),
    ]
    .into_iter()
    .collect();
    let mut all = vec![OsStr::new("--config")];
    all.extend(args);
    let mut guard = Guard(spawn(&all));
    let stderr = Lines::of(guard.0.stderr.take().expect("stderr"));
    while !stderr.next("the start line").starts_with("forwarding ") {}
    wait_for("the sidecar to own both topics", || {
        let v = groups_json(&meta);
        v[0]["members"][0]["topics"].as_array().is_some_and(|t| t.len() == 2) && v[0]["members"][0]["state"] == "ok"
    });

    signal(&guard.0, rustix::process::Signal::STOP);
    wait_for("the frozen member shown as stale", || groups_json(&meta)[0]["members"][0]["state"] == "stale");
    let v = groups_json(&meta);
    assert!(v[0]["members"][0]["heartbeat_age_ms"].as_u64().is_some_and(|a| a >= 1000), "{v}");
    let out = stdout_of(&logstream().arg("--config").arg(&meta).arg("groups").assert().success());
    assert!(out.contains("STALE: no heartbeat for"), "{out}");
    let lag = json_of(&logstream().arg("--config").arg(&meta).args(["lag", "--json"]).assert().success());
    assert!(lag.as_array().is_some_and(|rows| rows.iter().all(|r| r["owner_state"] == "stale")), "{lag}");
    let out = stdout_of(&logstream().arg("--config").arg(&meta).arg("lag").assert().success());
    assert!(out.lines().skip(1).all(|l| l.ends_with("(stale)")), "{out}");

    signal(&guard.0, rustix::process::Signal::CONT);
    wait_for("the member healthy again", || groups_json(&meta)[0]["members"][0]["state"] == "ok");
    signal(&guard.0, rustix::process::Signal::TERM);
    assert!(wait_exit(&mut guard.0).success());
}
