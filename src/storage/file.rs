//! File-system operations with the policies logstream needs: space
//! reservation that turns disk-full into an error, atomic replacement,
//! directory syncs and advisory locks.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::hook::Change;

/// Opens a file for reading and writing, creating it if `create`.
pub(crate) fn open_rw(path: &Path, create: bool) -> io::Result<File> {
    if create && super::hook::enabled() && !path.exists() {
        super::hook::change(Change::Create(path))?;
    }
    OpenOptions::new().read(true).write(true).create(create).truncate(false).open(path)
}

/// Opens a file read-only.
pub(crate) fn open_ro(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Reserves `off..off+len` on disk and extends the file to cover it, so that
/// later stores through a mapping cannot fail for lack of space (`SIGBUS`).
/// Fails with `ENOSPC` when the disk is full. File systems without
/// `fallocate` fall back to writing zeros, which reserves the blocks too.
pub(crate) fn allocate(file: &File, path: &Path, off: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    super::hook::each(path, |h| h.before_allocate(path, off, len))?;
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), off, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => write_zeros(file, off, len),
        Err(e) => Err(e.into()),
    }
}

fn write_zeros(file: &File, off: u64, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let zeros = vec![0u8; 1 << 16];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], off + done)?;
        done += n as u64;
    }
    Ok(())
}

/// Releases the blocks of `off..off+len` without changing the file size (reads
/// return zeros). Best effort: used only to give back unused preallocation.
/// `path` is the file's name when opened (for hooks and messages).
pub(crate) fn punch_hole(file: &File, path: &Path, off: u64, len: u64) {
    if len == 0 {
        return;
    }
    if let Err(e) = super::hook::change(Change::PunchHole { path, offset: off, len }) {
        log::debug!("punching a hole in {} failed: {e}", path.display());
        return;
    }
    let flags = rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
    if let Err(e) = rustix::fs::fallocate(file, flags, off, len) {
        log::debug!("punching a hole to release preallocated space failed: {e}");
    }
}

/// `fsync` of a directory, making the creation, rename or removal of its
/// entries durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    super::hook::each(dir, |h| h.before_dir_sync(dir))?;
    File::open(dir)?.sync_all()
}

/// `syncfs`: flushes every dirty page of the file system holding `file`
/// (found at `path`).
pub(crate) fn sync_fs(file: &File, path: &Path) -> io::Result<()> {
    super::hook::each(path, |h| h.before_fs_sync(path))?;
    rustix::fs::syncfs(file).map_err(Into::into)
}

/// `fdatasync` of a whole file opened at `path`.
pub(crate) fn sync_file(file: &File, path: &Path) -> io::Result<()> {
    if super::hook::enabled() {
        use std::os::unix::fs::FileExt;
        let m = file.metadata()?;
        let mut content = vec![0u8; m.len() as usize];
        // Read through a second handle: `file` may be append-only.
        let n = File::open(path).and_then(|f| f.read_at(&mut content, 0)).unwrap_or(0);
        content.truncate(n);
        let range = super::hook::SyncedRange { path, id: super::hook::file_id(file)?, offset: 0, content: &content };
        super::hook::each(path, |h| h.before_sync(&range))?;
    }
    file.sync_data()
}

/// Takes an exclusive advisory lock without waiting; `Ok(false)` if another
/// open file description (in any process) holds it.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Releases a lock taken with [`try_lock`].
pub(crate) fn unlock(file: &File) -> io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::Unlock).map_err(Into::into)
}

/// Replaces `path` with `bytes` atomically: a crash leaves the old or the new
/// contents, never a mix. Temporary file, fsync, rename, directory fsync.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other("path has no parent directory"))?;
    let name = path.file_name().ok_or_else(|| io::Error::other("path has no file name"))?;
    // Unique per call, not only per process: two threads writing the same
    // file at once (two readers joining a new group) would otherwise share
    // the temporary file, and one's rename would find it gone.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".ls-tmp-{}-{n}-{}", std::process::id(), name.to_string_lossy()));
    let result = (|| {
        super::hook::change(Change::Create(&tmp))?;
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(bytes)?;
        sync_file(&f, &tmp)?;
        rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = remove_file(&tmp);
    }
    result
}

/// `rename(2)`, after the hooks (see [`Change`]).
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    super::hook::change(Change::Rename { from, to })?;
    std::fs::rename(from, to)
}

/// `unlink(2)`, after the hooks.
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    super::hook::change(Change::Remove(path))?;
    std::fs::remove_file(path)
}

/// Removes a directory and everything in it, after the hooks.
pub(crate) fn remove_dir_all(path: &Path) -> io::Result<()> {
    super::hook::change(Change::RemoveDir(path))?;
    std::fs::remove_dir_all(path)
}

/// `mkdir(2)`, after the hooks.
pub(crate) fn create_dir(path: &Path) -> io::Result<()> {
    super::hook::change(Change::CreateDir(path))?;
    std::fs::create_dir(path)
}

/// Creates (or truncates) a file for writing, after the hooks.
pub(crate) fn create_file(path: &Path) -> io::Result<File> {
    super::hook::change(Change::Create(path))?;
    OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

/// Opens a file for appending, creating it if missing (after the hooks then).
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    if super::hook::enabled() && !path.exists() {
        super::hook::change(Change::Create(path))?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// Swaps the files named `new` and `old` atomically (`renameat2` with
/// `RENAME_EXCHANGE`): afterwards `old` names the new contents and `new` the
/// old ones. Fails with `NotFound` when `old` is gone (deleted meanwhile),
/// so a deleted file is never brought back. Where the file system cannot
/// exchange, falls back to a rename after checking that `old` exists.
pub(crate) fn exchange(new: &Path, old: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    super::hook::change(Change::Exchange { a: new, b: old })?;
    match renameat_with(CWD, new, CWD, old, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::OPNOTSUPP) => {
            std::fs::metadata(old)?;
            std::fs::rename(new, old)
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates `dir` and any missing parents, syncing each parent whose entries changed.
pub(crate) fn create_dir_durable(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durable(parent)?;
    }
    match create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Nanoseconds since the Unix epoch from the coarse real-time clock (a few ns
/// to read; resolution of one scheduler tick).
#[inline]
pub(crate) fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    (t.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(t.tv_nsec as u64)
}

/// A random 64-bit value from the OS.
pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()).is_ok_and(|n| n == 8) {
        return u64::from_le_bytes(b);
    }
    // Fallback: time and pid mixed (ids only need to differ between directories).
    let x = now_ns() ^ (u64::from(std::process::id()) << 32);
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (x >> 29)
}
