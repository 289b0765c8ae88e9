//! Topic administration: what each topic holds, read from its files.

use std::path::Path;

use crate::config::Config;
use crate::error::{IoContext, Result};
use crate::format::block::COMPRESSED;
use crate::format::naming::data_file_name;
use crate::format::segment::DATA_START;
use crate::layout::{Layout, list_topics};
use crate::segment::budget::disk_bytes;
use crate::segment::compressed::{list_blocks, step_bytes, walk};
use crate::segment::recovery::list_segments;
use crate::segment::scan::{Step, step};
use crate::segment::{read_header, read_watermark};
use crate::storage::Mapping;
use crate::storage::file::open_ro;

/// What one topic holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    let (next, newest) = extent(&dir.join(data_file_name(last)), last)?;
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

/// Next sequence number and newest timestamp of a segment: from its durable
/// watermark, then a scan of the frames after it.
fn extent(path: &Path, base: u64) -> Result<(u64, Option<u64>)> {
    let f = open_ro(path).ctx("open data file", path)?;
    let len = f.metadata().ctx("stat data file", path)?.len();
    if len < DATA_START {
        return Ok((base, None));
    }
    let map = Mapping::map(&f, len, false, path).ctx("map data file", path)?;
    let wm = read_watermark(&map);
    if crate::segment::read_header_of(&f, path).is_ok_and(|(h, _, _)| h.flags & COMPRESSED != 0) {
        if let Some(w) = wm.filter(|w| w.is_sealed()) {
            return Ok((w.sealed_next, (w.last_time != 0).then_some(w.last_time)));
        }
        let mut newest = None;
        let walked = walk(&map, len, base, None, |v| newest = Some(v.timestamp));
        return Ok((walked.next_seq, newest));
    }
    let (mut off, mut seq) = wm.map_or((DATA_START, base), |w| (w.durable_end, w.durable_next));
    let mut newest = wm.and_then(|w| (w.last_time != 0).then_some(w.last_time));
    if let Some(w) = wm
        && w.is_sealed()
    {
        return Ok((w.sealed_next, newest));
    }
    loop {
        match step(&map, off, len) {
            Step::Record { seq: s, timestamp, next, .. } if s == seq => {
                newest = Some(timestamp);
                seq += 1;
                off = next;
            }
            Step::Seal { next_seq } if next_seq == seq => return Ok((seq, newest)),
            _ => return Ok((seq, newest)),
        }
    }
}

fn first_record_time(path: &Path) -> Option<u64> {
    let f = open_ro(path).ok()?;
    let len = f.metadata().ok()?.len();
    let map = Mapping::map(&f, len.max(1), false, path).ok()?;
    if crate::segment::read_header_of(&f, path).is_ok_and(|(h, _, _)| h.flags & COMPRESSED != 0) {
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
