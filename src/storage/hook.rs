//! Fault injection and crash simulation for tests (feature `fault-injection`).
//!
//! Every durability point of the crate (range syncs of mappings, file syncs,
//! directory syncs, `syncfs`), every space reservation and every change to
//! the writer's directory entries or file extents (creation, rename,
//! exchange, removal, hole punching, truncation: [`Change`]) calls the hooks
//! registered for a path prefix before doing the real work. A hook can fail
//! the operation (an injected `EIO` or `ENOSPC`), delay it (a stalled disk) or
//! record what became durable (to build the disk image a power loss would
//! leave). Without the feature these calls compile to nothing; with it and no
//! hook registered they cost one read lock.

use std::io;
use std::path::Path;

/// Identity and bytes of a file range about to be synced.
#[derive(Debug)]
#[cfg_attr(
    not(feature = "fault-injection"),
    expect(dead_code, reason = "read only by hooks, which exist with the fault-injection feature")
)]
pub struct SyncedRange<'a> {
    /// A path the file had when it was opened (it may have been renamed since).
    pub path: &'a Path,
    /// The file's identity across renames: device, inode, birth time (ns),
    /// so that a reused inode number is a different file.
    pub id: FileId,
    /// Offset of `content` in the file.
    pub offset: u64,
    /// The bytes of the range as they are in the page cache now.
    pub content: &'a [u8],
}

/// Device, inode and birth time (ns; 0 where the file system has none).
pub type FileId = (u64, u64, u64);

/// The [`FileId`] of an open file.
pub fn file_id(file: &impl std::os::fd::AsFd) -> io::Result<FileId> {
    use rustix::fs::{AtFlags, StatxFlags, statx};
    let st = statx(file, "", AtFlags::EMPTY_PATH, StatxFlags::INO | StatxFlags::BTIME)?;
    let btime = if st.stx_mask & StatxFlags::BTIME.bits() != 0 {
        (st.stx_btime.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(u64::from(st.stx_btime.tv_nsec))
    } else {
        0
    };
    let dev = (u64::from(st.stx_dev_major) << 32) | u64::from(st.stx_dev_minor);
    Ok((dev, st.stx_ino, btime))
}

/// A change to a directory entry or to a file's extent, about to be made.
///
/// Together with the syncs these are the file-system operations a crash can
/// fall between; a crash-point explorer counts them (see
/// `logstream::testing::CrashPoints`).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(
    not(feature = "fault-injection"),
    expect(dead_code, reason = "read only by hooks, which exist with the fault-injection feature")
)]
pub enum Change<'a> {
    /// A new file is created at this path.
    Create(&'a Path),
    /// A directory is created at this path.
    CreateDir(&'a Path),
    /// `from` is renamed to `to` (replacing what `to` named).
    Rename {
        /// The old name.
        from: &'a Path,
        /// The new name.
        to: &'a Path,
    },
    /// The files named `a` and `b` swap names atomically.
    Exchange {
        /// One name.
        a: &'a Path,
        /// The other name.
        b: &'a Path,
    },
    /// The file at this path is unlinked.
    Remove(&'a Path),
    /// The directory at this path is removed with everything in it.
    RemoveDir(&'a Path),
    /// `offset..offset+len` of the file at `path` is deallocated (reads zeros).
    PunchHole {
        /// A path the file had when opened.
        path: &'a Path,
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
    },
    /// The file at `path` is cut (or extended) to `len` bytes.
    Truncate {
        /// The file's path.
        path: &'a Path,
        /// Its new length.
        len: u64,
    },
}

impl Change<'_> {
    /// The path the change is registered under (hooks match it by prefix).
    pub fn path(&self) -> &Path {
        match *self {
            Change::Create(p) | Change::CreateDir(p) | Change::Remove(p) | Change::RemoveDir(p) => p,
            Change::Rename { from, .. } => from,
            Change::Exchange { a, .. } => a,
            Change::PunchHole { path, .. } | Change::Truncate { path, .. } => path,
        }
    }
}

/// Called before the operations named; an `Err` makes the operation fail with it.
pub trait StorageHook: Send + Sync {
    /// Before a range of a file is made durable.
    fn before_sync(&self, range: &SyncedRange<'_>) -> io::Result<()> {
        let _ = range;
        Ok(())
    }
    /// Before a directory's entries are made durable.
    fn before_dir_sync(&self, dir: &Path) -> io::Result<()> {
        let _ = dir;
        Ok(())
    }
    /// Before `syncfs` on the file system holding `path`.
    fn before_fs_sync(&self, path: &Path) -> io::Result<()> {
        let _ = path;
        Ok(())
    }
    /// Before space is reserved in a file.
    fn before_allocate(&self, path: &Path, offset: u64, len: u64) -> io::Result<()> {
        let _ = (path, offset, len);
        Ok(())
    }
    /// Before a directory entry or a file's extent changes.
    fn before_change(&self, change: &Change<'_>) -> io::Result<()> {
        let _ = change;
        Ok(())
    }
    /// Before the flush thread's timed housekeeping (age rolls, and the
    /// wake-up of the retention thread's pass: disk measurement, retention)
    /// in the log directory `base`; an `Err` skips that round. A test that runs housekeeping itself at chosen points
    /// (`Writer::run_housekeeping`) keeps the thread's own rounds, which
    /// come at times no test controls, out of its sequence of operations.
    fn before_timed_housekeeping(&self, base: &Path) -> io::Result<()> {
        let _ = base;
        Ok(())
    }
}

#[cfg(feature = "fault-injection")]
mod registry {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use parking_lot::RwLock;

    use super::StorageHook;

    type Hooks = Vec<(PathBuf, Arc<dyn StorageHook>)>;
    static HOOKS: RwLock<Hooks> = RwLock::new(Vec::new());

    pub(crate) fn add(prefix: &Path, hook: Arc<dyn StorageHook>) {
        HOOKS.write().push((prefix.to_path_buf(), hook));
    }

    pub(crate) fn remove(prefix: &Path) {
        HOOKS.write().retain(|(p, _)| p != prefix);
    }

    pub(crate) fn each(path: &Path, mut f: impl FnMut(&dyn StorageHook) -> std::io::Result<()>) -> std::io::Result<()> {
        // The hooks run with the registry unlocked: a hook that blocks (a
        // stalled disk, a test holding a thread at a chosen operation) must
        // not stall the registration of hooks elsewhere, nor, through a
        // writer waiting for the lock, every other hooked operation.
        let matching: Vec<Arc<dyn StorageHook>> = {
            let hooks = HOOKS.read();
            if hooks.is_empty() {
                return Ok(());
            }
            hooks.iter().filter(|(prefix, _)| path.starts_with(prefix)).map(|(_, h)| h.clone()).collect()
        };
        for h in matching {
            f(h.as_ref())?;
        }
        Ok(())
    }
}

/// Registers `hook` for every file under `prefix` (until [`remove_hook`]).
#[cfg(feature = "fault-injection")]
pub fn add_hook(prefix: &Path, hook: std::sync::Arc<dyn StorageHook>) {
    registry::add(prefix, hook)
}

/// Removes the hooks registered for exactly `prefix`.
#[cfg(feature = "fault-injection")]
pub fn remove_hook(prefix: &Path) {
    registry::remove(prefix)
}

#[inline]
pub(crate) fn each(path: &Path, f: impl FnMut(&dyn StorageHook) -> io::Result<()>) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    {
        registry::each(path, f)
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = (path, f);
        Ok(())
    }
}

/// True when a hook is registered for `path` (always false without the feature).
#[inline]
pub(crate) fn watched(path: &Path) -> bool {
    let mut any = false;
    let _ = each(path, |_| {
        any = true;
        Ok(())
    });
    any
}

/// Runs the hooks for `change` (nothing without the feature).
#[inline]
pub(crate) fn change(change: Change<'_>) -> io::Result<()> {
    each(change.path(), |h| h.before_change(&change))
}

/// True when the crate was built with hooks (the caller may skip gathering
/// what a hook would be shown).
#[inline]
pub(crate) const fn enabled() -> bool {
    cfg!(feature = "fault-injection")
}
