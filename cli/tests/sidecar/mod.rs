//! A running `logstream forward` for the forward tests: started with piped
//! output, waited for on its start line, stopped with SIGTERM.
#![allow(dead_code, reason = "each forward test file uses a part of the helpers")]

use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, ExitStatus};

use crate::common::{Lines, spawn, wait_exit};

/// A `logstream forward` child process.
pub struct Sidecar {
    child: Child,
    /// Its standard output (JSON reports with `--stats --json`).
    pub stdout: Lines,
    /// Its standard error (notes, warnings, reports, the summary).
    pub stderr: Lines,
}

/// How the child finds the log: `--dir DIR` or `--config FILE`.
pub enum LogArg<'a> {
    /// `--dir`.
    Dir(&'a Path),
    /// `--config`.
    Config(&'a Path),
}

impl Sidecar {
    /// Starts `logstream <log> forward <args>`.
    pub fn start(log: LogArg<'_>, args: &[&str]) -> Sidecar {
        let (flag, path) = match log {
            LogArg::Dir(p) => ("--dir", p),
            LogArg::Config(p) => ("--config", p),
        };
        let mut all: Vec<OsString> = vec![flag.into(), path.into(), "forward".into()];
        all.extend(args.iter().map(OsString::from));
        let all: Vec<&std::ffi::OsStr> = all.iter().map(OsString::as_os_str).collect();
        let mut child = spawn(&all);
        let stdout = Lines::of(child.stdout.take().expect("stdout"));
        let stderr = Lines::of(child.stderr.take().expect("stderr"));
        Sidecar { child, stdout, stderr }
    }

    /// Waits for the `forwarding … to …` line: the engine was reached and
    /// SIGTERM is handled from then on. Returns the lines before it
    /// (warnings) and the line itself.
    pub fn wait_started(&self) -> (Vec<String>, String) {
        let mut before = Vec::new();
        loop {
            let line = self.stderr.next("the start line");
            if line.starts_with("forwarding ") {
                return (before, line);
            }
            before.push(line);
        }
    }

    /// Reads standard error until a line contains `text`; returns it.
    /// Panics after the patience.
    pub fn wait_stderr(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + crate::common::PATIENCE;
        loop {
            assert!(std::time::Instant::now() < deadline, "no line with {text:?} on stderr");
            let line = self.stderr.next(text);
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Forgets the standard error lines printed so far.
    pub fn drain_stderr(&self) {
        while self.stderr.within(std::time::Duration::ZERO).is_some() {}
    }

    /// Waits for it to exit on its own, and for the end of its output.
    pub fn exited(mut self) -> Stopped {
        let status = wait_exit(&mut self.child);
        Stopped { status, stdout: self.stdout.rest(), stderr: self.stderr.rest() }
    }

    /// SIGKILL (no chance to save positions or finish a batch), and waits
    /// for the exit and the end of its output.
    pub fn kill(mut self) -> Stopped {
        self.child.kill().expect("send SIGKILL");
        let status = wait_exit(&mut self.child);
        Stopped { status, stdout: self.stdout.rest(), stderr: self.stderr.rest() }
    }

    /// Sends SIGTERM and waits for the exit and the end of its output.
    pub fn terminate(mut self) -> Stopped {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("send SIGTERM");
        let status = wait_exit(&mut self.child);
        Stopped { status, stdout: self.stdout.rest(), stderr: self.stderr.rest() }
    }
}

/// How a sidecar ended.
#[derive(Debug)]
pub struct Stopped {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output lines not read before.
    pub stdout: Vec<String>,
    /// Standard error lines not read before.
    pub stderr: Vec<String>,
}

impl Stopped {
    /// Asserts exit code 0 and the summary line saying `records` records
    /// were forwarded, as the last line of stderr.
    pub fn assert_clean_stop(&self, records: u64) {
        assert_eq!(self.status.code(), Some(0), "{self:#?}");
        let last = self.stderr.last().map_or("", String::as_str);
        assert!(
            last.starts_with("stopped after ") && last.contains(&format!(": {records} records forwarded")),
            "the summary is the last line: {self:#?}"
        );
        assert!(last.ends_with("positions saved"), "{last}");
    }

    /// Asserts exit code 0 and the summary line (whatever the count) as the
    /// last line of stderr: a stop at an arbitrary moment.
    pub fn assert_stopped_cleanly(&self) {
        assert_eq!(self.status.code(), Some(0), "{self:#?}");
        let last = self.stderr.last().map_or("", String::as_str);
        assert!(last.starts_with("stopped after ") && last.ends_with("positions saved"), "{self:#?}");
    }

    /// The JSON reports of `--stats --json` among the stdout lines.
    pub fn reports(&self) -> Vec<serde_json::Value> {
        self.stdout.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"))).collect()
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        // A failed test must not leave the child running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts that `group` saved, for each topic of the log, the position
/// after its last record.
pub fn assert_positions_at_ends(cfg: &logstream::Config, group: &str, topics: &[String]) {
    let lag = logstream::Group::open(cfg, group).expect("open the group").lag().expect("read the lag");
    let mut seen: Vec<&str> = lag.iter().map(|l| l.topic.as_str()).collect();
    seen.sort_unstable();
    assert_eq!(seen, topics.iter().map(String::as_str).collect::<Vec<_>>(), "{lag:?}");
    for l in &lag {
        assert_eq!(l.confirmed, Some(l.next_seq), "topic {}: {l:?}", l.topic);
    }
}
