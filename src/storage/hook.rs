//! Fault injection and crash simulation for tests (feature `fault-injection`).
//!
//! Every durability point of the crate (range syncs of mappings, file syncs,
//! directory syncs, `syncfs`) and every space reservation calls the hooks
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
        let hooks = HOOKS.read();
        if hooks.is_empty() {
            return Ok(());
        }
        for (prefix, h) in hooks.iter() {
            if path.starts_with(prefix) {
                f(h.as_ref())?;
            }
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

/// True when the crate was built with hooks (the caller may skip gathering
/// what a hook would be shown).
#[inline]
pub(crate) const fn enabled() -> bool {
    cfg!(feature = "fault-injection")
}
