//! State shared by the scenarios: options, the scratch directory, the clock,
//! the rows so far and the same-run reference figures later rows divide by.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::measure::Ticks;
use crate::opts::Opts;
use crate::report::Row;

/// Everything a scenario needs.
pub struct Ctx {
    /// Parsed options.
    pub opts: Opts,
    /// Scratch directory of this run (removed at the end).
    pub root: PathBuf,
    /// Calibrated TSC clock.
    pub ticks: Ticks,
    /// Rows measured so far.
    pub rows: Vec<Row>,
    /// Median of baseline (a) without fsync, main record size (records/s).
    pub base_a: Option<f64>,
    /// Median of the pre-faulted mapping copy rate, main record size (records/s).
    pub prefault: Option<f64>,
    /// Median of logstream's 1-thread burst, main record size (records/s).
    pub one_thread: Option<f64>,
    seq: AtomicU64,
}

impl Ctx {
    /// Creates the scratch directory `<opts.dir>/logstream-bench-<pid>`.
    pub fn new(opts: Opts) -> Ctx {
        let root = opts.dir.join(format!("logstream-bench-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
        let root = root.canonicalize().expect("canonicalize the scratch directory");
        Ctx {
            opts,
            root,
            ticks: Ticks::calibrate(),
            rows: Vec::new(),
            base_a: None,
            prefault: None,
            one_thread: None,
            seq: AtomicU64::new(0),
        }
    }

    /// A fresh, not yet existing path under the scratch directory.
    pub fn path(&self, what: &str) -> PathBuf {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.root.join(format!("{what}-{n}"))
    }

    /// Adds a row and prints it as soon as it is known (progress on stderr).
    pub fn push(&mut self, row: Row) {
        eprintln!(
            "  {:<28} {:<36} {:<10} {}",
            row.scenario,
            row.subject,
            row.metric,
            crate::report::human(row.summary.median, &row.unit)
        );
        self.rows.push(row);
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The configuration every logstream subject uses: defaults, except that
/// consumed segments are kept (several groups read the same backlog).
pub fn config(dir: &Path) -> logstream::Config {
    let mut cfg = logstream::Config::new(dir);
    cfg.set_retain_consumed(true);
    cfg
}

/// Removes a directory tree, ignoring a missing one.
pub fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
