//! What the forwarder closure receives: a run of records of one topic,
//! borrowed from the mapped segment (no copy).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::format::frame::{self, HEADER_LEN};
use crate::segment::read::ReadSegment;

/// Confirms records of one [`Batch`] from any thread while its closure runs
/// ([`Batch::confirmer`]): cheap to clone, `Send + Sync + 'static`.
#[derive(Debug, Clone)]
pub struct Confirmer {
    topic: Arc<str>,
    first: u64,
    last: u64,
    confirmed: Arc<AtomicU64>,
}

impl Confirmer {
    /// Confirms every record of the batch up to and including `seq`, as
    /// [`Batch::confirm`] does. Confirming less than before changes nothing.
    ///
    /// # Errors
    /// [`Error::ConfirmOutOfRange`] if `seq` is not in the batch.
    pub fn confirm(&self, seq: u64) -> Result<()> {
        if seq < self.first || seq > self.last {
            return Err(Error::ConfirmOutOfRange {
                topic: self.topic.to_string(),
                seq,
                first: self.first,
                last: self.last,
            });
        }
        self.confirmed.fetch_max(seq + 1, Ordering::AcqRel);
        Ok(())
    }

    /// The next seq after the confirmed prefix.
    pub fn confirmed_next(&self) -> u64 {
        self.confirmed.load(Ordering::Acquire)
    }
}

/// Records of one topic, in sequence order, handed to the forwarder closure.
///
/// Returning `Ok(())` from the closure confirms the whole batch. To confirm
/// a prefix before failing, call [`Batch::confirm`]; redelivery then starts
/// after it.
pub struct Batch {
    pub(crate) topic: Arc<str>,
    pub(crate) source: Source,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) first_seq: u64,
    pub(crate) count: u64,
    pub(crate) bytes: u64,
    /// Next seq after the confirmed prefix; shared with [`Confirmer`]s and
    /// read by the reader's checkpoint thread while the closure runs.
    pub(crate) confirmed: Arc<AtomicU64>,
    pub(crate) attempt: u32,
    pub(crate) log_id: u64,
    pub(crate) skipped_before: u64,
    /// Where the closure asked to go on from (`u64::MAX`: after the batch).
    pub(crate) seek_to: AtomicU64,
    /// The record the closure named as the failing one (`u64::MAX`: none).
    pub(crate) failed: AtomicU64,
    /// Set when the topic is taken away from this reader while the closure
    /// holds the batch (shared with the reader's topic slot).
    pub(crate) revoked: Arc<AtomicBool>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("topic", &self.topic)
            .field("first_seq", &self.first_seq)
            .field("len", &self.count)
            .field("bytes", &self.bytes)
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl Batch {
    /// The topic every record of this batch belongs to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The records, in sequence order.
    pub fn records(&self) -> Records<'_> {
        Records { source: &self.source, off: self.start, end: self.end, left: self.count }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True if the batch holds no record (never the case for delivered batches).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Sequence number of the first record.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Sequence number of the last record.
    pub fn last_seq(&self) -> u64 {
        self.first_seq + self.count.saturating_sub(1)
    }

    /// Total bytes of the records' data.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// 1 on first delivery, then 2, 3… when the batch is retried.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The writer session (epoch) that wrote these records. Together with
    /// [`Batch::log_id`], the topic and the sequence number, it identifies a
    /// record uniquely, even across a power loss that made the writer reuse
    /// sequence numbers: use it for de-duplication IDs downstream.
    pub fn epoch(&self) -> u64 {
        self.source.seg().header.epoch
    }

    /// Random id of the log directory.
    pub fn log_id(&self) -> u64 {
        // The segment's own header says which log wrote it; what the reader
        // read from `logstream.meta` at its start is only the fallback (a
        // reader started before any writer found no meta: 0).
        match self.source.seg().header.log_id {
            0 => self.log_id,
            id => id,
        }
    }

    /// Records skipped just before this batch because they were damaged or
    /// deleted before this group read them (also reported to `on_corruption`).
    pub fn skipped_before(&self) -> u64 {
        self.skipped_before
    }

    /// Confirms every record up to and including `seq` (the seed's
    /// `ConfirmMsg`). If the closure then returns an error, redelivery starts
    /// after `seq`. Confirming less than before changes nothing.
    ///
    /// # Errors
    /// [`Error::ConfirmOutOfRange`] if `seq` is not in this batch.
    pub fn confirm(&self, seq: u64) -> Result<()> {
        self.check_in(seq)?;
        self.confirmed.fetch_max(seq + 1, Ordering::AcqRel);
        Ok(())
    }

    /// A handle that confirms records of this batch from anywhere — another
    /// thread, an async task collecting acknowledgements — while the closure
    /// is still running. What it confirms counts at once: the reader
    /// persists confirmed prefixes of a batch still in the closure at its
    /// checkpoint interval, so a crash or restart re-delivers only what was
    /// not confirmed yet, not the whole batch. Confirming after the closure
    /// returned changes nothing.
    pub fn confirmer(&self) -> Confirmer {
        Confirmer {
            topic: self.topic.clone(),
            first: self.first_seq,
            last: self.last_seq(),
            confirmed: self.confirmed.clone(),
        }
    }

    /// Asks to continue from `seq` instead of after this batch, once the
    /// closure returns `Ok` (the Aliyun consumer's returned checkpoint): an
    /// earlier `seq` delivers records again, a later one skips records. The
    /// position is saved as this group's, like a confirmation. Ignored if
    /// the closure returns an error.
    ///
    /// ```no_run
    /// # let cfg = logstream::Config::new("/tmp/log");
    /// let reader = logstream::Reader::builder(&cfg).start(|batch: &logstream::Batch| {
    ///     if batch.first_seq() == 1000 {
    ///         batch.seek(0); // re-read the topic from the start
    ///     }
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), logstream::Error>(())
    /// ```
    pub fn seek(&self, seq: u64) {
        self.seek_to.store(seq.min(u64::MAX - 1), Ordering::Release);
    }

    /// True once the topic was taken away from this reader while the
    /// closure holds the batch: the closure held it longer than
    /// `max_forward_ms` and another member took the topic over, this member
    /// stopped heartbeating for `member_timeout_ms` (frozen, paused) and was
    /// replaced, or `stop()` gave up waiting for it. Whatever the closure
    /// returns or confirms from then on is ignored and the new owner delivers
    /// the records again, so long work can stop early:
    ///
    /// ```no_run
    /// # let cfg = logstream::Config::new("/tmp/log");
    /// # fn send(_: &[u8]) {}
    /// let reader = logstream::Reader::builder(&cfg).start(|batch: &logstream::Batch| {
    ///     for rec in batch.records() {
    ///         if batch.is_revoked() {
    ///             return Err("taken over by another member".to_owned());
    ///         }
    ///         send(rec.data());
    ///     }
    ///     Ok(())
    /// })?;
    /// # Ok::<(), logstream::Error>(())
    /// ```
    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }

    /// Names the record that made the closure fail. With a retry policy
    /// that has `max_attempts`, only that record becomes a dead letter when
    /// the attempts run out; the records before it count as handled and
    /// delivery goes on after it.
    ///
    /// # Errors
    /// [`Error::ConfirmOutOfRange`] if `seq` is not in this batch.
    pub fn fail_record(&self, seq: u64) -> Result<()> {
        self.check_in(seq)?;
        self.failed.store(seq, Ordering::Release);
        Ok(())
    }

    /// `Ok` if `seq` is one of this batch's records.
    fn check_in(&self, seq: u64) -> Result<()> {
        if seq < self.first_seq || seq > self.last_seq() || self.count == 0 {
            return Err(Error::ConfirmOutOfRange {
                topic: self.topic.to_string(),
                seq,
                first: self.first_seq,
                last: self.last_seq(),
            });
        }
        Ok(())
    }

    pub(crate) fn seek_target(&self) -> Option<u64> {
        let s = self.seek_to.load(Ordering::Acquire);
        (s != u64::MAX).then_some(s)
    }

    pub(crate) fn failed_record(&self) -> Option<u64> {
        let s = self.failed.load(Ordering::Acquire);
        (s != u64::MAX).then_some(s)
    }

    /// Next sequence number after the confirmed prefix.
    pub(crate) fn confirmed_next(&self) -> u64 {
        self.confirmed.load(Ordering::Acquire)
    }

    /// Byte offset of the record `seq` (which must be in the batch or one past it).
    pub(crate) fn offset_of(&self, seq: u64) -> u64 {
        if seq >= self.first_seq + self.count {
            return self.end;
        }
        let mut off = self.start;
        for r in self.records() {
            if r.seq == seq {
                return off;
            }
            off += frame::frame_len(r.data.len()) as u64;
        }
        self.end
    }
}

/// One record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    seq: u64,
    timestamp: u64,
    data: &'a [u8],
}

impl<'a> Record<'a> {
    /// The record's sequence number in its topic.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// When it was written: nanoseconds since the Unix epoch, from a coarse
    /// clock (resolution of one scheduler tick, a few ms).
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
    /// The bytes written.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// Iterator over a batch's records.
pub struct Records<'a> {
    source: &'a Source,
    off: u64,
    end: u64,
    left: u64,
}

/// Where a batch's frames are: the mapped data file, or a decompressed
/// block of a compressed segment (offsets are raw offsets either way).
#[derive(Clone)]
pub(crate) enum Source {
    Map(Arc<ReadSegment>),
    Block { seg: Arc<ReadSegment>, buf: Arc<Vec<u8>>, raw_offset: u64 },
}

impl Source {
    pub(crate) fn seg(&self) -> &Arc<ReadSegment> {
        match self {
            Source::Map(s) | Source::Block { seg: s, .. } => s,
        }
    }

    /// The frame at raw offset `off` (`Empty` at the end of a block).
    pub(crate) fn step(&self, off: u64) -> crate::segment::scan::Step<'_> {
        match self {
            Source::Map(s) => s.step(off),
            Source::Block { buf, raw_offset, .. } => crate::segment::compressed::step_bytes(buf, *raw_offset, off),
        }
    }

    fn word(&self, off: u64) -> u64 {
        match self {
            Source::Map(s) => s.map.atomic_u64(off as usize).load(Ordering::Acquire),
            Source::Block { buf, raw_offset, .. } => {
                let i = (off - raw_offset) as usize;
                buf.get(i..i + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes)
            }
        }
    }

    fn bytes(&self, off: u64, len: usize) -> &[u8] {
        match self {
            Source::Map(s) => s.map.bytes(off as usize, len),
            Source::Block { buf, raw_offset, .. } => {
                let i = (off - raw_offset) as usize;
                buf.get(i..i + len).unwrap_or(&[])
            }
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        if self.left == 0 || self.off >= self.end {
            return None;
        }
        // The batch was cut from frames whose CRC was checked and which never
        // change once committed, so only the header is re-read here.
        let word = self.source.word(self.off);
        let frame::Word::Record { len, .. } = frame::classify(word) else {
            self.left = 0;
            return None;
        };
        let b = self.source.bytes(self.off + 8, HEADER_LEN - 8 + len);
        if b.len() < HEADER_LEN - 8 + len {
            self.left = 0;
            return None;
        }
        let seq = u64::from_le_bytes(b[..8].try_into().ok()?);
        let timestamp = u64::from_le_bytes(b[8..16].try_into().ok()?);
        let data = &b[16..16 + len];
        self.off += frame::frame_len(len) as u64;
        self.left -= 1;
        Some(Record { seq, timestamp, data })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Records<'_> {}
