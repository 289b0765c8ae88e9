//! A position in one topic and the walk that cuts batches from it. Shared by
//! the push `Reader` and the pull `Cursor`.
//!
//! Policy for frames that are not the expected record:
//! - before the segment's durable watermark, or anywhere in a finished
//!   segment: damage. It is reported, and the walk resumes at the next frame
//!   that checks out (found through the index and a scan of aligned offsets);
//! - otherwise: the end of what is written so far (a torn tail left by a
//!   crashed writer is cut by the next writer's recovery, which seals the
//!   segment there).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::batch::{Batch, Source};
use crate::error::Result;
use crate::format::naming::data_file_name;
use crate::format::segment::DATA_START;
use crate::segment::read::ReadSegment;
use crate::segment::recovery::list_segments;
use crate::segment::scan::{Step, resync};

/// Something the walk noticed that the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Corruption {
    /// Damaged bytes were skipped; `skipped` records could not be read.
    Damaged {
        /// The topic.
        topic: String,
        /// The data file.
        segment: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// First sequence number that could not be read.
        first_seq: u64,
        /// Records skipped.
        skipped: u64,
    },
    /// Records were deleted (or lost) before this reader got to them.
    Gap {
        /// The topic.
        topic: String,
        /// First missing sequence number.
        from_seq: u64,
        /// Sequence number the reader resumed at.
        to_seq: u64,
    },
    /// A saved position pointed past the end of the log; it was moved back.
    PastEnd {
        /// The topic.
        topic: String,
        /// The saved position.
        saved: u64,
        /// Where reading resumes (the log's end).
        end: u64,
    },
}

impl std::fmt::Display for Corruption {
    /// One line for a log: what was skipped or moved, in which topic and file.
    ///
    /// ```
    /// let c = logstream::Corruption::Gap { topic: "orders".into(), from_seq: 10, to_seq: 25 };
    /// assert_eq!(c.to_string(), "topic \"orders\": records 10..25 are gone (deleted or lost); reading resumes at 25");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Corruption::Damaged { topic, segment, offset, first_seq, skipped } => write!(
                f,
                "topic {topic:?}: damaged bytes at offset {offset} of {}; {skipped} record(s) from seq {first_seq} skipped",
                segment.display()
            ),
            Corruption::Gap { topic, from_seq, to_seq } => write!(
                f,
                "topic {topic:?}: records {from_seq}..{to_seq} are gone (deleted or lost); reading resumes at {to_seq}"
            ),
            Corruption::PastEnd { topic, saved, end } => write!(
                f,
                "topic {topic:?}: the saved position {saved} is past the log's end {end}; reading resumes at {end}"
            ),
        }
    }
}

/// What a fill produced.
pub(crate) enum Fill {
    /// Records.
    Batch(Batch),
    /// Nothing to read now; arm waiting on this segment.
    CaughtUp(Option<Arc<ReadSegment>>),
}

/// A reading position in one topic.
pub(crate) struct Cursor {
    pub topic: Arc<str>,
    dir: PathBuf,
    seg: Option<Arc<ReadSegment>>,
    off: u64,
    /// Next sequence number to read.
    pub next_seq: u64,
    positioned: bool,
    report_gaps: bool,
    log_id: u64,
    /// After a seek into a compressed block: records below this are skipped.
    skip_until: Option<u64>,
}

impl Cursor {
    /// A cursor that will start at `next_seq` (0: the earliest retained
    /// record). `report_gaps`: a missing start is reported (the group had
    /// confirmed records before), not silently moved.
    pub(crate) fn new(dir: &Path, topic: &str, next_seq: u64, report_gaps: bool, log_id: u64) -> Cursor {
        Cursor {
            topic: topic.into(),
            dir: dir.to_path_buf(),
            seg: None,
            off: DATA_START,
            next_seq,
            positioned: false,
            report_gaps,
            log_id,
            skip_until: None,
        }
    }

    /// Moves to `seq` (lazily: the next fill seeks).
    pub(crate) fn reset(&mut self, seq: u64) {
        self.next_seq = seq;
        self.seg = None;
        self.positioned = false;
        self.report_gaps = true;
    }

    /// Moves past a delivered (confirmed) part: the batch's records before
    /// `seq` (`seq` in the batch or one past it).
    pub(crate) fn advance(&mut self, batch: &Batch, seq: u64) {
        self.off = batch.offset_of(seq);
        self.next_seq = seq;
        self.seg = Some(batch.source.seg().clone());
    }

    /// Whether a frame has been published at the cursor (cheap: one load).
    pub(crate) fn peek(&self) -> bool {
        self.seg.as_ref().is_some_and(|s| {
            self.off + 8 <= s.file_len()
                && s.map.atomic_u64(self.off as usize).load(std::sync::atomic::Ordering::Acquire) != 0
        })
    }

    /// Cuts the next batch of at most `max_bytes` of data (a larger record
    /// comes alone), without moving the cursor.
    pub(crate) fn fill(&mut self, max_bytes: u64, events: &mut Vec<Corruption>) -> Result<Fill> {
        let mut skipped_before = 0;
        let events_before = events.len();
        loop {
            if !self.positioned && !self.seek(events)? {
                return Ok(Fill::CaughtUp(None));
            }
            let Some(seg) = self.seg.clone() else { return Ok(Fill::CaughtUp(None)) };
            let source = if seg.blocks.is_some() {
                match self.block_source(&seg, events)? {
                    Ok(src) => src,
                    // Skipped damage: look again from where the cursor is now.
                    Err(true) => continue,
                    // Nothing readable after it yet (no later segment): stop
                    // here rather than look again and again.
                    Err(false) => return Ok(Fill::CaughtUp(Some(seg))),
                }
            } else {
                seg.read_ahead(self.off);
                Source::Map(seg.clone())
            };
            let (mut start, mut first) = (self.off, self.next_seq);
            let (mut off, mut seq, mut bytes, mut count) = (start, first, 0u64, 0u64);
            enum Stop {
                Full,
                End,
                Seal(u64),
                Bad,
            }
            let stop = loop {
                match source.step(off) {
                    // After a seek into a compressed block: records before the
                    // target are passed over, not delivered.
                    Step::Record { seq: s, next, .. } if s == seq && self.skip_until.is_some_and(|u| s < u) => {
                        seq += 1;
                        off = next;
                        (start, first) = (off, seq);
                    }
                    Step::Record { seq: s, payload, next, .. } if s == seq => {
                        let n = payload.len() as u64;
                        if count > 0 && bytes + n > max_bytes {
                            break Stop::Full;
                        }
                        bytes += n;
                        count += 1;
                        seq += 1;
                        off = next;
                        if bytes >= max_bytes {
                            break Stop::Full;
                        }
                        if count & 4095 == 0 {
                            seg.read_ahead(off);
                        }
                    }
                    Step::Seal { next_seq } if next_seq == seq => break Stop::Seal(next_seq),
                    Step::Empty => break Stop::End,
                    _ => break Stop::Bad,
                }
            };
            self.skip_until = None;
            if count > 0 {
                // Records deleted before this group read them (damage is
                // counted where it is skipped).
                skipped_before += events[events_before..]
                    .iter()
                    .map(|e| match e {
                        Corruption::Gap { from_seq, to_seq, .. } => to_seq.saturating_sub(*from_seq),
                        _ => 0,
                    })
                    .sum::<u64>();
                return Ok(Fill::Batch(Batch {
                    topic: self.topic.clone(),
                    source,
                    start,
                    end: off,
                    first_seq: first,
                    count,
                    bytes,
                    confirmed: Arc::new(AtomicU64::new(first)),
                    attempt: 1,
                    log_id: self.log_id,
                    skipped_before,
                    seek_to: AtomicU64::new(u64::MAX),
                    failed: AtomicU64::new(u64::MAX),
                    revoked: Default::default(),
                }));
            }
            match stop {
                // The end of a block: the next block continues the segment.
                Stop::End if matches!(source, Source::Block { .. }) => {
                    self.off = off;
                    self.next_seq = seq;
                }
                // Zeros where frames were already written (before the durable
                // watermark, or anywhere in a sealed segment, a lost seal frame
                // included) are damage, not the end: skip them as `verify` does.
                Stop::End if self.is_finished(&seg, off) => match self.skip_damage(&seg, off, events)? {
                    Some(n) => skipped_before += n,
                    None => return Ok(Fill::CaughtUp(Some(seg))),
                },
                // `Full` comes only after a record was added; both mean "nothing now".
                Stop::Full | Stop::End => return Ok(Fill::CaughtUp(Some(seg))),
                Stop::Seal(next) => {
                    // An empty segment's seal names the segment itself; the
                    // next writer session replaces it with a new file.
                    let moved = self.enter(next, events)?
                        && self.seg.as_ref().is_some_and(|s| !Arc::ptr_eq(s, &seg) && s.header != seg.header);
                    if !moved && !self.dir.is_dir() {
                        // The topic was deleted: let go of its last segment
                        // (its space is freed once nobody maps it) and look
                        // for `seq` again, in a re-created directory.
                        self.seg = None;
                        self.positioned = false;
                        self.next_seq = seq;
                        return Ok(Fill::CaughtUp(None));
                    }
                    if !moved {
                        // The writer rings this sealed segment's waiters when
                        // it starts the next one.
                        self.seg = Some(seg.clone());
                        self.off = off;
                        self.next_seq = seq;
                        return Ok(Fill::CaughtUp(Some(seg)));
                    }
                }
                Stop::Bad if seg.blocks.is_some() => {
                    // Frames inside a block whose CRC checked: skip the block.
                    let i = seg.block_at(off).unwrap_or(0);
                    match self.skip_block(&seg, i, events)? {
                        Some(n) => skipped_before += n,
                        None => return Ok(Fill::CaughtUp(Some(seg))),
                    }
                }
                Stop::Bad => {
                    if !self.is_finished(&seg, off) {
                        return Ok(Fill::CaughtUp(Some(seg)));
                    }
                    match self.skip_damage(&seg, off, events)? {
                        Some(n) => skipped_before += n,
                        // Nothing readable after the damage yet.
                        None => return Ok(Fill::CaughtUp(Some(seg))),
                    }
                }
            }
        }
    }

    /// The decompressed block at the cursor of a compressed segment, or,
    /// after a damaged block, whether skipping it moved the cursor (`true`:
    /// look again; `false`: nothing to read after it yet).
    fn block_source(
        &mut self,
        seg: &Arc<ReadSegment>,
        events: &mut Vec<Corruption>,
    ) -> Result<std::result::Result<Source, bool>> {
        let Some(i) = seg.block_at(self.off) else {
            // Past the last readable block: what is left was lost to damage.
            let i = seg.blocks.as_ref().map_or(0, |b| b.list.len());
            return Ok(Err(self.skip_block(seg, i, events)?.is_some()));
        };
        match seg.block(i) {
            Ok(buf) => {
                let raw_offset = seg.blocks.as_ref().map_or(0, |b| b.list[i].header.raw_offset);
                Ok(Ok(Source::Block { seg: seg.clone(), buf, raw_offset }))
            }
            Err(_) => Ok(Err(self.skip_block(seg, i, events)?.is_some())),
        }
    }

    /// Skips damaged block `i` of a compressed segment (or, past the last
    /// block, the rest of the segment), reporting the records lost.
    fn skip_block(&mut self, seg: &Arc<ReadSegment>, i: usize, events: &mut Vec<Corruption>) -> Result<Option<u64>> {
        let list = seg.blocks.as_ref().map(|b| b.list.as_slice()).unwrap_or(&[]);
        let first = self.next_seq;
        let (offset, resume) = match (list.get(i), list.get(i + 1)) {
            (Some(b), Some(next)) => (b.file_off, Some((next.header.raw_offset, next.header.first_seq))),
            (Some(b), None) => (b.file_off, None),
            (None, _) => (seg.file_len(), None),
        };
        match resume {
            Some((off, seq)) => {
                self.off = off;
                self.next_seq = seq;
            }
            None => {
                // The segment's end is lost: continue with the next segment.
                let next = list_segments(&self.dir)?.into_iter().find(|&b| b > seg.base_seq());
                match next {
                    Some(b) if self.enter(b, events)? => {}
                    _ => return Ok(None),
                }
            }
        }
        let skipped = self.next_seq.saturating_sub(first);
        log::warn!(
            "topic {:?}: damaged block in {} at byte {offset}; skipped {skipped} record(s) from seq {first}",
            self.topic,
            seg.path.display()
        );
        events.push(Corruption::Damaged {
            topic: self.topic.to_string(),
            segment: seg.path.clone(),
            offset,
            first_seq: first,
            skipped,
        });
        Ok(Some(skipped))
    }

    /// True when `off` can no longer become a valid frame: it lies before the
    /// durable watermark, or the segment is sealed (or, with an unreadable
    /// watermark, a later segment exists).
    fn is_finished(&self, seg: &ReadSegment, off: u64) -> bool {
        match seg.watermark() {
            Some(w) => off < w.durable_end || w.is_sealed(),
            None => list_segments(&self.dir).is_ok_and(|s| s.iter().any(|&b| b > seg.base_seq())),
        }
    }

    /// Skips damage at `off` in `seg`; returns the records skipped, or `None`
    /// when there is nothing valid after the damage (yet).
    fn skip_damage(&mut self, seg: &Arc<ReadSegment>, off: u64, events: &mut Vec<Corruption>) -> Result<Option<u64>> {
        let wm = seg.watermark();
        let (mut bound_off, mut bound_seq) = match wm {
            Some(w) if w.is_sealed() => (w.sealed_end, w.sealed_next),
            Some(w) => (w.durable_end, w.durable_next),
            None => (seg.file_len(), u64::MAX),
        };
        if let Some(e) = seg.index_after(off)
            && e.offset < bound_off
        {
            bound_off = e.offset;
            bound_seq = e.seq;
        }
        let last_good = self.next_seq.checked_sub(1);
        let found = resync(&seg.map, seg.refresh_len(), off, bound_off + 1, last_good, bound_seq.saturating_add(1));
        let (new_off, new_seq) = found.unwrap_or((bound_off, bound_seq));
        let first = self.next_seq;
        if new_seq == u64::MAX || (new_off <= off && new_seq <= first) {
            // Nothing to resume at in this segment: go to the next one.
            let next = list_segments(&self.dir)?.into_iter().find(|&b| b > seg.base_seq());
            match next {
                Some(b) if self.enter(b, events)? => {}
                _ => {
                    self.seg = Some(seg.clone());
                    self.off = off;
                    return Ok(None);
                }
            }
        } else {
            self.off = new_off;
            self.next_seq = new_seq;
        }
        let skipped = self.next_seq.saturating_sub(first);
        log::warn!(
            "topic {:?}: damaged data in {} at byte {off}; skipped {skipped} record(s) from seq {first}",
            self.topic,
            seg.path.display()
        );
        events.push(Corruption::Damaged {
            topic: self.topic.to_string(),
            segment: seg.path.clone(),
            offset: off,
            first_seq: first,
            skipped,
        });
        Ok(Some(skipped))
    }

    /// Enters the segment starting at `seq` (named by a seal), or the first
    /// one after it if it is gone. False if there is none yet.
    fn enter(&mut self, seq: u64, events: &mut Vec<Corruption>) -> Result<bool> {
        let path = self.dir.join(data_file_name(seq));
        match ReadSegment::open(&path) {
            Ok(s) => {
                self.note_header(&s, events);
                self.seg = Some(Arc::new(s));
                self.off = DATA_START;
                self.next_seq = seq;
                Ok(true)
            }
            Err(_) => {
                let segs = match list_segments(&self.dir) {
                    Ok(segs) => segs,
                    // The topic was deleted: its next records, if it is
                    // written again, start at `seq` in a new directory.
                    Err(e) if e.is_not_found() => return Ok(false),
                    Err(e) => return Err(e),
                };
                let Some(&b) = segs.iter().find(|&&b| b >= seq) else {
                    return Ok(false);
                };
                let s = match ReadSegment::open(&self.dir.join(data_file_name(b))) {
                    Ok(s) => s,
                    // Deleted meanwhile: the next fill looks again.
                    Err(e) if e.is_not_found() => return Ok(false),
                    Err(e) => return Err(e),
                };
                self.note_header(&s, events);
                if b > seq {
                    events.push(Corruption::Gap { topic: self.topic.to_string(), from_seq: seq, to_seq: b });
                }
                self.seg = Some(Arc::new(s));
                self.off = DATA_START;
                self.next_seq = b;
                Ok(true)
            }
        }
    }

    fn note_header(&self, seg: &ReadSegment, events: &mut Vec<Corruption>) {
        if seg.header_damaged {
            log::warn!("{}: damaged header; reading its frames anyway", seg.path.display());
            events.push(Corruption::Damaged {
                topic: self.topic.to_string(),
                segment: seg.path.clone(),
                offset: 0,
                first_seq: seg.base_seq(),
                skipped: 0,
            });
        }
    }

    /// Finds `next_seq` on disk. False if the topic has no segment yet.
    /// Segments may be deleted by retention while we look: then look again.
    fn seek(&mut self, events: &mut Vec<Corruption>) -> Result<bool> {
        let mut tries = 0;
        loop {
            match self.seek_once(events) {
                Err(e) if e.is_not_found() && tries < 16 => tries += 1,
                other => return other,
            }
        }
    }

    fn seek_once(&mut self, events: &mut Vec<Corruption>) -> Result<bool> {
        if !self.dir.is_dir() {
            // The topic does not exist (yet).
            return Ok(false);
        }
        let segs = list_segments(&self.dir)?;
        let Some(&first) = segs.first() else { return Ok(false) };
        let target = self.next_seq;
        if target < first {
            if self.report_gaps {
                events.push(Corruption::Gap { topic: self.topic.to_string(), from_seq: target, to_seq: first });
            }
            self.positioned = self.enter(first, events)?;
            return Ok(self.positioned);
        }
        let base = segs.iter().rev().find(|&&b| b <= target).copied().unwrap_or(first);
        let seg = Arc::new(ReadSegment::open(&self.dir.join(data_file_name(base)))?);
        self.note_header(&seg, events);
        if let Some(blocks) = &seg.blocks {
            // Start at the block holding the target; fill passes over the
            // records before it.
            let i = seg.block_for_seq(target).unwrap_or(0);
            match blocks.list.get(i) {
                Some(b) => {
                    self.off = b.header.raw_offset;
                    self.next_seq = b.header.first_seq;
                    self.skip_until = Some(target);
                }
                None => {
                    self.off = DATA_START;
                    self.next_seq = base;
                }
            }
            self.seg = Some(seg);
            self.positioned = true;
            return Ok(true);
        }
        let (mut off, mut seq) = match seg.index_floor(target) {
            Some(e) if e.seq >= base => (e.offset, e.seq),
            _ => (DATA_START, base),
        };
        while seq < target {
            match seg.step(off) {
                Step::Record { seq: s, next, .. } if s == seq => {
                    seq += 1;
                    off = next;
                }
                Step::Seal { next_seq } if next_seq == seq => {
                    if segs.iter().any(|&b| b > base) {
                        // The target is in a later segment (fill enters it).
                        self.seg = Some(seg);
                        self.off = off;
                        self.next_seq = seq;
                        self.positioned = true;
                        return Ok(true);
                    }
                    break;
                }
                Step::Empty => break,
                _ => {
                    if self.is_finished(&seg, off) {
                        self.seg = Some(seg.clone());
                        self.off = off;
                        self.next_seq = seq;
                        if self.skip_damage(&seg, off, events)?.is_none() {
                            break;
                        }
                        if self.next_seq >= target {
                            self.positioned = true;
                            return Ok(true);
                        }
                        off = self.off;
                        seq = self.next_seq;
                        continue;
                    }
                    break;
                }
            }
        }
        if seq < target {
            events.push(Corruption::PastEnd { topic: self.topic.to_string(), saved: target, end: seq });
            log::warn!(
                "topic {:?}: saved position {target} is past the log's end {seq}; resuming at {seq}",
                self.topic
            );
        }
        self.seg = Some(seg);
        self.off = off;
        self.next_seq = seq;
        self.positioned = true;
        Ok(true)
    }
}

/// The sequence number of the first record of a topic written at or after
/// `at`; the topic's next sequence number if none.
pub(crate) fn seq_at_time(dir: &Path, topic: &str, at: std::time::SystemTime, log_id: u64) -> Result<u64> {
    // Record times are ns since the Unix epoch.
    let t = at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    // Skip the segments that end before `t`, then scan from the index entry
    // just before it.
    let segs = list_segments(dir)?;
    let mut start = segs.first().copied().unwrap_or(0);
    for &base in &segs {
        let path = dir.join(data_file_name(base));
        match crate::segment::read_header(&path) {
            Ok((_, Some(w), _)) if w.is_sealed() && w.last_time != 0 && w.last_time < t => continue,
            _ => {}
        }
        start = base;
        if let Ok(seg) = ReadSegment::open(&path)
            && let Some(e) = seg.index_time(t)
        {
            start = e.seq.max(base);
        }
        break;
    }
    let mut c = Cursor::new(dir, topic, start, false, log_id);
    let mut events = Vec::new();
    loop {
        match c.fill(4 << 20, &mut events)? {
            Fill::Batch(b) => {
                if let Some(r) = b.records().find(|r| r.timestamp() >= t) {
                    return Ok(r.seq());
                }
                let end = b.first_seq + b.count;
                c.advance(&b, end);
            }
            Fill::CaughtUp(_) => return Ok(c.next_seq),
        }
    }
}
