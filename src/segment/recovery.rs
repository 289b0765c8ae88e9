//! Finding the end of a topic after a crash.
//!
//! A writer session never appends to a segment left by an earlier session: at
//! open, recovery checks the segments that were not durably sealed, finds the
//! last valid frame, and seals the segment there. What lies beyond it (a half
//! record after `kill -9`, lost or reordered pages after a power loss) is cut:
//! the seal frame hides it from readers, and the unused space is released.
//!
//! Rules (see `format/mod.rs`):
//! - Frames before a segment's durable watermark are trusted; recovery scans
//!   only from the watermark, so it costs what the unsynced tail costs.
//! - After the watermark, the first frame that is not a record with the
//!   expected sequence number ends the topic. Segments after that point
//!   cannot be part of a clean prefix; they are renamed `*.lost-<time>` (kept
//!   for inspection, never read) and reported.
//! - The index of every checked segment is cut to the valid data and its
//!   missing tail rebuilt from the data file.
//! - Running recovery twice gives the same state: the second run finds every
//!   segment durably sealed and changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::appender::Progress;
use super::scan::{Step, index_entry, step};
use super::{Limits, Segment, read_header, read_watermark};
use crate::error::{Error, IoContext, Result};
use crate::format::frame::SEAL_LEN;
use crate::format::naming::{SegmentFile, data_file_name, index_file_name, parse_segment_file_name};
use crate::format::segment::{DATA_START, DataHeader, INDEX_ENTRY_LEN, INDEX_START, IndexEntry, IndexSlot};
use crate::storage::file::{allocate, now_ns, open_ro, open_rw, punch_hole, sync_dir};

/// What recovery found and did in one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TopicRecovery {
    /// The topic.
    pub topic: String,
    /// Segments whose tail was checked (not durably sealed before).
    pub segments_checked: usize,
    /// Records validated after the durable watermark.
    pub records_after_watermark: u64,
    /// Where the log was cut, if bytes after the last valid frame were dropped.
    pub cut: Option<Cut>,
    /// Segments after a cut, renamed aside.
    pub quarantined: Vec<PathBuf>,
    /// Index entries rewritten from the data file.
    pub index_entries_rebuilt: u64,
    /// Seal frames restored where a segment's records ran up to the next segment.
    pub seals_restored: u64,
    /// Data file headers rewritten after damage (from the file name and index).
    pub headers_rebuilt: u64,
    /// Leftover temporary or orphaned files removed.
    pub removed: Vec<PathBuf>,
    /// Sequence number the next record will get.
    pub next_seq: u64,
    /// First sequence number of the newest segment, if any.
    pub last_segment: Option<u64>,
}

impl TopicRecovery {
    /// True when recovery changed nothing on disk.
    pub fn is_clean(&self) -> bool {
        self.cut.is_none()
            && self.quarantined.is_empty()
            && self.removed.is_empty()
            && self.index_entries_rebuilt == 0
            && self.seals_restored == 0
            && self.headers_rebuilt == 0
    }
}

/// A cut at the end of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Cut {
    /// The data file.
    pub segment: PathBuf,
    /// Offset of the first byte that was not a valid frame.
    pub offset: u64,
    /// What was found there.
    pub reason: String,
}

/// The segments of a topic directory, sorted by first sequence number.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).ctx("list topic directory", dir)? {
        let entry = entry.ctx("list topic directory", dir)?;
        if let Some(SegmentFile::Data(s)) = entry.file_name().to_str().and_then(parse_segment_file_name) {
            out.push(s);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Recovers one topic directory; returns the report and the highest epoch seen.
/// `same_boot`: the machine has not restarted since the last writer ran, so
/// the page cache survived whatever happened to it (a process crash, not a
/// power loss): every frame it published is intact, and the scan may start
/// at the last index entry instead of the durable watermark.
pub(crate) fn recover_topic(
    dir: &Path,
    topic: &str,
    limits: Limits,
    same_boot: bool,
) -> Result<(TopicRecovery, u64, Vec<Progress>)> {
    let mut rep = TopicRecovery { topic: topic.to_owned(), ..TopicRecovery::default() };
    // Segments recovery sealed: the new session's flush thread makes them
    // durable (data, then the sealed watermark) before it counts anything
    // of its own as durable, so opening does not wait for the dead writer's
    // unsynced tail to reach the disk.
    let mut pending: Vec<Progress> = Vec::new();
    let mut changed_dir = remove_leftovers(dir, &mut rep)?;
    let segs = list_segments(dir)?;
    let mut max_epoch = 0;
    if segs.is_empty() {
        if changed_dir {
            sync_dir(dir).ctx("sync topic directory", dir)?;
        }
        return Ok((rep, 0, pending));
    }
    // Walk back to the last durably sealed segment; check everything after it.
    let mut first_to_check = 0;
    let mut expected: Option<u64> = None;
    for (i, &base) in segs.iter().enumerate().rev() {
        let path = dir.join(data_file_name(base));
        if let Ok((h, Some(wm), _)) = read_header(&path) {
            max_epoch = max_epoch.max(h.epoch);
            if wm.is_sealed() && h.base_seq == base {
                first_to_check = i + 1;
                expected = Some(wm.sealed_next);
                break;
            }
        }
    }
    for (i, &base) in segs.iter().enumerate().skip(first_to_check) {
        let data_path = dir.join(data_file_name(base));
        let index_path = dir.join(index_file_name(base));
        let exp = expected.unwrap_or(base);
        let read = match read_header(&data_path) {
            Err(Error::Corrupt { reason, .. }) => match rebuild_header(&data_path, &index_path, base, limits)? {
                Some(h) => {
                    log::warn!("{}: header damaged ({reason}); rebuilt from the file name", data_path.display());
                    rep.headers_rebuilt += 1;
                    Ok((h, None, 0))
                }
                None => Err(Error::Corrupt { path: data_path.clone(), offset: 0, reason }),
            },
            other => other,
        };
        let header = match read {
            Ok((h, _, _)) if h.base_seq == base && h.base_seq == exp => h,
            Ok((h, _, _)) => {
                let reason = format!(
                    "segment starts at seq {} but the log before it ends at {exp}; it follows lost records",
                    h.base_seq
                );
                quarantine_from(dir, &segs[i..], &reason, &mut rep)?;
                changed_dir = true;
                expected.get_or_insert(base);
                break;
            }
            Err(e @ Error::UnsupportedVersion { .. }) => return Err(e),
            Err(e) => {
                // Nothing readable: a segment created but never synced (or
                // destroyed). Nothing after it can follow the log either.
                quarantine_from(dir, &segs[i..], &format!("unreadable header: {e}"), &mut rep)?;
                changed_dir = true;
                expected.get_or_insert(base);
                break;
            }
        };
        max_epoch = max_epoch.max(header.epoch);
        rep.segments_checked += 1;
        if header.flags & crate::format::block::COMPRESSED != 0 {
            // Only a durably sealed segment is ever compressed (here because
            // its watermark is damaged): its blocks say where it ends.
            let next = compressed_end(&data_path, header.base_seq, segs.get(i + 1).copied())?;
            expected = Some(next);
            continue;
        }
        let seg = Arc::new(Segment::open(&data_path, &index_path, &header, limits)?);
        if seg.ensure_index_header(limits.index_interval)? {
            log::warn!("{}: index header missing or damaged; rebuilding the index", index_path.display());
        }
        let file_len = seg.data_allocated.load(std::sync::atomic::Ordering::Acquire);
        let wm = read_watermark(&seg.data).filter(|w| w.durable_end <= file_len && w.durable_next >= base);
        let (mut off, mut seq) = match wm {
            Some(w) => (w.durable_end, w.durable_next),
            None => (DATA_START, base),
        };
        if same_boot && let Some(e) = last_index_entry(&seg, off, seq, file_len) {
            // Frames before the writer's last index entry were published in
            // this boot's page cache: only the tail after it needs a scan.
            (off, seq) = e;
        }
        let mut last_time = wm.map_or(0, |w| w.last_time);
        let mut first_time = wm.map_or(0, |w| w.first_time);
        let end_reason = loop {
            match step(&seg.data, off, file_len) {
                Step::Record { seq: s, timestamp, next, .. } if s == seq => {
                    if first_time == 0 {
                        first_time = timestamp.max(1);
                    }
                    last_time = timestamp;
                    rep.records_after_watermark += 1;
                    seq += 1;
                    off = next;
                }
                Step::Seal { next_seq } if next_seq == seq => break None,
                Step::Record { seq: s, .. } => break Some(format!("record with seq {s} where {seq} was expected")),
                Step::Seal { next_seq } => break Some(format!("seal naming seq {next_seq} where {seq} was expected")),
                Step::Empty => break Some(String::new()),
                Step::Bad(b) => break Some(format!("{b:?}")),
            }
        };
        let (rebuilt, index_entries) = rebuild_index_tail(&seg, off, limits.index_interval)?;
        rep.index_entries_rebuilt += rebuilt;
        let sealed = |seg: &Arc<Segment>| Progress {
            seg: seg.clone(),
            end: off + SEAL_LEN as u64,
            next_seq: seq,
            first_time,
            last_time,
            index_end: INDEX_START + index_entries * INDEX_ENTRY_LEN,
            sealed_at: Some(off),
        };
        match end_reason {
            None => {
                // Sealed properly; the flush thread makes the watermark say so.
                pending.push(sealed(&seg));
                expected = Some(seq);
            }
            Some(reason) => {
                // The next segment starts exactly here: only the seal frame
                // was lost (or torn); the records are contiguous.
                let continues = segs.get(i + 1) == Some(&seq);
                if continues {
                    log::warn!("{}: seal frame at byte {off} lost; restoring it", data_path.display());
                } else if !reason.is_empty() || has_bytes_after(&seg, off, file_len) {
                    let reason =
                        if reason.is_empty() { "bytes after the last whole record".to_owned() } else { reason };
                    log::warn!("{}: cutting the log at byte {off} (seq {seq}): {reason}", data_path.display());
                    rep.cut = Some(Cut { segment: data_path.clone(), offset: off, reason });
                }
                if off + SEAL_LEN as u64 > file_len {
                    let f = open_rw(&data_path, false).ctx("open data file", &data_path)?;
                    allocate(&f, &data_path, file_len, off + SEAL_LEN as u64 - file_len)
                        .ctx("reserve space for seal", &data_path)?;
                }
                let (st, word) = crate::format::frame::seal_parts(seq, now_ns());
                seg.data.write(off as usize + 8, &st);
                seg.data.atomic_u64(off as usize).store(word, std::sync::atomic::Ordering::SeqCst);
                pending.push(sealed(&seg));
                // Give back preallocated space past the end.
                let page = crate::storage::page_size() as u64;
                let keep = (off + SEAL_LEN as u64).div_ceil(page) * page;
                if file_len > keep
                    && let Ok(f) = open_rw(&data_path, false)
                {
                    punch_hole(&f, &data_path, keep, file_len - keep);
                }
                expected = Some(seq);
                if continues {
                    rep.seals_restored += 1;
                    continue;
                }
                if i + 1 < segs.len() {
                    let reason = format!("the log before it ends at seq {seq}");
                    quarantine_from(dir, &segs[i + 1..], &reason, &mut rep)?;
                    changed_dir = true;
                }
                break;
            }
        }
    }
    // Entries of segments a crashed writer created may not be durable yet;
    // the flush thread syncs the directory with the pending segments.
    if changed_dir && pending.is_empty() {
        sync_dir(dir).ctx("sync topic directory", dir)?;
    }
    rep.last_segment = list_segments(dir)?.last().copied();
    rep.next_seq = match expected {
        Some(s) => s,
        None => read_header(&dir.join(data_file_name(segs[0])))?.0.base_seq,
    };
    Ok((rep, max_epoch, pending))
}

/// Where a compressed segment ends: after its seal frame, or where the next
/// segment starts when damage hides the seal (readers report the records
/// lost in between).
fn compressed_end(path: &Path, base: u64, next_segment: Option<u64>) -> Result<u64> {
    let f = open_ro(path).ctx("open data file", path)?;
    let len = f.metadata().ctx("stat data file", path)?.len();
    let map = crate::storage::Mapping::map(&f, len.max(1), false, path).ctx("map data file", path)?;
    let walked = super::compressed::walk(&map, len, base, next_segment, |_| {});
    if !walked.sealed {
        log::warn!("{}: compressed segment damaged; it ends at seq {}", path.display(), walked.next_seq);
    }
    Ok(walked.next_seq)
}

/// Rewrites a damaged data file header when the file holds frames of the
/// segment its name says. `None` when nothing confirms it is that segment.
fn rebuild_header(data: &Path, index: &Path, base: u64, limits: Limits) -> Result<Option<DataHeader>> {
    use std::os::unix::fs::FileExt;
    let Some(mut h) = super::guess_header(data, index, base)? else { return Ok(None) };
    if h.flags & crate::format::block::COMPRESSED == 0 {
        h.reserve = h.reserve.max(limits.max_size);
    }
    let f = open_rw(data, false).ctx("open data file", data)?;
    f.write_all_at(&h.encode(), 0).ctx("rewrite data file header", data)?;
    crate::storage::file::sync_file(&f, data).ctx("sync data file header", data)?;
    Ok(Some(h))
}

/// The last index entry past `(off, seq)` whose frame checks out.
fn last_index_entry(seg: &Segment, off: u64, seq: u64, file_len: u64) -> Option<(u64, u64)> {
    let idx_len = seg.index_allocated.load(std::sync::atomic::Ordering::Acquire);
    let count = idx_len.saturating_sub(INDEX_START) / INDEX_ENTRY_LEN;
    // Entries are written in order; find the last non-empty one by bisection.
    let (mut lo, mut hi) = (0u64, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if matches!(index_entry(&seg.index, idx_len, mid), IndexSlot::Empty) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    (0..lo).rev().take(16).find_map(|i| match index_entry(&seg.index, idx_len, i) {
        IndexSlot::Entry(e) if e.offset > off && e.seq > seq => match step(&seg.data, e.offset, file_len) {
            Step::Record { seq: s, .. } if s == e.seq => Some((e.offset, e.seq)),
            _ => None,
        },
        _ => None,
    })
}

fn has_bytes_after(seg: &Segment, off: u64, file_len: u64) -> bool {
    // Look a little way past the end: a torn frame leaves bytes right after it.
    let end = (off + 64 * 1024).min(file_len);
    end > off && seg.data.bytes(off as usize, (end - off) as usize).iter().any(|&b| b != 0)
}

/// Cuts the index at the first entry that is damaged or points at or past
/// `end`, then re-creates entries from the data up to `end`. Returns the
/// entries written and the entries the index now holds.
pub(crate) fn rebuild_index_tail(seg: &Segment, end: u64, interval: u64) -> Result<(u64, u64)> {
    let idx_len = seg.index_allocated.load(std::sync::atomic::Ordering::Acquire);
    let mut i = 0u64;
    let mut last: Option<IndexEntry> = None;
    loop {
        match index_entry(&seg.index, idx_len, i) {
            IndexSlot::Entry(e) if e.offset < end && last.is_none_or(|l| e.offset > l.offset && e.seq > l.seq) => {
                last = Some(e);
                i += 1;
            }
            _ => break,
        }
    }
    // Zero what follows (stale entries from a lost tail, or damage). The
    // index of an active segment is not synced on every pass, so after a
    // power loss entries can survive beyond a hole: clear to the end.
    let slots = idx_len.min(seg.index.len() as u64).saturating_sub(INDEX_START) / INDEX_ENTRY_LEN;
    for j in i..slots {
        if !matches!(index_entry(&seg.index, idx_len, j), IndexSlot::Empty) {
            seg.index.zero((INDEX_START + j * INDEX_ENTRY_LEN) as usize, INDEX_ENTRY_LEN as usize);
        }
    }
    // Re-create entries by walking the frames after the last good entry.
    let file_len = seg.data_allocated.load(std::sync::atomic::Ordering::Acquire);
    let (mut off, mut next_at) = match last {
        Some(e) => (e.offset, e.offset + interval),
        None => (DATA_START, DATA_START),
    };
    if let Some(e) = last {
        // Skip the frame the last entry points at.
        match step(&seg.data, e.offset, file_len) {
            Step::Record { next, .. } => off = next,
            _ => return Ok((0, i)),
        }
    }
    let mut written = 0;
    while off < end {
        match step(&seg.data, off, file_len) {
            Step::Record { seq, timestamp, next, .. } => {
                if off >= next_at {
                    seg.put_index_entry(i, &IndexEntry { offset: off, seq, timestamp })?;
                    i += 1;
                    written += 1;
                    next_at = off + interval;
                }
                off = next;
            }
            _ => break,
        }
    }
    Ok((written, i))
}

fn quarantine_from(dir: &Path, bases: &[u64], reason: &str, rep: &mut TopicRecovery) -> Result<()> {
    let stamp = now_ns();
    for &b in bases {
        for name in [data_file_name(b), index_file_name(b)] {
            let from = dir.join(&name);
            if !from.exists() {
                continue;
            }
            let to = dir.join(format!("{name}.lost-{stamp}"));
            crate::storage::file::rename(&from, &to).ctx("set aside segment after a cut", &from)?;
            log::warn!("{}: set aside as {} ({reason})", from.display(), to.display());
            rep.quarantined.push(to);
        }
    }
    Ok(())
}

/// Removes temporary files of interrupted segment creations and index files
/// whose data file is gone (a deletion interrupted between the two files).
fn remove_leftovers(dir: &Path, rep: &mut TopicRecovery) -> Result<bool> {
    let mut data = std::collections::HashSet::new();
    let mut index = Vec::new();
    let mut changed = false;
    for entry in std::fs::read_dir(dir).ctx("list topic directory", dir)? {
        let entry = entry.ctx("list topic directory", dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(".ls-new-") || name.starts_with(".ls-tmp-") {
            if remove_if_present(&entry.path(), "remove leftover temporary file")? {
                rep.removed.push(entry.path());
                changed = true;
            }
            continue;
        }
        match parse_segment_file_name(name) {
            Some(SegmentFile::Data(s)) => {
                data.insert(s);
            }
            Some(SegmentFile::Index(s)) => index.push(s),
            None => {}
        }
    }
    for s in index {
        if !data.contains(&s) {
            // A reader's retention may be deleting this segment right now
            // (data file first, then index): then it is already gone.
            let p = dir.join(index_file_name(s));
            if remove_if_present(&p, "remove index file without data file")? {
                rep.removed.push(p);
                changed = true;
            }
        }
    }
    Ok(changed)
}

fn remove_if_present(p: &Path, op: &'static str) -> Result<bool> {
    match crate::storage::file::remove_file(p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(op, p, e)),
    }
}
