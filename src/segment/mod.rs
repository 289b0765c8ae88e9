//! One segment of one topic: its data file and index file, created, grown,
//! appended to, sealed, scanned and recovered. Policy (when to roll, when to
//! sync) lives in `writer/`; byte layouts live in `format/`.

pub(crate) mod appender;
pub(crate) mod budget;
pub(crate) mod compressed;
pub(crate) mod extent;
pub(crate) mod read;
pub(crate) mod recovery;
pub(crate) mod remove;
pub(crate) mod scan;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::error::{Error, IoContext, Result};
use crate::format::naming::{data_file_name, index_file_name};
use crate::format::segment::{
    DATA_START, DataHeader, INDEX_ENTRY_LEN, INDEX_START, IndexEntry, IndexHeader, WAITING_AT, WATERMARK_AT, Watermark,
};
use crate::storage::file::{allocate, now_ns, open_ro, open_rw};
use crate::storage::{Mapping, page_size, writeback};

/// Smallest growth step of a data file.
pub(crate) const MIN_WINDOW: u64 = 64 * 1024;
/// Largest growth step of a data file.
pub(crate) const MAX_WINDOW: u64 = 64 * 1024 * 1024;
/// The writer asks for early writeback each time it has written this much
/// more (see [`Segment::start_writeback`]).
pub(crate) const WRITEBACK_STEP: u64 = 4 * 1024 * 1024;
/// Pre-faulting proceeds (and is published) in steps of this size.
pub(crate) const PREFAULT_STEP: u64 = 2 * 1024 * 1024;

/// Sizing of new segments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Records per segment.
    pub max_items: u64,
    /// Data file size limit (also the reader's mapping reserve).
    pub max_size: u64,
    /// Data bytes between index entries.
    pub index_interval: u64,
}

impl Limits {
    /// Bytes to reserve for the index file's mapping.
    pub(crate) fn index_reserve(&self) -> u64 {
        let entries = (self.max_size - DATA_START) / self.index_interval + 2;
        round_up_page(INDEX_START + entries * INDEX_ENTRY_LEN)
    }
}

pub(crate) fn round_up_page(n: u64) -> u64 {
    let p = page_size() as u64;
    n.div_ceil(p) * p
}

/// A segment as the writer (or recovery) holds it: both files mapped read-write.
pub(crate) struct Segment {
    pub base_seq: u64,
    pub epoch: u64,
    pub data_path: PathBuf,
    pub index_path: PathBuf,
    pub data: Mapping,
    pub index: Mapping,
    pub max_size: u64,
    pub index_reserve: u64,
    /// Bytes of the data file backed by allocated space.
    pub data_allocated: AtomicU64,
    /// Bytes of the index file backed by allocated space.
    pub index_allocated: AtomicU64,
    /// Set by the writer when it wants the flush thread to grow the data file.
    pub grow_requested: AtomicBool,
    /// Bytes of the data file pre-faulted in this process.
    pub populated: AtomicU64,
    /// Data pages below this offset were released from the writer's mapping.
    released: AtomicU64,
    /// The writer finished the data pages below this offset and wants their
    /// writeback started early (see [`Segment::start_writeback`]).
    pub writeback_wanted: AtomicU64,
    /// Writeback was started for the data pages below this offset.
    written_back: AtomicU64,
    /// Last growth step, doubled each time.
    window: AtomicU64,
    grow_lock: Mutex<()>,
    prefault_lock: Mutex<()>,
    /// Where reserved space is charged (disk caps); `None` in recovery.
    account: Option<budget::Account>,
    /// Identity of the data and index files this segment mapped: a path
    /// names a file, not a segment, and an empty sealed segment can be
    /// replaced by a new file of the same name. Every step that opens a
    /// segment's file by path checks it (`open_own`).
    data_id: FileId,
    index_id: FileId,
}

/// Device and inode of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId(u64, u64);

impl FileId {
    pub(crate) fn of(f: &File) -> std::io::Result<FileId> {
        use std::os::unix::fs::MetadataExt;
        let m = f.metadata()?;
        Ok(FileId(m.dev(), m.ino()))
    }
}

/// Opens `path` read-write only if it is still the file `id` names: an
/// error of kind `NotFound` when it was removed or replaced since.
fn open_own(path: &Path, id: FileId) -> std::io::Result<File> {
    let f = open_rw(path, false)?;
    if FileId::of(&f)? != id {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the segment was replaced by a new file of the same name",
        ));
    }
    Ok(f)
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("data_path", &self.data_path).field("base_seq", &self.base_seq).finish()
    }
}

impl Segment {
    /// Creates the files of a new segment in `dir` under temporary names, writes
    /// their headers, reserves and pre-faults the first window, then renames
    /// them into place (index first: a data file's presence defines a segment).
    pub(crate) fn create(
        dir: &Path,
        base_seq: u64,
        epoch: u64,
        log_id: u64,
        limits: Limits,
        account: Option<budget::Account>,
    ) -> Result<Segment> {
        let index_reserve = limits.index_reserve();
        let window = MIN_WINDOW.min(limits.max_size - DATA_START);
        let index_len = round_up_page(INDEX_START + 64 * INDEX_ENTRY_LEN).min(index_reserve);
        if let Some(a) = &account {
            a.charge(DATA_START + window + index_len)?;
        }
        let uncharge = |e: Error| {
            if let Some(a) = &account {
                a.credit(DATA_START + window + index_len);
            }
            e
        };
        let built = Self::create_files(dir, base_seq, epoch, log_id, limits, window, index_len);
        let (data, index, data_id, index_id) = built.map_err(uncharge)?;
        Ok(Segment {
            base_seq,
            epoch,
            data_path: dir.join(data_file_name(base_seq)),
            index_path: dir.join(index_file_name(base_seq)),
            data,
            index,
            max_size: limits.max_size,
            index_reserve,
            data_allocated: AtomicU64::new(DATA_START + window),
            index_allocated: AtomicU64::new(index_len),
            grow_requested: AtomicBool::new(false),
            populated: AtomicU64::new(DATA_START + window),
            released: AtomicU64::new(DATA_START),
            writeback_wanted: AtomicU64::new(DATA_START),
            written_back: AtomicU64::new(DATA_START),
            window: AtomicU64::new(window),
            grow_lock: Mutex::new(()),
            prefault_lock: Mutex::new(()),
            account,
            data_id,
            index_id,
        })
    }

    /// The files of a new segment, built aside and renamed into place.
    fn create_files(
        dir: &Path,
        base_seq: u64,
        epoch: u64,
        log_id: u64,
        limits: Limits,
        window: u64,
        index_len: u64,
    ) -> Result<(Mapping, Mapping, FileId, FileId)> {
        let data_path = dir.join(data_file_name(base_seq));
        let index_path = dir.join(index_file_name(base_seq));
        let tmp_data = dir.join(format!(".ls-new-{}", data_file_name(base_seq)));
        let tmp_index = dir.join(format!(".ls-new-{}", index_file_name(base_seq)));
        // Nothing half-made stays behind (a full disk fails here).
        let discard = |index: &Path| {
            let _ = std::fs::remove_file(index);
            let _ = std::fs::remove_file(&tmp_data);
        };
        let built = Self::build_files(&tmp_data, &tmp_index, base_seq, epoch, log_id, limits, window, index_len);
        let (data, index, data_id, index_id) = built.inspect_err(|_| discard(&tmp_index))?;
        if let Err(e) = crate::storage::file::rename(&tmp_index, &index_path) {
            discard(&tmp_index);
            return Err(Error::io("rename new index file into place", &index_path, e));
        }
        if let Err(e) = crate::storage::file::rename(&tmp_data, &data_path) {
            discard(&index_path);
            return Err(Error::io("rename new data file into place", &data_path, e));
        }
        Ok((data, index, data_id, index_id))
    }

    /// Creates, reserves and maps a new segment's files under temporary names.
    #[expect(clippy::too_many_arguments, reason = "the parts of a new segment, passed on from `create_files`")]
    fn build_files(
        tmp_data: &Path,
        tmp_index: &Path,
        base_seq: u64,
        epoch: u64,
        log_id: u64,
        limits: Limits,
        window: u64,
        index_len: u64,
    ) -> Result<(Mapping, Mapping, FileId, FileId)> {
        let reserve = |what: &'static str, path: &Path, e: std::io::Error, len: u64| {
            if e.raw_os_error() == Some(libc::ENOSPC) {
                Error::NoSpace { op: what, path: path.to_path_buf(), needed: len }
            } else {
                Error::io(what, path, e)
            }
        };
        let index_reserve = limits.index_reserve();

        let index_file = open_rw(tmp_index, true).ctx("create index file", tmp_index)?;
        allocate(&index_file, tmp_index, 0, index_len)
            .map_err(|e| reserve("create the index file", tmp_index, e, index_len))?;
        let index = Mapping::map(&index_file, index_reserve, true, tmp_index).ctx("map index file", tmp_index)?;
        let ih = IndexHeader { interval: limits.index_interval as u32, base_seq, epoch };
        index.write(0, &ih.encode());

        let data_file = open_rw(tmp_data, true).ctx("create data file", tmp_data)?;
        let data_len = DATA_START + window;
        allocate(&data_file, tmp_data, 0, data_len)
            .map_err(|e| reserve("create the data file", tmp_data, e, data_len))?;
        let data = Mapping::map(&data_file, limits.max_size, true, tmp_data).ctx("map data file", tmp_data)?;
        let dh = DataHeader { base_seq, epoch, created: now_ns(), reserve: limits.max_size, log_id, flags: 0 };
        data.write(0, &dh.encode());
        write_watermark(&data, &Watermark::empty(base_seq));
        data.populate_write(DATA_START as usize, window as usize).ctx("pre-fault data file", tmp_data)?;

        let index_id = FileId::of(&index_file).ctx("stat index file", tmp_index)?;
        let data_id = FileId::of(&data_file).ctx("stat data file", tmp_data)?;
        Ok((data, index, data_id, index_id))
    }

    /// Opens an existing segment read-write (recovery and repair). A missing
    /// or unreadable index file is recreated from the data file by the caller.
    pub(crate) fn open(data_path: &Path, index_path: &Path, header: &DataHeader, limits: Limits) -> Result<Segment> {
        let data_file = open_rw(data_path, false).ctx("open data file", data_path)?;
        let data_len = data_file.metadata().ctx("stat data file", data_path)?.len();
        let max_size = header.reserve.max(data_len);
        let data = Mapping::map(&data_file, max_size, true, data_path).ctx("map data file", data_path)?;
        let index_file = open_rw(index_path, true).ctx("open index file", index_path)?;
        let index_len = index_file.metadata().ctx("stat index file", index_path)?.len();
        let index_reserve = Limits { max_size, ..limits }.index_reserve().max(round_up_page(index_len));
        let index = Mapping::map(&index_file, index_reserve, true, index_path).ctx("map index file", index_path)?;
        let data_id = FileId::of(&data_file).ctx("stat data file", data_path)?;
        let index_id = FileId::of(&index_file).ctx("stat index file", index_path)?;
        Ok(Segment {
            base_seq: header.base_seq,
            epoch: header.epoch,
            data_path: data_path.to_path_buf(),
            index_path: index_path.to_path_buf(),
            data,
            index,
            max_size,
            index_reserve,
            data_allocated: AtomicU64::new(data_len),
            index_allocated: AtomicU64::new(index_len),
            grow_requested: AtomicBool::new(false),
            populated: AtomicU64::new(data_len),
            released: AtomicU64::new(DATA_START),
            writeback_wanted: AtomicU64::new(DATA_START),
            written_back: AtomicU64::new(DATA_START),
            window: AtomicU64::new(MIN_WINDOW),
            grow_lock: Mutex::new(()),
            prefault_lock: Mutex::new(()),
            account: None,
            data_id,
            index_id,
        })
    }

    /// The data file of this segment, opened read-write by path; `NotFound`
    /// when the name now belongs to another file (see `FileId`).
    pub(crate) fn open_data(&self) -> std::io::Result<File> {
        open_own(&self.data_path, self.data_id)
    }

    /// The same segment after its directory was renamed to `dir`.
    pub(crate) fn relocate(mut self, dir: &Path) -> Segment {
        self.data_path = dir.join(data_file_name(self.base_seq));
        self.index_path = dir.join(index_file_name(self.base_seq));
        self
    }

    /// Rewrites a missing or damaged index header (zeroing the entries, which
    /// are then rebuilt from the data file). Returns whether it did.
    pub(crate) fn ensure_index_header(&self, interval: u64) -> Result<bool> {
        let have = self.index_allocated.load(Ordering::Acquire);
        if have >= INDEX_START && IndexHeader::decode(self.index.bytes(0, INDEX_START as usize)).is_ok() {
            return Ok(false);
        }
        self.grow_index(round_up_page(INDEX_START + 64 * INDEX_ENTRY_LEN))?;
        let len = self.index_allocated.load(Ordering::Acquire) as usize;
        self.index.zero(0, len);
        let ih = IndexHeader { interval: interval as u32, base_seq: self.base_seq, epoch: self.epoch };
        self.index.write(0, &ih.encode());
        Ok(true)
    }

    /// The readers' wait flags.
    pub(crate) fn waiting(&self) -> &std::sync::atomic::AtomicU64 {
        self.data.atomic_u64(WAITING_AT)
    }

    /// Reserves space so that at least `need_end` bytes of the data file are
    /// allocated (one window more when `need_end` is 0; windows double up to
    /// [`MAX_WINDOW`]), and publishes it at once: pre-faulting is separate
    /// ([`Segment::prefault`]), so the writer never waits for it. Disk full
    /// is [`Error::NoSpace`] and nothing is published.
    pub(crate) fn reserve(&self, need_end: u64) -> Result<()> {
        let _g = self.grow_lock.lock();
        let have = self.data_allocated.load(Ordering::Acquire);
        if (need_end != 0 && have >= need_end) || have >= self.max_size {
            return Ok(());
        }
        let window = (self.window.load(Ordering::Relaxed) * 2).min(MAX_WINDOW);
        let target = have.saturating_add(window).max(need_end).min(self.max_size);
        let target = round_up_page(target).min(self.max_size);
        if let Some(a) = &self.account {
            a.charge(target - have)?;
        }
        let file = self
            .open_data()
            .ctx("open data file to grow it", &self.data_path)
            .inspect_err(|_| self.credit(target - have))?;
        allocate(&file, &self.data_path, have, target - have).map_err(|e| {
            self.credit(target - have);
            if e.raw_os_error() == Some(libc::ENOSPC) {
                Error::NoSpace { op: "extend", path: self.data_path.clone(), needed: target - have }
            } else {
                Error::io("reserve space in data file", &self.data_path, e)
            }
        })?;
        self.window.store(window, Ordering::Relaxed);
        self.data_allocated.store(target, Ordering::Release);
        Ok(())
    }

    /// Gives `bytes` back to the disk budget.
    pub(crate) fn credit(&self, bytes: u64) {
        if let Some(a) = &self.account {
            a.credit(bytes);
        }
    }

    /// Pre-faults the reserved data pages up to `upto` (`MADV_POPULATE_WRITE`,
    /// in steps of [`PREFAULT_STEP`]) so the writer's thread takes no page
    /// fault there. An optimisation only: failures are logged, not returned.
    pub(crate) fn prefault(&self, upto: u64) {
        let _g = self.prefault_lock.lock();
        let upto = upto.min(self.data_allocated.load(Ordering::Acquire));
        let mut at = self.populated.load(Ordering::Acquire);
        while at < upto {
            let step = (upto - at).min(PREFAULT_STEP);
            if let Err(e) = self.data.populate_write(at as usize, step as usize) {
                log::debug!("pre-faulting {} failed: {e}", self.data_path.display());
                return;
            }
            at += step;
            self.populated.store(at, Ordering::Release);
        }
    }

    /// Grows the index file to cover at least `need_end` bytes.
    pub(crate) fn grow_index(&self, need_end: u64) -> Result<()> {
        let _g = self.grow_lock.lock();
        let have = self.index_allocated.load(Ordering::Acquire);
        if have >= need_end {
            return Ok(());
        }
        let target = round_up_page(need_end.max(have * 2)).min(self.index_reserve);
        if target < need_end {
            return Err(Error::Corrupt {
                path: self.index_path.clone(),
                offset: need_end,
                reason: "index entry beyond the index file's reserve".into(),
            });
        }
        let file = open_own(&self.index_path, self.index_id).ctx("open index file to grow it", &self.index_path)?;
        allocate(&file, &self.index_path, have, target - have).ctx("reserve space in index file", &self.index_path)?;
        self.index_allocated.store(target, Ordering::Release);
        Ok(())
    }

    /// Writes index entry number `i`. Entries are written with atomic stores
    /// because readers may look them up concurrently.
    pub(crate) fn put_index_entry(&self, i: u64, e: &IndexEntry) -> Result<()> {
        let at = INDEX_START + i * INDEX_ENTRY_LEN;
        if at + INDEX_ENTRY_LEN > self.index_allocated.load(Ordering::Acquire) {
            self.grow_index(at + INDEX_ENTRY_LEN)?;
        }
        let b = e.encode();
        for (w, chunk) in b.chunks_exact(8).enumerate() {
            let mut a = [0u8; 8];
            a.copy_from_slice(chunk);
            self.index.atomic_u64(at as usize + w * 8).store(u64::from_le_bytes(a), Ordering::Release);
        }
        Ok(())
    }

    /// Releases the writer mapping's pages of finished frames below `end`
    /// (see [`Mapping::release_pages`]); the flush and prefault threads call
    /// this, with `end` at or below the writer's position (two calls at once
    /// only release some pages twice, which changes nothing).
    pub(crate) fn release_written(&self, end: u64) {
        let from = self.released.load(Ordering::Acquire);
        let page = page_size() as u64;
        let to = end / page * page;
        if to <= from {
            return;
        }
        match self.data.release_pages(from as usize, (to - from) as usize) {
            Ok(()) => {
                self.released.fetch_max(to, Ordering::AcqRel);
            }
            Err(e) => log::debug!("releasing written pages of {} failed: {e}", self.data_path.display()),
        }
    }

    /// Starts writeback of the next whole data pages below
    /// `writeback_wanted` (at most [`WRITEBACK_STEP`] bytes) and returns
    /// without waiting for it: the bytes started (0 if none) and whether
    /// more is wanted. The flush after a burst then finds most of the burst
    /// on its way to disk already. Pages leave the writer's mapping first
    /// ([`Segment::release_written`]), so that writeback does not
    /// write-protect them one by one under the writer. No durability is
    /// claimed for them until a sync covers them. An optimisation only:
    /// failures are logged, not returned.
    pub(crate) fn start_writeback(&self) -> (u64, bool) {
        let page = page_size() as u64;
        let wanted = self.writeback_wanted.load(Ordering::Acquire) / page * page;
        let from = self.written_back.load(Ordering::Acquire);
        if wanted <= from {
            return (0, false);
        }
        let to = wanted.min(from + WRITEBACK_STEP);
        self.release_written(to);
        if !self.write_back(from, to - from) {
            return (0, false);
        }
        self.written_back.fetch_max(to, Ordering::AcqRel);
        (to - from, to < wanted)
    }

    /// Starts writeback of `0..end` of the data file now, without waiting
    /// (before a pass syncs several files one after the other, so that
    /// their writes are in flight together). An optimisation only.
    pub(crate) fn kick_writeback(&self, end: u64) {
        self.write_back(0, end);
    }

    /// Starts writeback of `off..off+len` of the data file; false (logged)
    /// if it could not.
    fn write_back(&self, off: u64, len: u64) -> bool {
        match self.open_data().and_then(|f| writeback::start(&f, off, len)) {
            Ok(()) => true,
            Err(e) => {
                log::debug!("starting writeback of {} failed: {e}", self.data_path.display());
                false
            }
        }
    }

    /// Makes `0..end` of the data file durable, and the index up to
    /// `index_end` if given. The index of an active segment is not synced on
    /// every pass (it would double the device flushes): it is a hint that
    /// recovery checks against the data and rebuilds after a power loss;
    /// it is synced once, when the segment is sealed.
    pub(crate) fn sync(&self, end: u64, index_end: Option<u64>) -> Result<()> {
        self.data.sync(0, end as usize).ctx("sync data file", &self.data_path)?;
        if let Some(index_end) = index_end {
            self.index.sync(0, index_end as usize).ctx("sync index file", &self.index_path)?;
        }
        Ok(())
    }
}

/// Clears and returns the `waiting` word of a data file the caller does not
/// hold mapped (a segment sealed by an earlier session or by `stop`).
pub(crate) fn take_waiting(path: &Path) -> Result<u64> {
    let f = open_rw(path, false).ctx("open data file", path)?;
    let map = Mapping::map(&f, DATA_START, true, path).ctx("map data file header", path)?;
    Ok(map.atomic_u64(WAITING_AT).swap(0, Ordering::SeqCst))
}

/// Reads the watermark block of a mapped data file; `None` if it does not
/// check out (it is rewritten concurrently, so a torn read is retried).
pub(crate) fn read_watermark(data: &Mapping) -> Option<Watermark> {
    for _ in 0..4 {
        let mut b = [0u8; 64];
        for w in 0..8 {
            let v = data.atomic_u64(WATERMARK_AT + w * 8).load(Ordering::Acquire);
            b[w * 8..w * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        if let Some(wm) = Watermark::decode(&b) {
            return Some(wm);
        }
        std::hint::spin_loop();
    }
    None
}

/// Writes the watermark block through the mapping (atomic words; readers
/// retry a torn read).
pub(crate) fn write_watermark(data: &Mapping, w: &Watermark) {
    let b = w.encode();
    for i in 0..8 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i * 8..i * 8 + 8]);
        data.atomic_u64(WATERMARK_AT + i * 8).store(u64::from_le_bytes(a), Ordering::Release);
    }
}

/// The header a data file with a damaged header must have had, when its first
/// frame confirms the sequence number its name gives (`None` otherwise):
/// base from the name, epoch from the index header when readable, reserve
/// from the file size.
pub(crate) fn guess_header(data: &Path, index: &Path, base: u64) -> Result<Option<DataHeader>> {
    use std::os::unix::fs::FileExt;
    let f = open_ro(data).ctx("open data file", data)?;
    let len = f.metadata().ctx("stat data file", data)?.len();
    let mut buf = vec![0u8; (64 * 1024).min(len.saturating_sub(DATA_START)) as usize];
    let n = f.read_at(&mut buf, DATA_START).ctx("read data file", data)?;
    // A compressed segment starts with a block holding its first frame.
    let block = crate::format::block::BlockHeader::decode(&buf[..n])
        .filter(|b| b.first_seq == base && b.raw_offset == DATA_START);
    let confirmed = block.is_some()
        || match crate::format::frame::decode_bytes(&buf[..n]) {
            Ok(crate::format::frame::Frame::Record { seq, .. }) => seq == base,
            Ok(crate::format::frame::Frame::Seal { next_seq, .. }) => next_seq == base,
            Err(_) => false,
        };
    if !confirmed {
        return Ok(None);
    }
    let epoch = std::fs::read(index)
        .ok()
        .and_then(|b| IndexHeader::decode(&b).ok())
        .filter(|h| h.base_seq == base)
        .map_or(0, |h| h.epoch);
    let flags = if block.is_some() { crate::format::block::COMPRESSED } else { 0 };
    Ok(Some(DataHeader { base_seq: base, epoch, created: now_ns(), reserve: len, log_id: 0, flags }))
}

/// Reads the static header and the watermark of a data file with plain reads
/// (no mapping), e.g. to decide whether a segment needs recovery.
pub(crate) fn read_header(path: &Path) -> Result<(DataHeader, Option<Watermark>, u64)> {
    let f: File = open_ro(path).ctx("open data file", path)?;
    read_header_of(&f, path)
}

/// [`read_header`] of a file already open (so that the header and the
/// bytes read later are of the same file, even if the name is replaced).
pub(crate) fn read_header_of(f: &File, path: &Path) -> Result<(DataHeader, Option<Watermark>, u64)> {
    use std::os::unix::fs::FileExt;
    let len = f.metadata().ctx("stat data file", path)?.len();
    let mut b = [0u8; 128];
    let n = f.read_at(&mut b, 0).ctx("read data file header", path)?;
    let header = DataHeader::decode(&b[..n]).map_err(|p| match p {
        crate::format::segment::HeaderProblem::Version(found) => {
            Error::UnsupportedVersion { path: path.to_path_buf(), found, supported: crate::format::segment::VERSION }
        }
        p => Error::Corrupt { path: path.to_path_buf(), offset: 0, reason: format!("data file header: {p}") },
    })?;
    let wm = if n >= 128 { Watermark::decode(&b[64..128]) } else { None };
    Ok((header, wm, len))
}
