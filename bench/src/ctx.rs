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

/// `meta.json` keys given with `--meta`, applied to every logstream config
/// (also inherited by the child processes through `LOGSTREAM_BENCH_META`).
static META: std::sync::OnceLock<serde_json::Map<String, serde_json::Value>> = std::sync::OnceLock::new();

/// Environment variable carrying `--meta` to child processes.
pub const META_ENV: &str = "LOGSTREAM_BENCH_META";

/// Sets the `--meta` overrides (a JSON object of `meta.json` keys).
///
/// # Errors
/// The text is not a JSON object, or its keys do not make a valid config.
pub fn set_meta(text: &str) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("--meta: {e}"))?;
    let serde_json::Value::Object(map) = v else { return Err("--meta: expected a JSON object".into()) };
    let _ = META.set(map);
    // Check it now rather than in the middle of the run.
    let probe = try_config(Path::new("/nonexistent-logstream-bench"))?;
    probe.validate().map_err(|e| format!("--meta: {e}"))?;
    Ok(())
}

fn try_config(dir: &Path) -> Result<logstream::Config, String> {
    let mut map = META.get().cloned().unwrap_or_default();
    map.insert("base_dir".into(), serde_json::Value::String(dir.to_string_lossy().into_owned()));
    map.entry("retain_consumed").or_insert(serde_json::Value::Bool(true));
    let text = serde_json::Value::Object(map).to_string();
    logstream::Config::from_json_str(&text, None).map_err(|e| format!("--meta: {e}"))
}

/// The configuration every logstream subject uses: defaults, except that
/// consumed segments are kept (several groups read the same backlog), plus
/// the `--meta` overrides.
pub fn config(dir: &Path) -> logstream::Config {
    try_config(dir).expect("config with the --meta overrides")
}

/// The `--meta` text to hand to a child process, if any.
pub fn meta_text() -> Option<String> {
    META.get().map(|m| serde_json::Value::Object(m.clone()).to_string())
}

/// Removes a directory tree, ignoring a missing one.
pub fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
