//! Early writeback: asking the kernel to start writing a file range to disk
//! now (`sync_file_range(SYNC_FILE_RANGE_WRITE)`) without waiting for it and
//! without any durability promise (no device cache flush, no metadata).
//! A later sync of the range then finds most pages already written, so a
//! `flush()` after a burst overlaps with the burst instead of following it.
//!
//! Nothing relies on this for correctness: what is durable is still decided
//! only by the syncs in `file.rs` and `map.rs`.

use std::fs::File;
use std::io;

/// Starts writeback of the dirty pages of `off..off+len` of `file` and
/// returns without waiting for the I/O. Elsewhere than on Linux, nothing.
///
/// # Errors
/// The system call's error (e.g. `EBADF`, `EIO` from an earlier write).
pub(crate) fn start(file: &File, off: u64, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(off), Ok(len)) = (libc::off64_t::try_from(off), libc::off64_t::try_from(len)) else {
            return Err(io::Error::other("writeback range beyond the largest file offset"));
        };
        // SAFETY: the descriptor is open for the whole call (`file` is
        // borrowed), and the call takes only integers: it reads and writes
        // no memory of this process.
        let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), off, len, libc::SYNC_FILE_RANGE_WRITE) };
        if rc == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, off, len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn starting_writeback_of_written_pages_succeeds_and_leaves_the_bytes_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let mut f = File::create(&p).unwrap();
        f.write_all(&[7u8; 1 << 16]).unwrap();
        start(&f, 0, 1 << 16).unwrap();
        start(&f, 4096, 0).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), vec![7u8; 1 << 16]);
    }
}
