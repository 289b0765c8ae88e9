//! Byte-range locks on one file (`fcntl` open-file-description locks,
//! `F_OFD_SETLK`): thousands of independent exclusive locks through a single
//! descriptor. Like `flock`, they belong to the open file description, so
//! two opens in one process conflict as two processes do, and the kernel
//! drops them when the holder exits or dies (kill -9 included).
//!
//! A consumer group keeps one such file: the byte at a topic's slot is
//! locked by the member that owns the topic.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// One open description of a lock file.
#[derive(Debug)]
pub(crate) struct RangeLocks {
    file: File,
}

impl RangeLocks {
    /// Opens (creating) the lock file at `path`.
    pub(crate) fn open(path: &Path) -> io::Result<RangeLocks> {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        Ok(RangeLocks { file })
    }

    /// Takes the lock on byte `slot` without waiting; `Ok(false)` if another
    /// open description holds it.
    pub(crate) fn try_lock(&self, slot: u64) -> io::Result<bool> {
        match self.fcntl(libc::F_OFD_SETLK, libc::F_WRLCK, slot) {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Releases the lock on byte `slot` (held or not).
    pub(crate) fn unlock(&self, slot: u64) -> io::Result<()> {
        self.fcntl(libc::F_OFD_SETLK, libc::F_UNLCK, slot).map(|_| ())
    }

    /// Whether another open description holds byte `slot`.
    pub(crate) fn held_by_other(&self, slot: u64) -> io::Result<bool> {
        self.fcntl(libc::F_OFD_GETLK, libc::F_WRLCK, slot).map(|t| t != libc::F_UNLCK)
    }

    /// Runs one `fcntl` lock command on byte `slot`; returns the lock type
    /// the kernel left in the request (for `F_OFD_GETLK`).
    fn fcntl(&self, cmd: libc::c_int, kind: libc::c_int, slot: u64) -> io::Result<libc::c_int> {
        let start = libc::off_t::try_from(slot).map_err(|_| io::Error::other("lock slot out of range"))?;
        // SAFETY: `flock` is a plain C struct for which all-zero bytes are a
        // valid value; the fields the commands read are set below.
        let mut req: libc::flock = unsafe { std::mem::zeroed() };
        req.l_type = kind as libc::c_short;
        req.l_whence = libc::SEEK_SET as libc::c_short;
        req.l_start = start;
        req.l_len = 1;
        req.l_pid = 0; // required by the OFD commands
        // SAFETY: the descriptor is open for as long as `self.file` lives,
        // and `req` is a valid, exclusively borrowed `flock` for the call.
        let rc = unsafe { libc::fcntl(self.file.as_raw_fd(), cmd, &mut req as *mut libc::flock) };
        if rc == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(libc::c_int::from(req.l_type))
    }
}

/// The slot of `name` in a lock file: a 62-bit hash (FNV-1a), so that any
/// number of names fit without a registry. Two names sharing a slot would
/// only share an owner, never be owned twice.
pub(crate) fn slot_of(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h >> 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_locked_through_one_open_is_refused_through_another_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("owners.lock");
        let a = RangeLocks::open(&p).unwrap();
        let b = RangeLocks::open(&p).unwrap();
        let s = slot_of("orders");
        assert!(a.try_lock(s).unwrap());
        assert!(a.try_lock(s).unwrap(), "re-locking one's own slot succeeds");
        assert!(!b.try_lock(s).unwrap());
        assert!(b.held_by_other(s).unwrap());
        assert!(!a.held_by_other(s).unwrap());
        assert!(b.try_lock(slot_of("clicks")).unwrap(), "other slots are independent");
        a.unlock(s).unwrap();
        assert!(!b.held_by_other(s).unwrap());
        assert!(b.try_lock(s).unwrap());
        drop(b);
        assert!(a.try_lock(s).unwrap(), "closing the description releases its locks");
    }
}
