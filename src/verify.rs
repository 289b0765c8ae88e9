//! `verify`: an fsck for a log directory. Walks every segment, index and
//! checkpoint and reports what is valid, what is damaged and where. Reads
//! only: it takes no lock and changes nothing, so it can run beside a live
//! writer (a segment being written may then show a tail that is still moving).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{IoContext, Result};
use crate::format::block::COMPRESSED;
use crate::format::naming::{data_file_name, index_file_name};
use crate::format::segment::{DATA_START, IndexHeader, IndexSlot, Watermark};
use crate::group::group_positions;
use crate::layout::{Layout, list_topics};
use crate::segment::compressed::{list_blocks, step_bytes, walk};
use crate::segment::recovery::list_segments;
use crate::segment::scan::{Step, index_entry, resync, step};
use crate::storage::Mapping;
use crate::storage::file::open_ro;

/// What `verify` found in a log directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VerifyReport {
    /// One entry per topic directory.
    pub topics: Vec<TopicReport>,
    /// One entry per registered group.
    pub groups: Vec<GroupReport>,
}

/// One topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TopicReport {
    /// The topic.
    pub topic: String,
    /// Its segments, oldest first.
    pub segments: Vec<SegmentReport>,
    /// Files set aside by recovery (`*.lost-*`).
    pub set_aside: Vec<PathBuf>,
    /// Gaps between segments: (expected seq, first seq of the next segment).
    pub gaps: Vec<(u64, u64)>,
}

/// One segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SegmentReport {
    /// The data file.
    pub path: PathBuf,
    /// First sequence number (from the header, or the file name if damaged).
    pub base_seq: u64,
    /// Sequence number after the last valid record.
    pub next_seq: u64,
    /// Valid records.
    pub records: u64,
    /// Data bytes of valid records.
    pub bytes: u64,
    /// Timestamps of the first and last valid records (0 if none).
    pub first_time: u64,
    /// See `first_time`.
    pub last_time: u64,
    /// Ends with a valid seal frame.
    pub sealed: bool,
    /// The header failed its check.
    pub header_damaged: bool,
    /// The durable watermark failed its check.
    pub watermark_damaged: bool,
    /// Damaged spans inside the written part (bit rot): never delivered.
    pub damage: Vec<Damage>,
    /// Bytes after the last valid frame of an unsealed segment (a torn tail
    /// that the next writer's recovery cuts), if any.
    pub torn_tail_at: Option<u64>,
    /// Index problems: entries damaged or pointing at the wrong frame.
    pub index_problems: Vec<String>,
}

/// A damaged span of a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Damage {
    /// Where it starts.
    pub offset: u64,
    /// Where valid frames resume (or the end of what was checked).
    pub resumes_at: u64,
    /// First sequence number that could not be read.
    pub first_seq: u64,
    /// Records lost in the span.
    pub skipped: u64,
}

/// One group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GroupReport {
    /// The group.
    pub group: String,
    /// Saved positions: (topic, next seq to deliver).
    pub positions: Vec<(String, u64)>,
    /// Positions past the end of their topic: (topic, saved, end).
    pub past_end: Vec<(String, u64, u64)>,
    /// Damaged checkpoint entries: (file, byte offset).
    pub damaged_entries: Vec<(PathBuf, u64)>,
    /// Checkpoint files whose header is unreadable.
    pub unreadable_files: Vec<PathBuf>,
}

impl VerifyReport {
    /// True when nothing is damaged anywhere (torn tails awaiting recovery
    /// and files set aside by an earlier recovery are not damage).
    pub fn is_clean(&self) -> bool {
        self.topics.iter().all(|t| {
            t.gaps.is_empty()
                && t.segments.iter().all(|s| {
                    s.damage.is_empty() && !s.header_damaged && !s.watermark_damaged && s.index_problems.is_empty()
                })
        }) && self
            .groups
            .iter()
            .all(|g| g.past_end.is_empty() && g.damaged_entries.is_empty() && g.unreadable_files.is_empty())
    }

    /// Records lost to damage, over all topics.
    pub fn records_lost(&self) -> u64 {
        self.topics.iter().flat_map(|t| &t.segments).flat_map(|s| &s.damage).map(|d| d.skipped).sum()
    }
}

impl TopicReport {
    /// Sequence number after the last valid record of the topic.
    pub fn next_seq(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.next_seq)
    }
    /// First retained sequence number.
    pub fn first_seq(&self) -> u64 {
        self.segments.first().map_or(0, |s| s.base_seq)
    }
    /// Valid records.
    pub fn records(&self) -> u64 {
        self.segments.iter().map(|s| s.records).sum()
    }
}

/// Checks every segment, index and checkpoint of the log in `cfg.base_dir()`.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let cfg = logstream::Config::new(dir.path());
/// let w = logstream::Writer::open(&cfg)?;
/// w.write("t", b"x")?;
/// w.close()?;
/// let report = logstream::verify(&cfg)?;
/// assert!(report.is_clean());
/// assert_eq!(report.topics[0].records(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// I/O errors listing or reading the directory (damage is reported, not an error).
pub fn verify(cfg: &Config) -> Result<VerifyReport> {
    verify_with_progress(cfg, |_, _| {})
}

/// [`verify`], calling `progress(done, total)` after each segment.
///
/// # Errors
/// As [`verify`].
pub fn verify_with_progress(cfg: &Config, mut progress: impl FnMut(usize, usize)) -> Result<VerifyReport> {
    let layout = Layout::new(cfg.base_dir());
    let mut report = VerifyReport::default();
    let topics = list_topics(&layout)?;
    let mut plan = Vec::new();
    for t in &topics {
        plan.push((t.clone(), list_segments(&layout.topic(t))?));
    }
    let total: usize = plan.iter().map(|(_, s)| s.len()).sum();
    let mut done = 0;
    for (topic, segs) in plan {
        let dir = layout.topic(&topic);
        let mut tr = TopicReport { topic: topic.clone(), ..TopicReport::default() };
        for entry in std::fs::read_dir(&dir).ctx("list topic directory", &dir)? {
            let name = entry.ctx("list topic directory", &dir)?.file_name();
            let name = name.to_string_lossy();
            if name.contains(".lost-") {
                tr.set_aside.push(dir.join(name.as_ref()));
            }
        }
        tr.set_aside.sort();
        let mut expected: Option<u64> = None;
        for base in segs {
            let s = check_segment(&dir, base)?;
            if let Some(e) = expected
                && s.base_seq != e
            {
                tr.gaps.push((e, s.base_seq));
            }
            expected = Some(s.next_seq);
            tr.segments.push(s);
            done += 1;
            progress(done, total);
        }
        report.topics.push(tr);
    }
    for (group, positions, load) in group_positions(&layout)? {
        let mut gr = GroupReport {
            group,
            damaged_entries: load.damaged,
            unreadable_files: load.unreadable,
            ..GroupReport::default()
        };
        for (topic, next) in positions {
            if let Some(t) = report.topics.iter().find(|t| t.topic == topic)
                && next > t.next_seq()
            {
                gr.past_end.push((topic.clone(), next, t.next_seq()));
            }
            gr.positions.push((topic, next));
        }
        gr.positions.sort();
        report.groups.push(gr);
    }
    Ok(report)
}

fn check_segment(dir: &Path, base: u64) -> Result<SegmentReport> {
    let path = dir.join(data_file_name(base));
    let index_path = dir.join(index_file_name(base));
    let mut r = SegmentReport { path: path.clone(), base_seq: base, next_seq: base, ..SegmentReport::default() };
    let file = open_ro(&path).ctx("open data file", &path)?;
    let (header_ok, wm, mut compressed) = match crate::segment::read_header_of(&file, &path) {
        Ok((h, wm, _)) => {
            r.base_seq = h.base_seq;
            (true, wm, h.flags & COMPRESSED != 0)
        }
        Err(_) => (false, None, false),
    };
    r.header_damaged = !header_ok;
    let len = file.metadata().ctx("stat data file", &path)?.len();
    if len < DATA_START {
        r.header_damaged = true;
        return Ok(r);
    }
    r.watermark_damaged = header_ok && wm.is_none();
    let map = Mapping::map(&file, len, false, &path).ctx("map data file", &path)?;
    if !header_ok {
        // A compressed segment with a damaged header still starts with a block.
        compressed = crate::segment::guess_header(&path, &index_path, base)?.is_some_and(|h| h.flags & COMPRESSED != 0);
    }
    if compressed {
        check_compressed(&map, len, wm, &mut r);
        let blocks = list_blocks(&map, len);
        let mut cache: Option<(u64, Option<Vec<u8>>)> = None;
        check_index(&index_path, &mut r, |off| {
            let b = blocks.iter().rev().find(|b| b.header.raw_offset <= off && off < b.raw_end())?;
            if cache.as_ref().is_none_or(|c| c.0 != b.file_off) {
                cache = Some((b.file_off, b.unpack(&map, len).ok()));
            }
            let buf = cache.as_ref()?.1.as_ref()?;
            match step_bytes(buf, b.header.raw_offset, off) {
                Step::Record { seq, .. } => Some(seq),
                _ => None,
            }
        });
        return Ok(r);
    }
    let durable_end = wm.map_or(DATA_START, |w| w.durable_end);
    let sealed_end = wm.and_then(|w| w.is_sealed().then_some((w.sealed_end, w.sealed_next)));
    let mut off = DATA_START;
    let mut seq = r.base_seq;
    loop {
        match step(&map, off, len) {
            Step::Record { seq: s, timestamp, payload, next } if s == seq => {
                if r.first_time == 0 {
                    r.first_time = timestamp.max(1);
                }
                r.last_time = timestamp;
                r.records += 1;
                r.bytes += payload.len() as u64;
                seq += 1;
                off = next;
            }
            Step::Seal { next_seq } if next_seq == seq => {
                r.sealed = true;
                break;
            }
            Step::Empty if sealed_end.is_none_or(|(e, _)| off >= e) => break,
            _ => {
                let known_end = sealed_end.map(|(e, _)| e).unwrap_or(durable_end);
                if off >= known_end && sealed_end.is_none() {
                    // After the watermark of an open segment: a torn tail.
                    r.torn_tail_at = Some(off);
                    break;
                }
                let (bound_off, bound_seq) = sealed_end.unwrap_or((len, u64::MAX));
                let found = resync(&map, len, off, bound_off + 1, seq.checked_sub(1), bound_seq.saturating_add(1));
                let (to_off, to_seq) = match found {
                    Some((o, s)) => (o, s),
                    None => (bound_off.min(len), bound_seq.min(seq)),
                };
                r.damage.push(Damage { offset: off, resumes_at: to_off, first_seq: seq, skipped: to_seq - seq });
                if found.is_none() || to_off <= off {
                    if let Some((_, next)) = sealed_end {
                        seq = next;
                    }
                    break;
                }
                off = to_off;
                seq = to_seq;
            }
        }
    }
    r.next_seq = seq;
    check_index(&index_path, &mut r, |off| match step(&map, off, len) {
        Step::Record { seq, .. } => Some(seq),
        _ => None,
    });
    Ok(r)
}

/// Walks the blocks and frames of a compressed segment.
fn check_compressed(map: &Mapping, len: u64, wm: Option<Watermark>, r: &mut SegmentReport) {
    let sealed_next = wm.filter(|w| w.is_sealed()).map(|w| w.sealed_next);
    let walked = walk(map, len, r.base_seq, sealed_next, |v| {
        if r.first_time == 0 {
            r.first_time = v.timestamp.max(1);
        }
        r.last_time = v.timestamp;
        r.records += 1;
        r.bytes += v.payload.len() as u64;
    });
    r.sealed = walked.sealed;
    r.next_seq = walked.next_seq;
    r.damage.extend(walked.damage.iter().map(|d| Damage {
        offset: d.file_off,
        resumes_at: d.resumes_off,
        first_seq: d.first_seq,
        skipped: d.resumes_seq - d.first_seq,
    }));
}

/// Checks every entry of an index file; `seq_at(offset)` is the sequence
/// number of the record at an offset of the data file, if one is there.
fn check_index(index_path: &Path, r: &mut SegmentReport, mut seq_at: impl FnMut(u64) -> Option<u64>) {
    let Ok(f) = open_ro(index_path) else {
        r.index_problems.push("index file missing".into());
        return;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len < crate::format::segment::INDEX_START {
        r.index_problems.push("index file shorter than its header".into());
        return;
    }
    let Ok(map) = Mapping::map(&f, len, false, index_path) else {
        r.index_problems.push("index file unreadable".into());
        return;
    };
    if IndexHeader::decode(map.bytes(0, 64)).is_err() {
        r.index_problems.push("index header damaged".into());
    }
    let mut i = 0;
    loop {
        match index_entry(&map, len, i) {
            IndexSlot::Empty => break,
            IndexSlot::Damaged => r.index_problems.push(format!("entry {i} damaged")),
            IndexSlot::Entry(e) => {
                if seq_at(e.offset) != Some(e.seq) {
                    r.index_problems.push(format!("entry {i} (seq {}) does not point at its record", e.seq));
                }
            }
        }
        i += 1;
    }
}
