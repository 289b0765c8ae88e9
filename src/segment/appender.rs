//! The writer's end of the active segment: the hot path of `write()`.
//!
//! Invariants (held under the topic lock):
//! - `offset + SEAL_LEN <= allocated`: the next commit word, and a seal frame,
//!   always lie in allocated space, so readers can load the word after the
//!   last frame and sealing never needs space it might not get.
//! - A frame's body is stored before its commit word (one `SeqCst` store).
//! - Index entries are an optimisation: failing to write one never fails a
//!   write whose frame is already committed.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Limits, Segment};
use crate::error::Result;
use crate::format::frame::{self, SEAL_LEN};
use crate::format::segment::{DATA_START, INDEX_ENTRY_LEN, INDEX_START, IndexEntry};

/// What the flush thread needs to make a segment durable.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    pub seg: Arc<Segment>,
    /// Offset after the last committed frame (the seal frame included once sealed).
    pub end: u64,
    /// Sequence number after the last record.
    pub next_seq: u64,
    /// Timestamp of the first record (0 = none).
    pub first_time: u64,
    /// Timestamp of the last record.
    pub last_time: u64,
    /// Bytes of the index file holding entries.
    pub index_end: u64,
    /// Offset of the seal frame, once sealed.
    pub sealed_at: Option<u64>,
}

/// What a writer asks of the threads behind it (see `Appender::append`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Reserve and pre-fault more of the data file ahead of the writer.
    Grow,
    /// The writer finished the pages below this offset: their writeback
    /// may start ([`Segment::start_writeback`]).
    Writeback(u64),
}

/// Appends frames to one segment.
pub(crate) struct Appender {
    pub seg: Arc<Segment>,
    /// When this appender started the segment (for `segment_max_age`).
    pub started: std::time::Instant,
    pub offset: u64,
    pub next_seq: u64,
    pub count: u64,
    pub first_time: u64,
    pub last_time: u64,
    allocated: u64,
    /// The hot path's one check: past this offset `near_the_end` runs (the
    /// lower of `grow_at` and `writeback_at`).
    low_water: u64,
    /// Past this offset, ask for the file to grow.
    grow_at: u64,
    grow_asked: bool,
    /// Past this offset, ask for the writeback of finished pages to start.
    writeback_at: u64,
    next_index_at: u64,
    index_count: u64,
    index_broken: bool,
    limits: Limits,
}

impl Appender {
    /// Starts appending to a freshly created segment.
    pub(crate) fn new(seg: Arc<Segment>, limits: Limits) -> Appender {
        let allocated = seg.data_allocated.load(Ordering::Acquire);
        let next_seq = seg.base_seq;
        let mut a = Appender {
            seg,
            started: std::time::Instant::now(),
            offset: DATA_START,
            next_seq,
            count: 0,
            first_time: 0,
            last_time: 0,
            allocated,
            low_water: 0,
            grow_at: 0,
            grow_asked: false,
            writeback_at: DATA_START + super::WRITEBACK_STEP,
            next_index_at: DATA_START,
            index_count: 0,
            index_broken: false,
            limits,
        };
        a.set_low_water();
        a
    }

    fn set_low_water(&mut self) {
        let used = self.allocated - DATA_START;
        // Ask for more room when half of the last window is used up (never
        // once the whole reserve is allocated).
        self.grow_at = if self.allocated >= self.seg.max_size {
            u64::MAX
        } else {
            self.allocated - (used / 2).min(super::MAX_WINDOW / 2)
        };
        self.grow_asked = false;
        self.low_water = self.grow_at.min(self.writeback_at);
    }

    /// Appends one record. `Ok(None)`: the segment is full, roll first.
    /// `ask` hands the segment to the thread that grows the file ahead of
    /// us or starts the writeback of finished pages.
    #[inline]
    pub(crate) fn append(
        &mut self,
        payload: &[u8],
        timestamp: u64,
        ask: &dyn Fn(&Arc<Segment>, Ask),
    ) -> Result<Option<u64>> {
        let need = frame::frame_len(payload.len()) as u64;
        let end = self.offset + need;
        if (end + SEAL_LEN as u64 > self.allocated || self.count >= self.limits.max_items) && !self.make_room(end)? {
            return Ok(None);
        }
        let off = self.offset as usize;
        let seq = self.next_seq;
        let tag = frame::record_tag(payload.len());
        let st = frame::seq_and_time(seq, timestamp);
        let crc = frame::checksum_parts(tag, &st, payload);
        let map = &self.seg.data;
        map.write_body(off + 8, &st, payload);
        // Publish: a reader that loads this word (acquire) sees the body.
        // Release, not SeqCst: the wake-up check below may then read a stale
        // `waiting`; readers close that window by looking again for a few
        // microseconds after they arm, and the flush thread rings any waiter
        // of a topic that moved (see doorbell.rs).
        map.atomic_u64(off).store(frame::commit_word(tag, crc), Ordering::Release);

        if self.offset >= self.next_index_at {
            self.index(seq, timestamp);
        }
        if self.first_time == 0 {
            self.first_time = timestamp.max(1);
        }
        self.last_time = timestamp;
        self.offset = end;
        self.next_seq = seq + 1;
        self.count += 1;
        // Ready the lines the next record of this topic will go to.
        self.seg.data.prefetch_write(end as usize, 2 * 64);
        if end > self.low_water {
            self.near_the_end(ask);
        }
        Ok(Some(seq))
    }

    #[cold]
    fn near_the_end(&mut self, ask: &dyn Fn(&Arc<Segment>, Ask)) {
        if self.offset > self.writeback_at {
            // Every `WRITEBACK_STEP`, the pages finished so far go to disk
            // in the background (the flush after a burst has less to do).
            self.writeback_at = self.offset + super::WRITEBACK_STEP;
            ask(&self.seg, Ask::Writeback(self.offset));
        }
        if self.offset > self.grow_at {
            let a = self.seg.data_allocated.load(Ordering::Acquire);
            if a > self.allocated {
                self.allocated = a;
                self.set_low_water();
            } else if !self.grow_asked {
                self.grow_asked = true;
                self.seg.grow_requested.store(true, Ordering::Release);
                ask(&self.seg, Ask::Grow);
            }
        }
        self.low_water = self.grow_at.min(self.writeback_at);
    }

    /// Slow path of `append`: false if the segment is full (roll), true once
    /// a frame ending at `end` and a seal after it fit in reserved space.
    #[cold]
    fn make_room(&mut self, end: u64) -> Result<bool> {
        let need_end = end + SEAL_LEN as u64;
        if self.count >= self.limits.max_items || need_end > self.seg.max_size {
            return Ok(false);
        }
        if self.seg.data_allocated.load(Ordering::Acquire) < need_end {
            // The prefault thread did not keep up: reserve ourselves (quick),
            // and leave pre-faulting to it; this thread faults in only what
            // it touches.
            self.seg.reserve(need_end)?;
        }
        self.allocated = self.seg.data_allocated.load(Ordering::Acquire);
        self.set_low_water();
        Ok(need_end <= self.allocated)
    }

    #[cold]
    fn index(&mut self, seq: u64, timestamp: u64) {
        if self.index_broken {
            return;
        }
        let e = IndexEntry { offset: self.offset, seq, timestamp };
        match self.seg.put_index_entry(self.index_count, &e) {
            Ok(()) => {
                self.index_count += 1;
                self.next_index_at = self.offset + self.limits.index_interval;
            }
            Err(err) => {
                // The frame is committed; the index is rebuilt from data on recovery.
                log::warn!("index of {} not extended ({err}); seeks in it will scan", self.seg.data_path.display());
                self.index_broken = true;
            }
        }
    }

    /// Writes the seal frame naming the next segment. The invariant keeps room for it.
    pub(crate) fn seal(&mut self, timestamp: u64) -> Progress {
        let off = self.offset as usize;
        let (st, word) = frame::seal_parts(self.next_seq, timestamp);
        self.seg.data.write(off + 8, &st);
        self.seg.data.atomic_u64(off).store(word, Ordering::SeqCst);
        let mut p = self.progress();
        p.end = self.offset + SEAL_LEN as u64;
        p.sealed_at = Some(self.offset);
        p
    }

    /// Where the segment stands now.
    pub(crate) fn progress(&self) -> Progress {
        Progress {
            seg: self.seg.clone(),
            end: self.offset,
            next_seq: self.next_seq,
            first_time: self.first_time,
            last_time: self.last_time,
            index_end: INDEX_START + self.index_count * INDEX_ENTRY_LEN,
            sealed_at: None,
        }
    }
}
