//! The one place that touches raw pointers: shared file mappings and the
//! atomics that live in them, plus the `fork()` guard.
//!
//! A [`Mapping`] maps a file `MAP_SHARED` with a length (the *reserve*) that may
//! exceed the file's current size: the writer grows the file in place with
//! `fallocate` and never remaps, so pointers into the mapping stay valid and a
//! segment costs one entry of `vm.max_map_count` whatever its size.
//!
//! Protocol that keeps the accessors below sound (every caller follows it):
//! 1. Bytes are only touched below the file's allocated size. The writer
//!    tracks that size itself; readers only touch frames they have seen
//!    committed, and committed frames lie inside allocated space. (Touching
//!    beyond it would raise `SIGBUS`; no code path does.)
//! 2. Exactly one thread (the one holding the topic lock) writes a frame's
//!    bytes, and only bytes no reader has been told about: a frame's body is
//!    written before its commit word is published with a `SeqCst` store.
//! 3. Once its commit word is published, a frame's bytes never change, so
//!    readers may hold `&[u8]` into them (the basis of zero-copy batches).
//! 4. Words shared between threads or processes (commit words, watermark
//!    fields, wake flags) are only accessed through atomics.
//! 5. A file is never shortened while mapped; space is reclaimed only by
//!    deleting whole files (an unlinked file stays mapped and readable).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64};

use memmap2::{Advice, MmapOptions, MmapRaw};

/// A shared mapping of a file (see the module docs for the rules of use).
pub(crate) struct Mapping {
    raw: MmapRaw,
    writable: bool,
    /// Path the file had when mapped (for errors and fault-injection hooks).
    path: PathBuf,
    /// The file's identity, when hooks are compiled in.
    id: super::hook::FileId,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping").field("len", &self.raw.len()).field("writable", &self.writable).finish()
    }
}

impl Mapping {
    /// Maps `reserve` bytes of `file` (found at `path`), read-write (`file`
    /// opened read-write) or read-only.
    pub(crate) fn map(file: &File, reserve: u64, writable: bool, path: &Path) -> io::Result<Mapping> {
        let len = usize::try_from(reserve).map_err(|_| io::Error::other("mapping larger than the address space"))?;
        let mut opts = MmapOptions::new();
        opts.len(len);
        let raw = if writable { opts.map_raw(file)? } else { opts.map_raw_read_only(file)? };
        let id = if super::hook::enabled() { super::hook::file_id(file)? } else { (0, 0, 0) };
        Ok(Mapping { raw, writable, path: path.to_path_buf(), id })
    }

    /// Length of the mapping (the reserve, not the file size).
    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether stores through this mapping are allowed.
    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    #[inline(always)]
    fn check(&self, off: usize, len: usize, align: usize) {
        let ok = off.checked_add(len).is_some_and(|e| e <= self.raw.len()) && off & (align - 1) == 0;
        if !ok {
            self.out_of_bounds(off, len, align);
        }
    }

    #[cold]
    #[inline(never)]
    fn out_of_bounds(&self, off: usize, len: usize, align: usize) -> ! {
        panic!("logstream internal error: mapping access {off}+{len} (align {align}) outside 0..{}", self.raw.len())
    }

    /// The 8-byte word at `off` (8-aligned) as an atomic.
    #[inline]
    pub(crate) fn atomic_u64(&self, off: usize) -> &AtomicU64 {
        self.check(off, 8, 8);
        // SAFETY: in bounds and 8-aligned (checked above; the mapping itself is
        // page-aligned). The memory is shared file memory that lives as long as
        // `self`; all shared words are accessed only atomically (rule 4), and
        // AtomicU64 has the same layout as u64.
        unsafe { &*self.raw.as_ptr().add(off).cast::<AtomicU64>() }
    }

    /// The 4-byte word at `off` (4-aligned) as an atomic.
    #[inline]
    pub(crate) fn atomic_u32(&self, off: usize) -> &AtomicU32 {
        self.check(off, 4, 4);
        // SAFETY: as for `atomic_u64`, with 4-byte alignment.
        unsafe { &*self.raw.as_ptr().add(off).cast::<AtomicU32>() }
    }

    /// Bytes `off..off+len`, which must be stable: the body of a committed
    /// frame (rule 3) or bytes only this thread writes.
    #[inline]
    pub(crate) fn bytes(&self, off: usize, len: usize) -> &[u8] {
        self.check(off, len, 1);
        // SAFETY: in bounds (checked); by rules 1 and 3 the bytes are allocated
        // and not modified while the returned borrow of `self` lives.
        unsafe { std::slice::from_raw_parts(self.raw.as_ptr().add(off), len) }
    }

    /// Copies `data` to `off`. Only the thread that owns that region may call
    /// this, before the region is published (rule 2).
    #[inline]
    pub(crate) fn write(&self, off: usize, data: &[u8]) {
        assert!(self.writable, "write through a read-only mapping");
        self.check(off, data.len(), 1);
        // SAFETY: in bounds (checked), writable mapping, and by rule 2 no one
        // else reads or writes these bytes until they are published; `data`
        // cannot overlap the destination (it is never borrowed from an
        // unpublished region of this mapping).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.raw.as_mut_ptr().add(off), data.len()) }
    }

    /// Stores a frame body (`head`, then `payload`) at `off` in one bounds
    /// check, under the rule of [`Mapping::write`].
    #[inline]
    pub(crate) fn write_body(&self, off: usize, head: &[u8; 16], payload: &[u8]) {
        assert!(self.writable, "write through a read-only mapping");
        self.check(off, 16 + payload.len(), 1);
        // SAFETY: in bounds (checked), writable mapping, and by rule 2 no one
        // else touches these bytes until the frame is published; the sources
        // are caller memory outside unpublished regions of this mapping.
        unsafe {
            let dst = self.raw.as_mut_ptr().add(off);
            std::ptr::copy_nonoverlapping(head.as_ptr(), dst, 16);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), dst.add(16), payload.len());
        }
    }

    /// Hints the CPU to fetch the cache lines of `off..off+len` for writing,
    /// so that the next record stored there does not wait for them. With many
    /// topics written in turn, each topic's next line is otherwise a miss the
    /// write path stalls on (at the lock's barrier). Out-of-range hints are
    /// dropped; a hint never faults.
    #[inline(always)]
    pub(crate) fn prefetch_write(&self, off: usize, len: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
            let end = (off + len).min(self.raw.len());
            let mut at = off & !63;
            while at < end {
                // SAFETY: a prefetch is a hint: it never faults, reads or
                // writes memory visible to the program, whatever the address.
                unsafe { _mm_prefetch::<_MM_HINT_ET0>(self.raw.as_ptr().wrapping_add(at).cast()) };
                at += 64;
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (off, len);
        }
    }

    /// Zeroes `off..off+len` under the same rule as [`Mapping::write`].
    pub(crate) fn zero(&self, off: usize, len: usize) {
        assert!(self.writable, "write through a read-only mapping");
        self.check(off, len, 1);
        // SAFETY: as for `write`.
        unsafe { std::ptr::write_bytes(self.raw.as_mut_ptr().add(off), 0, len) }
    }

    /// Maps `off..off+len` readable ahead of a reader (`MADV_POPULATE_READ`):
    /// one call instead of a page fault per page. The range must lie inside
    /// the file. Advice only: failures change nothing but speed.
    pub(crate) fn populate_read(&self, off: usize, len: usize) {
        let page = page_size();
        let start = off / page * page;
        let end = (off + len).min(self.raw.len());
        if end > start {
            #[cfg(target_os = "linux")]
            let _ = self.raw.advise_range(Advice::PopulateRead, start, end - start);
            #[cfg(not(target_os = "linux"))]
            let _ = self.raw.advise_range(Advice::WillNeed, start, end - start);
        }
    }

    /// `msync(MS_SYNC)` of the pages holding `off..off+len`: on Linux this is
    /// `fdatasync` of that range of the file, whichever process dirtied the
    /// pages. Mapped files always have whole pages, so the range is rounded
    /// out to pages (which is what the kernel writes anyway).
    ///
    /// Only a writable mapping can be synced this way: Linux maps a file
    /// opened read-only `MAP_SHARED` without `VM_SHARED`, and `msync` skips
    /// such mappings while reporting success (measured on ext4: 256 MB
    /// dirty, `msync` returned at once and wrote nothing). A read-only
    /// mapping is refused with an error, never "synced"; its owner syncs
    /// through a descriptor of the file instead (`fdatasync` works on one
    /// opened read-only).
    pub(crate) fn sync(&self, off: usize, len: usize) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::other(
                "msync of a read-only mapping writes nothing back; sync through a file descriptor instead",
            ));
        }
        let page = page_size();
        let start = off / page * page;
        let end = (off + len).div_ceil(page).saturating_mul(page).min(self.raw.len());
        if end <= start {
            return Ok(());
        }
        super::hook::each(&self.path, |h| {
            h.before_sync(&super::hook::SyncedRange {
                path: &self.path,
                id: self.id,
                offset: start as u64,
                content: self.bytes(start, end - start),
            })
        })?;
        self.raw.flush_range(start, end - start)
    }

    /// Pre-faults `off..off+len` writable (`MADV_POPULATE_WRITE`), so the writer's
    /// thread takes no page faults there. The range must be allocated in the file.
    pub(crate) fn populate_write(&self, off: usize, len: usize) -> io::Result<()> {
        self.check(off, len, 1);
        if len == 0 {
            return Ok(());
        }
        let page = page_size();
        let start = off / page * page;
        let end = off + len;
        #[cfg(target_os = "linux")]
        {
            self.raw.advise_range(Advice::PopulateWrite, start, end - start)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = Advice::Normal;
            let mut p = start;
            while p < end {
                // Touching a byte through an atomic faults the page in.
                let w = self.atomic_u64(p);
                w.fetch_add(0, std::sync::atomic::Ordering::Relaxed);
                p += page;
            }
            Ok(())
        }
    }
}

impl Mapping {
    /// Drops this mapping's page-table entries for `off..off+len` (whole
    /// pages inside the range), keeping the data: it stays in the page cache
    /// and is read back from there on the next access. The writer calls this
    /// on pages it has finished, before they are synced, so that writeback
    /// does not have to write-protect them one by one (each a TLB shootdown
    /// interrupting the writer's core).
    pub(crate) fn release_pages(&self, off: usize, len: usize) -> io::Result<()> {
        let page = page_size();
        let start = off.div_ceil(page) * page;
        let end = ((off + len) / page * page).min(self.raw.len());
        if end <= start {
            return Ok(());
        }
        // SAFETY: this is a MAP_SHARED file mapping, for which MADV_DONTNEED
        // only unmaps pages: dirty state moves to the page cache and later
        // accesses see the file's current contents, so no data is lost or
        // changed. Callers release only pages no thread of this process holds
        // references into through this mapping (finished frames are read
        // through readers' own mappings).
        unsafe { self.raw.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) }
    }
}

/// The system page size.
pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}

static FORKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_fork() {
    FORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Number of `fork()`s this process has seen since the first call (0 in the
/// original process). A Writer records it at open and compares on use, which
/// costs one relaxed load instead of a `getpid` syscall per write.
pub(crate) fn fork_generation() -> u64 {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // SAFETY: `count_fork` is async-signal-safe (one atomic add) as
        // required of fork handlers; registering it has no other effect.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(count_fork)) };
        if rc != 0 {
            log::warn!("pthread_atfork failed ({rc}); use of a Writer after fork() will not be detected");
        }
    });
    FORKS.load(std::sync::atomic::Ordering::Relaxed)
}
