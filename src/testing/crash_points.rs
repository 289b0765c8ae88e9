//! Crash-point exploration: crash at the k-th file-system operation of a
//! log directory, for k = 1, 2, 3, … in turn.
//!
//! [`CrashPoints`] is a hook that numbers the operations a crash can fall
//! between (every sync, directory sync and `syncfs`, every [`Change`]:
//! creation, rename, exchange, removal, hole punching, truncation) under the
//! directory it watches. Armed with a point `k`, it stops just before the
//! k-th operation: it writes the two images a crash there would leave — the
//! `kill -9` image (the files as they are, page cache included) and the
//! power-loss image (only what was synced) — and from then on fails every
//! operation in that directory with `EIO`, so the code under test stops as a
//! killed process would (no later operation reaches the disk images). The
//! operation `k` itself never happens.
//!
//! Space reservations are not crash points (the prefault thread makes them
//! at times of its own, which would make the numbering differ between runs
//! of the same workload); they fail after the crash like everything else.
//! The flush thread's timed housekeeping is skipped in the watched directory:
//! a deterministic workload runs it itself (`Writer::run_housekeeping`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Change, Crash, CrashRecorder, StorageHook, SyncedRange, add_hook, remove_hook};

/// Where and how a run crashed.
#[derive(Debug, Clone)]
pub struct Crashed {
    /// The number of the operation that did not happen (from 1).
    pub point: u64,
    /// What that operation was, for messages.
    pub op: String,
    /// The `kill -9` image.
    pub kill_image: PathBuf,
    /// The power-loss image (only what was synced survived).
    pub power_image: PathBuf,
    /// What is durable in the `kill -9` image: what had been synced before
    /// the crash (a power loss after the kill keeps only that).
    pub kill_durable: Arc<CrashRecorder>,
}

struct Armed {
    point: u64,
    kill_image: PathBuf,
    power_image: PathBuf,
}

#[derive(Default)]
struct Inner {
    watched: Option<Arc<CrashRecorder>>,
    seen: u64,
    armed: Option<Armed>,
    crashed: Option<Crashed>,
    /// Set when building the images failed (the test reports it).
    image_error: Option<String>,
    last_op: String,
}

/// Numbers the file-system operations of a directory and crashes at a
/// chosen one (see the module documentation).
pub struct CrashPoints {
    root: PathBuf,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for CrashPoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrashPoints").field("root", &self.root).finish()
    }
}

impl CrashPoints {
    /// Registers a hook for every path under `root`; it acts only on the
    /// directory given to [`CrashPoints::watch`]. Install it before any other
    /// hook under `root`: hooks run in the order they were registered, and a
    /// crash must come before anything records the operation.
    pub fn install(root: &Path) -> Arc<CrashPoints> {
        let c = Arc::new(CrashPoints { root: root.to_path_buf(), inner: Mutex::new(Inner::default()) });
        add_hook(root, c.clone());
        c
    }

    /// Removes the hook.
    pub fn uninstall(&self) {
        remove_hook(&self.root);
    }

    /// Numbers the operations under `recorder.base()` from now on, showing
    /// the syncs to `recorder` (which must not be registered itself) so that
    /// the power-loss image keeps what they made durable. The count goes on
    /// from where it was: a workload can move to another directory (an
    /// image it continues on) and keep its numbering.
    pub fn watch(&self, recorder: Arc<CrashRecorder>) {
        self.inner.lock().watched = Some(recorder);
    }

    /// Crashes just before operation `point` (counted from 1), writing the
    /// images to `kill_image` and `power_image` (which must not exist).
    pub fn arm(&self, point: u64, kill_image: PathBuf, power_image: PathBuf) {
        self.inner.lock().armed = Some(Armed { point, kill_image, power_image });
    }

    /// Operations numbered so far.
    pub fn seen(&self) -> u64 {
        self.inner.lock().seen
    }

    /// The last operation numbered (or the one crashed at), for messages.
    pub fn last_op(&self) -> String {
        self.inner.lock().last_op.clone()
    }

    /// The crash, once it happened.
    ///
    /// # Errors
    /// Building the images failed (the message says why).
    pub fn crashed(&self) -> Result<Option<Crashed>, String> {
        let g = self.inner.lock();
        match &g.image_error {
            Some(e) => Err(e.clone()),
            None => Ok(g.crashed.clone()),
        }
    }

    /// True once the crash happened.
    pub fn has_crashed(&self) -> bool {
        let g = self.inner.lock();
        g.crashed.is_some() || g.image_error.is_some()
    }

    /// Counts one operation on `path` described by `what()`; `Ok(Some(r))`
    /// to go on showing it to recorder `r`, `Ok(None)` when the path is not
    /// watched, `Err` when the directory has crashed (now or before).
    fn step(&self, path: &Path, what: impl FnOnce() -> String) -> io::Result<Option<Arc<CrashRecorder>>> {
        let mut g = self.inner.lock();
        let Some(rec) = g.watched.clone() else { return Ok(None) };
        if !path.starts_with(rec.base()) {
            return Ok(None);
        }
        if g.crashed.is_some() || g.image_error.is_some() {
            return Err(crashed_error());
        }
        g.seen += 1;
        let rel = path.strip_prefix(rec.base()).unwrap_or(path);
        g.last_op = format!("#{} {} {}", g.seen, what(), rel.display());
        if g.armed.as_ref().is_some_and(|a| a.point == g.seen) {
            let Some(a) = g.armed.take() else { return Err(crashed_error()) };
            // The lock stays held while the images are written: operations
            // of other threads wait, then fail, as after a real crash.
            let built = (|| -> io::Result<Crashed> {
                rec.crash_image(&a.kill_image, Crash::ProcessKill)?;
                rec.crash_image(&a.power_image, Crash::SyncedOnly)?;
                let kill_durable = rec.continued(&a.kill_image)?;
                Ok(Crashed {
                    point: a.point,
                    op: g.last_op.clone(),
                    kill_image: a.kill_image.clone(),
                    power_image: a.power_image.clone(),
                    kill_durable,
                })
            })();
            match built {
                Ok(c) => g.crashed = Some(c),
                Err(e) => g.image_error = Some(format!("building the crash images at {}: {e}", g.last_op)),
            }
            return Err(crashed_error());
        }
        Ok(Some(rec))
    }

    fn failed_after_crash(&self, path: &Path) -> io::Result<()> {
        let g = self.inner.lock();
        let crashed = g.crashed.is_some() || g.image_error.is_some();
        if crashed && g.watched.as_ref().is_some_and(|r| path.starts_with(r.base())) {
            return Err(crashed_error());
        }
        Ok(())
    }
}

fn crashed_error() -> io::Error {
    io::Error::other("simulated crash: the process is gone")
}

impl StorageHook for CrashPoints {
    fn before_sync(&self, range: &SyncedRange<'_>) -> io::Result<()> {
        let what = || format!("sync {}+{} of", range.offset, range.content.len());
        match self.step(range.path, what)? {
            Some(rec) => rec.before_sync(range),
            None => Ok(()),
        }
    }

    fn before_dir_sync(&self, dir: &Path) -> io::Result<()> {
        match self.step(dir, || "sync directory".to_owned())? {
            Some(rec) => rec.before_dir_sync(dir),
            None => Ok(()),
        }
    }

    fn before_fs_sync(&self, path: &Path) -> io::Result<()> {
        match self.step(path, || "syncfs".to_owned())? {
            Some(rec) => rec.before_fs_sync(path),
            None => Ok(()),
        }
    }

    fn before_allocate(&self, path: &Path, _offset: u64, _len: u64) -> io::Result<()> {
        self.failed_after_crash(path)
    }

    fn before_change(&self, change: &Change<'_>) -> io::Result<()> {
        let what = || match *change {
            Change::Create(_) => "create".to_owned(),
            Change::CreateDir(_) => "create directory".to_owned(),
            Change::Rename { to, .. } => format!("rename to {} from", to.display()),
            Change::Exchange { b, .. } => format!("exchange with {}", b.display()),
            Change::Remove(_) => "remove".to_owned(),
            Change::RemoveDir(_) => "remove directory".to_owned(),
            Change::PunchHole { offset, len, .. } => format!("punch hole {offset}+{len} in"),
            Change::Truncate { len, .. } => format!("truncate to {len}"),
        };
        self.step(change.path(), what).map(|_| ())
    }

    fn before_timed_housekeeping(&self, base: &Path) -> io::Result<()> {
        let g = self.inner.lock();
        if g.watched.as_ref().is_some_and(|r| base.starts_with(r.base()) || r.base().starts_with(base)) {
            return Err(io::Error::other("housekeeping is run by the test"));
        }
        Ok(())
    }
}
