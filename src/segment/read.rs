//! A segment as a reader holds it: the data file mapped (read-write when
//! allowed, only to set the `waiting` word; read-only otherwise), and the
//! index mapped on demand for seeks.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Result};
use crate::format::block::{BlockProblem, COMPRESSED};
use crate::format::naming::index_file_name;
use crate::format::segment::{DataHeader, IndexSlot, WAITING_AT, Watermark};
pub(crate) use crate::segment::compressed::BlockRef;
use crate::segment::compressed::list_blocks;
use crate::segment::scan::{self, Step};
use crate::segment::{FileId, read_header_of, read_watermark};
use crate::storage::Mapping;
use crate::storage::file::{open_ro, open_rw, sync_file};

/// A mapped data file, shared by the cursor and the batches cut from it.
pub(crate) struct ReadSegment {
    pub header: DataHeader,
    pub path: PathBuf,
    pub map: Mapping,
    /// Device and inode of the file mapped: a read-only mapping is synced
    /// through a descriptor reopened by path, which must still be this file.
    id: FileId,
    file_len: AtomicU64,
    entries_synced: std::sync::atomic::AtomicBool,
    /// Bytes mapped ahead of the reader so far.
    mapped_ahead: AtomicU64,
    /// The header failed its check and was inferred from the file name.
    pub header_damaged: bool,
    /// The blocks of a compressed segment (`None` for a plain one).
    pub blocks: Option<Blocks>,
}

/// The blocks of a compressed segment, and the last one decompressed.
pub(crate) struct Blocks {
    pub list: Vec<BlockRef>,
    cache: parking_lot::Mutex<Option<(usize, Arc<Vec<u8>>)>>,
}

impl std::fmt::Debug for ReadSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadSegment").field("path", &self.path).finish()
    }
}

impl ReadSegment {
    /// Maps the data file at `path` (read-write when allowed).
    pub(crate) fn open(path: &Path) -> Result<ReadSegment> {
        Self::open_as(path, true)
    }

    /// Maps the data file at `path`, read-write if `try_writable` and the
    /// process may, read-only otherwise.
    fn open_as(path: &Path, try_writable: bool) -> Result<ReadSegment> {
        // One open for the header and the mapping: a compressed segment may
        // replace the file under this name at any time.
        let rw = if try_writable { open_rw(path, false).ok() } else { None };
        let (file, writable) = match rw {
            Some(f) => (f, true),
            None => (open_ro(path).ctx("open data file", path)?, false),
        };
        let id = FileId::of(&file).ctx("stat data file", path)?;
        let (header, len, header_damaged) = match read_header_of(&file, path) {
            Ok((h, _, len)) => (h, len, false),
            Err(e @ crate::error::Error::Corrupt { .. }) => {
                // A damaged header does not make the frames unreadable.
                let base = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(crate::format::naming::parse_segment_file_name)
                    .and_then(|f| match f {
                        crate::format::naming::SegmentFile::Data(b) => Some(b),
                        crate::format::naming::SegmentFile::Index(_) => None,
                    });
                let index = path.with_file_name(index_file_name(base.unwrap_or(0)));
                match base.map(|b| crate::segment::guess_header(path, &index, b)).transpose()?.flatten() {
                    Some(h) => (h, h.reserve, true),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(len);
        let reserve = header.reserve.max(len);
        let map = Mapping::map(&file, reserve, writable, path).ctx("map data file", path)?;
        let blocks = (header.flags & COMPRESSED != 0)
            .then(|| Blocks { list: list_blocks(&map, len), cache: parking_lot::Mutex::new(None) });
        Ok(ReadSegment {
            header,
            path: path.to_path_buf(),
            map,
            id,
            file_len: AtomicU64::new(len),
            entries_synced: std::sync::atomic::AtomicBool::new(false),
            mapped_ahead: AtomicU64::new(0),
            header_damaged,
            blocks,
        })
    }

    /// The decompressed frames of block `i` of a compressed segment.
    pub(crate) fn block(&self, i: usize) -> std::result::Result<Arc<Vec<u8>>, BlockProblem> {
        let Some(blocks) = &self.blocks else { return Err(BlockProblem::Decompress) };
        let b = blocks.list[i];
        let mut cache = blocks.cache.lock();
        if let Some((j, buf)) = cache.as_ref()
            && *j == i
        {
            return Ok(buf.clone());
        }
        let raw = Arc::new(b.unpack(&self.map, self.file_len())?);
        *cache = Some((i, raw.clone()));
        Ok(raw)
    }

    /// The block holding raw offset `off`.
    pub(crate) fn block_at(&self, off: u64) -> Option<usize> {
        let list = &self.blocks.as_ref()?.list;
        let i = list.partition_point(|b| b.header.raw_offset <= off).checked_sub(1)?;
        (off < list[i].raw_end()).then_some(i)
    }

    /// The block holding sequence number `seq` (or the last one before it).
    pub(crate) fn block_for_seq(&self, seq: u64) -> Option<usize> {
        let list = &self.blocks.as_ref()?.list;
        list.partition_point(|b| b.header.first_seq <= seq).checked_sub(1)
    }

    pub(crate) fn base_seq(&self) -> u64 {
        self.header.base_seq
    }

    /// The data file's size as last seen.
    pub(crate) fn file_len(&self) -> u64 {
        self.file_len.load(Ordering::Acquire)
    }

    /// Re-reads the file size (it grows while the writer appends).
    pub(crate) fn refresh_len(&self) -> u64 {
        if let Ok(m) = std::fs::metadata(&self.path) {
            self.file_len.fetch_max(m.len(), Ordering::AcqRel);
        }
        self.file_len()
    }

    /// Maps the pages a reader at `off` is about to read (a few MiB ahead, in
    /// one call), so catching up takes no page fault per page.
    #[inline]
    pub(crate) fn read_ahead(&self, off: u64) {
        const AHEAD: u64 = 4 << 20;
        let done = self.mapped_ahead.load(Ordering::Relaxed);
        if off + AHEAD / 2 <= done {
            return;
        }
        let end = (off + AHEAD).min(self.file_len());
        let start = done.max(off);
        if end > start {
            self.map.populate_read(start as usize, (end - start) as usize);
            self.mapped_ahead.store(end, Ordering::Relaxed);
        }
    }

    /// The frame at `off`; a frame that seems to run past the known file size
    /// is re-checked against a fresh size first.
    pub(crate) fn step(&self, off: u64) -> Step<'_> {
        match scan::step(&self.map, off, self.file_len()) {
            Step::Bad(crate::format::frame::Bad::Truncated) => scan::step(&self.map, off, self.refresh_len()),
            s => s,
        }
    }

    /// The watermark, if readable.
    pub(crate) fn watermark(&self) -> Option<Watermark> {
        read_watermark(&self.map)
    }

    /// Sets this reader's bit in the segment's `waiting` word. False when the
    /// mapping is read-only (the reader then relies on polling).
    pub(crate) fn arm(&self, slot: usize) -> bool {
        if !self.map.is_writable() {
            return false;
        }
        self.map.atomic_u64(WAITING_AT).fetch_or(1 << slot, Ordering::SeqCst);
        true
    }

    /// Makes `0..end` of the data file durable (used before a checkpoint may
    /// count records the writer has not synced yet).
    ///
    /// A writable mapping is synced with `msync`. A read-only one cannot be
    /// (Linux skips `msync` for it and reports success), so the file is
    /// reopened read-only by path, checked to be the file mapped (a path
    /// names a file, not a segment) and synced with `fdatasync`, which
    /// writes back every dirty page of the file whoever dirtied it. When
    /// the path no longer names the mapped file, the records are durable
    /// only if the watermark says so (a segment is compressed, and so
    /// replaced, only once its seal is durable); otherwise this fails and
    /// the checkpoint is not persisted.
    pub(crate) fn sync(&self, end: u64) -> Result<()> {
        if self.map.is_writable() {
            return self.map.sync(0, end as usize).ctx("sync data file before checkpointing", &self.path);
        }
        let durable = || self.watermark().is_some_and(|w| w.durable_end >= end || w.is_sealed());
        let file = match open_ro(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && durable() => return Ok(()),
            Err(e) => {
                return Err(crate::error::Error::io("reopen data file to sync it before checkpointing", &self.path, e));
            }
        };
        if FileId::of(&file).ctx("stat data file", &self.path)? != self.id {
            if durable() {
                return Ok(());
            }
            return Err(crate::error::Error::io(
                "sync data file before checkpointing",
                &self.path,
                std::io::Error::other(
                    "the path no longer names the file this reader mapped (replaced or deleted since), \
                     and the writer has not made the records durable; the checkpoint is not persisted",
                ),
            ));
        }
        sync_file(&file, &self.path).ctx("sync data file (fdatasync) before checkpointing", &self.path)
    }

    /// Makes the directory entries leading to this segment durable (once per
    /// segment): the topic directory's, and the topics directory's.
    pub(crate) fn sync_entries(&self, topic_dir: &Path, topics_dir: &Path) -> Result<()> {
        if self.entries_synced.load(Ordering::Acquire) {
            return Ok(());
        }
        crate::storage::file::sync_dir(topic_dir).ctx("sync topic directory", topic_dir)?;
        crate::storage::file::sync_dir(topics_dir).ctx("sync topics directory", topics_dir)?;
        self.entries_synced.store(true, Ordering::Release);
        Ok(())
    }

    /// The index entry with the largest seq `<= seq`, or `None`.
    pub(crate) fn index_floor(&self, seq: u64) -> Option<crate::format::segment::IndexEntry> {
        self.with_index(|map, len| {
            let count =
                len.saturating_sub(crate::format::segment::INDEX_START) / crate::format::segment::INDEX_ENTRY_LEN;
            // Entries are sorted by seq; find the last valid one not above `seq`.
            let (mut lo, mut hi) = (0u64, count);
            let mut best = None;
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                match scan::index_entry(map, len, mid) {
                    IndexSlot::Entry(e) if e.seq <= seq => {
                        best = Some(e);
                        lo = mid + 1;
                    }
                    IndexSlot::Entry(_) | IndexSlot::Empty => hi = mid,
                    IndexSlot::Damaged => {
                        // Fall back to a linear scan around damage.
                        return linear_floor(map, len, count, seq);
                    }
                }
            }
            best
        })
        .flatten()
    }

    /// The first index entry at an offset greater than `off`.
    pub(crate) fn index_after(&self, off: u64) -> Option<crate::format::segment::IndexEntry> {
        self.with_index(|map, len| {
            let count =
                len.saturating_sub(crate::format::segment::INDEX_START) / crate::format::segment::INDEX_ENTRY_LEN;
            (0..count).find_map(|i| match scan::index_entry(map, len, i) {
                IndexSlot::Entry(e) if e.offset > off => Some(e),
                _ => None,
            })
        })
        .flatten()
    }

    /// The last index entry before the first with a timestamp at or after `t`.
    pub(crate) fn index_time(&self, t: u64) -> Option<crate::format::segment::IndexEntry> {
        self.with_index(|map, len| {
            let count =
                len.saturating_sub(crate::format::segment::INDEX_START) / crate::format::segment::INDEX_ENTRY_LEN;
            let mut prev = None;
            for i in 0..count {
                match scan::index_entry(map, len, i) {
                    IndexSlot::Entry(e) if e.timestamp >= t => return prev.or(Some(e)),
                    IndexSlot::Entry(e) => prev = Some(e),
                    IndexSlot::Empty => break,
                    IndexSlot::Damaged => {}
                }
            }
            prev
        })
        .flatten()
    }

    /// Maps the index for one lookup. Lookups are rare (seeks, skipping
    /// damage), so the mapping is not kept: with thousands of topics, every
    /// kept mapping counts against `vm.max_map_count`.
    fn with_index<T>(&self, f: impl FnOnce(&Mapping, u64) -> T) -> Option<T> {
        let path = self.path.with_file_name(index_file_name(self.header.base_seq));
        let file = open_ro(&path).ok()?;
        let len = file.metadata().map(|m| m.len()).ok()?;
        let map = Mapping::map(&file, len.max(1), false, &path).ok()?;
        Some(f(&map, len))
    }
}

/// Whether the topic directory `dir` holds a segment starting at `base`
/// that a new segment of that name may replace: false if there is none;
/// true if it holds no record (sealed at its own start: by its watermark,
/// or by its first frame when recovery sealed it and the watermark is not
/// synced yet); [`Error::Corrupt`](crate::error::Error::Corrupt) if it
/// holds records, which the topic's next record would collide with.
pub(crate) fn empty_segment_at(dir: &Path, base: u64) -> Result<bool> {
    let path = dir.join(crate::format::naming::data_file_name(base));
    if !path.exists() {
        return Ok(false);
    }
    let seg = ReadSegment::open_as(&path, false)?;
    let empty = seg.watermark().is_some_and(|w| w.is_sealed() && w.sealed_next == base)
        || matches!(seg.step(crate::format::segment::DATA_START), Step::Seal { next_seq } if next_seq == base);
    if empty {
        return Ok(true);
    }
    Err(crate::error::Error::Corrupt {
        path,
        offset: 0,
        reason: format!("a segment starting at seq {base} holds records, but the topic's next record is {base}"),
    })
}

fn linear_floor(map: &Mapping, len: u64, count: u64, seq: u64) -> Option<crate::format::segment::IndexEntry> {
    let mut best = None;
    for i in 0..count {
        match scan::index_entry(map, len, i) {
            IndexSlot::Entry(e)
                if e.seq <= seq && best.is_none_or(|b: crate::format::segment::IndexEntry| e.seq > b.seq) =>
            {
                best = Some(e)
            }
            IndexSlot::Empty => break,
            _ => {}
        }
    }
    best
}

#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;
    use crate::format::naming::data_file_name;
    use crate::storage::hook::{StorageHook, SyncedRange, add_hook, file_id, remove_hook};

    /// Every range a sync hook was shown: file, offset, length.
    #[derive(Default)]
    struct Syncs(Mutex<Vec<(crate::storage::hook::FileId, u64, usize)>>);

    impl StorageHook for Syncs {
        fn before_sync(&self, range: &SyncedRange<'_>) -> std::io::Result<()> {
            self.0.lock().push((range.id, range.offset, range.content.len()));
            Ok(())
        }
    }

    /// Dirty pages of `file` in the page cache (`cachestat`, Linux 6.5+);
    /// `None` where the kernel has no such call.
    #[expect(unsafe_code, reason = "cachestat has no safe wrapper; a test-only probe of the page cache")]
    fn dirty_pages(file: &std::fs::File) -> Option<(u64, u64)> {
        #[repr(C)]
        struct Range {
            off: u64,
            len: u64,
        }
        #[repr(C)]
        #[derive(Default)]
        struct Stat {
            cache: u64,
            dirty: u64,
            writeback: u64,
            evicted: u64,
            recently_evicted: u64,
        }
        const SYS_CACHESTAT: libc::c_long = 451;
        let range = Range { off: 0, len: 0 };
        let mut st = Stat::default();
        // SAFETY: cachestat reads `range` and writes `st`, both live and of
        // the layout the kernel expects (struct cachestat_range / cachestat).
        let rc = unsafe {
            libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &range as *const Range, &mut st as *mut Stat, 0u32)
        };
        (rc == 0).then_some((st.dirty, st.writeback))
    }

    #[test]
    fn syncing_a_read_only_segment_writes_its_dirty_pages_back_through_the_sync_hook() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = crate::Config::new(dir.path());
        // The writer syncs nothing by itself during the test.
        cfg.set_flush_interval_ms(3_600_000);
        let w = crate::Writer::open(&cfg).unwrap();
        for i in 0..2000u32 {
            w.write("t", format!("record {i} {}", "x".repeat(200)).as_bytes()).unwrap();
        }
        let path = dir.path().join("topics").join("t").join(data_file_name(0));
        // Make every page of the file dirty again (in case the kernel wrote
        // some back already): rewrite the bytes as they are.
        let rw = open_rw(&path, false).unwrap();
        let mut bytes = vec![0u8; rw.metadata().unwrap().len() as usize];
        let n = rw.read_at(&mut bytes, 0).unwrap();
        rw.write_all_at(&bytes[..n], 0).unwrap();

        let seg = ReadSegment::open_as(&path, false).unwrap();
        assert!(!seg.map.is_writable(), "the segment should be mapped read-only");
        let end = seg.refresh_len();
        let syncs = Arc::new(Syncs::default());
        add_hook(dir.path(), syncs.clone());
        let result = seg.sync(end);
        remove_hook(dir.path());
        result.unwrap();

        let id = file_id(&rw).unwrap();
        let seen = syncs.0.lock().clone();
        assert!(
            seen.iter().any(|&(i, off, len)| i == id && off == 0 && len as u64 >= end),
            "no sync of 0..{end} of {path:?} reached the sync hook: {seen:?}"
        );
        match dirty_pages(&rw) {
            Some((dirty, writeback)) => assert_eq!(
                (dirty, writeback),
                (0, 0),
                "pages of {path:?} still dirty or under writeback after syncing through a read-only mapping"
            ),
            None => println!("cachestat is not available on this kernel: not checking the page cache itself"),
        }
        drop(seg);
        w.close().unwrap();
    }
}
