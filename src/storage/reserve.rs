//! The emergency reserve: `base_dir/logstream.reserve`, a file of
//! [`SIZE`] bytes of allocated blocks kept so that a full disk cannot lock
//! users out of the operations that free space or recover (CockroachDB's
//! "ballast file" answers the same trap).
//!
//! On a full disk, `write()` fails with `Error::NoSpace` and nothing is
//! stored. Freeing space then needs a consumer to confirm (checkpoint
//! appends), a new group to start (its directory, member file, checkpoint
//! files), a writer to open (`logstream.meta` is replaced atomically: a new
//! file) or a topic to be deleted (its tombstone). Each of those, when it
//! meets `ENOSPC`, gives back a slice of the reserve (truncating the file
//! frees its last blocks) and tries once more. The record path never does:
//! producers cannot eat the reserve. The writer refills it at open and in
//! its housekeeping once the file system has room again.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// File name of the reserve in the log directory.
pub(crate) const FILE: &str = "logstream.reserve";
/// Size of a full reserve.
pub(crate) const SIZE: u64 = 4 << 20;
/// Smallest slice given back at a time.
const SLICE: u64 = 256 << 10;
/// Free space (beyond the reserve itself) the file system must have before
/// the reserve is refilled, so refilling never takes what writers wait for.
const REFILL_MARGIN: u64 = SIZE;

fn path(base: &Path) -> PathBuf {
    base.join(FILE)
}

/// Brings the reserve to [`SIZE`] if it is smaller and the file system has
/// room to spare. Best effort: a reserve that cannot be made is logged.
pub(crate) fn refill(base: &Path) {
    let p = path(base);
    let have = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
    if have >= SIZE {
        return;
    }
    let free = match rustix::fs::statvfs(base) {
        Ok(s) => s.f_bavail.saturating_mul(s.f_frsize),
        Err(e) => {
            log::debug!("statvfs {}: {e}", base.display());
            return;
        }
    };
    if free < SIZE - have + REFILL_MARGIN {
        return;
    }
    let r = super::file::open_rw(&p, true).and_then(|f| {
        super::file::allocate(&f, &p, 0, SIZE)?;
        f.sync_all()
    });
    match r {
        Ok(()) => log::debug!("emergency reserve {} is {SIZE} bytes", p.display()),
        Err(e) => log::warn!("cannot refill the emergency reserve {}: {e}", p.display()),
    }
}

/// Gives back at least `needed` bytes of the reserve (at least one slice).
/// True if anything was given back.
pub(crate) fn release(base: &Path, needed: u64) -> bool {
    let p = path(base);
    let Ok(f) = File::options().write(true).open(&p) else { return false };
    let Ok(have) = f.metadata().map(|m| m.len()) else { return false };
    if have == 0 {
        return false;
    }
    let give = needed.max(SLICE).div_ceil(SLICE) * SLICE;
    let keep = have.saturating_sub(give);
    match f.set_len(keep) {
        Ok(()) => {
            log::warn!(
                "the disk holding {} is full: gave back {} bytes of the emergency reserve ({keep} left) to go on",
                base.display(),
                have - keep
            );
            true
        }
        Err(e) => {
            log::warn!("cannot shrink the emergency reserve {}: {e}", p.display());
            false
        }
    }
}

/// Runs `op`; if it fails for lack of space, gives back part of the reserve
/// (at least `needed` bytes) and runs it again, while the reserve lasts.
///
/// # Errors
/// What `op` returned last.
pub(crate) fn with_reserve<T>(base: &Path, needed: u64, mut op: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match op() {
            Err(e) if e.is_no_space() && release(base, needed) => continue,
            // The file system does not say how much it lacked; the caller knows.
            Err(Error::NoSpace { op, path, needed: 0 }) => {
                return Err(Error::NoSpace { op, path, needed: needed.max(1) });
            }
            other => return other,
        }
    }
}
