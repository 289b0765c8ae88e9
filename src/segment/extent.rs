//! What a topic directory holds, read from its files alone: first and next
//! sequence numbers, records, bytes on disk, segments, first record time
//! (`logstream::topics`, `Writer::topics`, lag counts).

use std::path::Path;

use super::budget::disk_bytes;
use super::compressed::{list_blocks, step_bytes, walk};
use super::recovery::list_segments;
use super::scan::{Step, step};
use super::{read_header, read_watermark};
use crate::config::Config;
use crate::error::{IoContext, Result};
use crate::format::block::COMPRESSED;
use crate::format::frame::SEAL_LEN;
use crate::format::naming::data_file_name;
use crate::format::segment::DATA_START;
use crate::layout::{Layout, list_topics};
use crate::storage::Mapping;
use crate::storage::file::open_ro;

/// What one topic holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TopicInfo {
    /// The topic.
    pub topic: String,
    /// First retained sequence number.
    pub first_seq: u64,
    /// Sequence number the next record will get.
    pub next_seq: u64,
    /// Records retained (`next_seq - first_seq`).
    pub records: u64,
    /// Segment files.
    pub segments: usize,
    /// Bytes the topic's files occupy on disk.
    pub disk_bytes: u64,
    /// Timestamp of the oldest retained record (ns since the Unix epoch).
    pub oldest_time: Option<u64>,
    /// Timestamp of the newest record.
    pub newest_time: Option<u64>,
}

/// Every topic of the log in `cfg.base_dir()`, read from the files (no lock
/// taken; a topic being written shows what was written when it was read).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let cfg = logstream::Config::new(dir.path());
/// let w = logstream::Writer::open(&cfg)?;
/// w.write("a", b"x")?;
/// w.write("a", b"y")?;
/// let t = &logstream::topics(&cfg)?[0];
/// assert_eq!((t.topic.as_str(), t.first_seq, t.next_seq), ("a", 0, 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// I/O errors reading the directory.
pub fn topics(cfg: &Config) -> Result<Vec<TopicInfo>> {
    let layout = Layout::new(cfg.base_dir());
    list_topics(&layout)?.into_iter().map(|t| topic_info(&layout.topic(&t), &t)).collect()
}

/// What one topic directory holds.
pub(crate) fn topic_info(dir: &Path, topic: &str) -> Result<TopicInfo> {
    let mut info = TopicInfo { topic: topic.to_owned(), ..TopicInfo::default() };
    for e in std::fs::read_dir(dir).ctx("list topic directory", dir)? {
        if let Ok(m) = e.ctx("list topic directory", dir)?.metadata() {
            info.disk_bytes += disk_bytes(&m);
        }
    }
    let segs = list_segments(dir)?;
    info.segments = segs.len();
    let (Some(&first), Some(&last)) = (segs.first(), segs.last()) else { return Ok(info) };
    info.first_seq = first;
    let (next, newest, _) = extent(&dir.join(data_file_name(last)), last)?;
    info.next_seq = next;
    info.records = next.saturating_sub(first);
    info.newest_time = newest;
    info.oldest_time = match read_header(&dir.join(data_file_name(first))) {
        Ok((_, Some(w), _)) if w.first_time != 0 => Some(w.first_time),
        _ => first_record_time(&dir.join(data_file_name(first))),
    };
    if info.records == 0 {
        info.oldest_time = None;
        info.newest_time = None;
    }
    Ok(info)
}

/// The next sequence number of the topic in `dir` (0 for no segment).
pub(crate) fn next_seq(dir: &Path) -> Result<u64> {
    match list_segments(dir)?.last() {
        Some(&last) => Ok(extent(&dir.join(data_file_name(last)), last)?.0),
        None => Ok(0),
    }
}

/// Bytes of frames (headers included, as in the plain data files) from the
/// record `seq` to the end of the topic in `dir`: what a group standing at
/// `seq` has left to read. Within the segment holding `seq`, a compressed
/// segment counts from the index entry before it (at most
/// `index_interval_bytes` more).
pub(crate) fn frame_bytes_from(dir: &Path, seq: u64) -> Result<u64> {
    let segs = list_segments(dir)?;
    let mut total = 0;
    for (i, &base) in segs.iter().enumerate() {
        if segs.get(i + 1).is_some_and(|&next| next <= seq) {
            continue;
        }
        let path = dir.join(data_file_name(base));
        let (_, _, end) = extent(&path, base)?;
        let start = if seq > base { offset_of(&path, seq).unwrap_or(DATA_START) } else { DATA_START };
        total += end.saturating_sub(start);
    }
    Ok(total)
}

/// Offset of record `seq` in a data file (raw offsets for a compressed one),
/// from the index entry before it.
fn offset_of(path: &Path, seq: u64) -> Option<u64> {
    let seg = super::read::ReadSegment::open(path).ok()?;
    let (mut off, mut s) = seg.index_floor(seq).map_or((DATA_START, seg.base_seq()), |e| (e.offset, e.seq));
    if seg.blocks.is_some() {
        return Some(off);
    }
    while s < seq {
        match seg.step(off) {
            Step::Record { seq: got, next, .. } if got == s => {
                off = next;
                s += 1;
            }
            _ => return None,
        }
    }
    Some(off)
}

/// Next sequence number, newest timestamp and end offset (after the last
/// frame, the seal included) of a segment: from its durable watermark, then
/// a scan of the frames after it.
fn extent(path: &Path, base: u64) -> Result<(u64, Option<u64>, u64)> {
    let f = open_ro(path).ctx("open data file", path)?;
    let len = f.metadata().ctx("stat data file", path)?.len();
    if len < DATA_START {
        return Ok((base, None, DATA_START));
    }
    let map = Mapping::map(&f, len, false, path).ctx("map data file", path)?;
    let wm = read_watermark(&map);
    let seal = SEAL_LEN as u64;
    if super::read_header_of(&f, path).is_ok_and(|(h, _, _)| h.flags & COMPRESSED != 0) {
        if let Some(w) = wm.filter(|w| w.is_sealed()) {
            return Ok((w.sealed_next, (w.last_time != 0).then_some(w.last_time), w.sealed_end + seal));
        }
        let mut newest = None;
        let walked = walk(&map, len, base, None, |v| newest = Some(v.timestamp));
        let end = list_blocks(&map, len).last().map_or(DATA_START, |b| b.raw_end());
        return Ok((walked.next_seq, newest, end));
    }
    let (mut off, mut seq) = wm.map_or((DATA_START, base), |w| (w.durable_end, w.durable_next));
    let mut newest = wm.and_then(|w| (w.last_time != 0).then_some(w.last_time));
    if let Some(w) = wm
        && w.is_sealed()
    {
        return Ok((w.sealed_next, newest, w.sealed_end + seal));
    }
    loop {
        match step(&map, off, len) {
            Step::Record { seq: s, timestamp, next, .. } if s == seq => {
                newest = Some(timestamp);
                seq += 1;
                off = next;
            }
            Step::Seal { next_seq } if next_seq == seq => return Ok((seq, newest, off + seal)),
            _ => return Ok((seq, newest, off)),
        }
    }
}

fn first_record_time(path: &Path) -> Option<u64> {
    let f = open_ro(path).ok()?;
    let len = f.metadata().ok()?.len();
    let map = Mapping::map(&f, len.max(1), false, path).ok()?;
    if super::read_header_of(&f, path).is_ok_and(|(h, _, _)| h.flags & COMPRESSED != 0) {
        let buf = list_blocks(&map, len).first()?.unpack(&map, len).ok()?;
        return match step_bytes(&buf, DATA_START, DATA_START) {
            Step::Record { timestamp, .. } => Some(timestamp),
            _ => None,
        };
    }
    match step(&map, DATA_START, len) {
        Step::Record { timestamp, .. } => Some(timestamp),
        _ => None,
    }
}
