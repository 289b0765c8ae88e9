//! Helpers shared by the command's tests: logs made with the library, the
//! real binary, and a child's output read line by line with a deadline.
#![allow(dead_code, reason = "each test file uses a part of the helpers")]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use logstream::{Config, TopicReader, Writer};

/// How long a test waits for a child's output or exit: a safety net against
/// a hung test, never the synchronization itself.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The `logstream` binary under test.
pub fn bin() -> &'static Path {
    assert_cmd::cargo::cargo_bin!("logstream")
}

/// The binary as an `assert_cmd` command, with no config from the environment.
pub fn logstream() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin());
    cmd.env_remove(logstream::CONFIG_ENV);
    cmd
}

/// A log directory in a temporary directory of its own.
pub struct Log {
    /// Holds the temporary directory; the log is `log/` inside it.
    pub tmp: tempfile::TempDir,
    /// A config on the log, with segments of `RECORDS_PER_SEGMENT` records.
    pub cfg: Config,
}

/// Records per segment in test logs: small, so tests have sealed segments.
pub const RECORDS_PER_SEGMENT: u64 = 10;

impl Log {
    /// A log that does not exist yet.
    pub fn empty() -> Log {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let mut cfg = Config::new(tmp.path().join("log"));
        cfg.set_idx_file_max_item_num(RECORDS_PER_SEGMENT).set_flush_interval_ms(10);
        Log { tmp, cfg }
    }

    /// A log holding `records` of each topic, written and closed by the library.
    pub fn with(topics: &[(&str, &[&str])]) -> Log {
        let log = Log::empty();
        let w = log.writer();
        for (topic, records) in topics {
            for r in *records {
                w.write(topic, r.as_bytes()).expect("write");
            }
        }
        w.close().expect("close");
        log
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        self.cfg.base_dir()
    }

    /// A writer on the log.
    pub fn writer(&self) -> Writer {
        Writer::open(&self.cfg).expect("open writer")
    }

    /// `logstream --dir <log>`.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = logstream();
        cmd.arg("--dir").arg(self.dir());
        cmd
    }

    /// `logstream --dir <log> ARGS…` running in the background, with piped
    /// standard streams (see [`spawn`]).
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut all = vec![std::ffi::OsStr::new("--dir"), self.dir().as_os_str()];
        all.extend(args.iter().map(std::ffi::OsStr::new));
        spawn(&all)
    }

    /// A config file for the log (same segment size), for `--config`.
    pub fn config_file(&self) -> PathBuf {
        let path = self.tmp.path().join("meta.json");
        let text = format!(
            "{{\n  // the test log\n  \"base_dir\": \"log\",\n  \"idx_file_max_item_num\": {RECORDS_PER_SEGMENT}\n}}\n"
        );
        std::fs::write(&path, text).expect("write config file");
        path
    }

    /// Every record of `topic`, read with the library.
    pub fn records(&self, topic: &str) -> Vec<(u64, Vec<u8>)> {
        let mut r = TopicReader::open(&self.cfg, topic, 0).expect("open topic reader");
        let mut out = Vec::new();
        while let Some(b) = r.next_batch(1 << 20).expect("read") {
            out.extend(b.records().map(|rec| (rec.seq(), rec.data().to_vec())));
        }
        out
    }

    /// The data file of the segment of `topic` starting at `base`.
    pub fn segment(&self, topic: &str, base: u64) -> PathBuf {
        self.dir().join("topics").join(topic).join(format!("{base:020}.dat"))
    }
}

/// Consumes every record of the log as `group`, then stops (saving positions).
pub fn consume_all(log: &Log, group: &str, records: usize) {
    let (tx, rx) = mpsc::channel::<usize>();
    let reader = logstream::Reader::builder(&log.cfg)
        .group(group)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let _ = tx.send(b.len());
            Ok(())
        })
        .expect("start reader");
    let mut seen = 0;
    while seen < records {
        seen += rx.recv_timeout(PATIENCE).expect("a batch within the patience");
    }
    reader.stop().expect("stop reader");
}

/// `n` records `"<topic>-<i>"`.
pub fn numbered(topic: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{topic}-{i}")).collect()
}

/// A child's standard output, line by line, read on a thread so the test can
/// wait for each line with a deadline.
pub struct Lines {
    rx: mpsc::Receiver<String>,
}

impl Lines {
    /// Starts reading `out`.
    pub fn of(out: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("test-child-stdout".into())
            .spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn reader thread");
        Lines { rx }
    }

    /// The next line; panics after `PATIENCE`.
    pub fn next(&self, what: &str) -> String {
        self.rx.recv_timeout(PATIENCE).unwrap_or_else(|e| panic!("no line from the child ({what}): {e}"))
    }

    /// Every line until the child closes the stream (it exited); panics
    /// after `PATIENCE` without a line or the end.
    pub fn rest(&self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match self.rx.recv_timeout(PATIENCE) {
                Ok(line) => out.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => return out,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("the child's output did not end within {PATIENCE:?}"),
            }
        }
    }

    /// The next line if one comes within `wait`.
    pub fn within(&self, wait: Duration) -> Option<String> {
        self.rx.recv_timeout(wait).ok()
    }
}

/// Spawns the binary with piped standard streams.
pub fn spawn(args: &[&std::ffi::OsStr]) -> Child {
    std::process::Command::new(bin())
        .args(args)
        .env_remove(logstream::CONFIG_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn logstream")
}

/// Waits for `child` to exit; kills it and panics after `PATIENCE`.
pub fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Polls `cond` until it holds; panics after `PATIENCE` (the condition is a
/// real event; the deadline only bounds a hung test).
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    let mut pause = Duration::from_micros(200);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// The standard output of a finished `assert_cmd` run, as text.
pub fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

/// The standard output of a finished run, parsed as JSON.
pub fn json_of(assert: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&assert.get_output().stdout).expect("stdout is JSON")
}

/// Asserts that standard error is exactly one line starting `logstream: `.
pub fn assert_one_line_error(assert: &assert_cmd::assert::Assert) -> String {
    let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(err.starts_with("logstream: "), "stderr: {err:?}");
    assert_eq!(err.lines().count(), 1, "stderr is one line: {err:?}");
    assert!(err.ends_with('\n'), "stderr ends its line: {err:?}");
    err
}
