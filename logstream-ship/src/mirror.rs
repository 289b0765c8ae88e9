//! The engine-independent half of a mirror (`NatsSource`, `KafkaSource`):
//! puts received records into a local log with their original sequence numbers, in order, whatever order
//! the engine delivers them in, and tells which deliveries may be
//! acknowledged.
//!
//! Why records can arrive out of order: a forwarder publishes many records
//! before their acks return; if record `k` was lost (say in a reconnect)
//! while `k+1..` were stored, the forwarder re-sends from `k`, and the
//! stream holds `k+1.., k` (re-sends of `k+1..` are de-duplicated). So:
//! - a record below the topic's next sequence number is already there;
//! - the next one is written, then any waiting successors;
//! - a later one waits (in memory, bounded) for its predecessors.
//!
//! An empty local topic starts at a record that began its batch (nothing
//! before it can still be on its way: the forwarder marks batch starts) or,
//! after `reorder_wait` without predecessors arriving, at the lowest record waiting (the stream's limits
//! removed the topic's start). A non-empty topic whose gap is not filled
//! within `reorder_wait` is an error: the stream lost records.
//!
//! Each record is written with the timestamp the source gave it, when the
//! message carries it ([`Received::timestamp`]), so that time lookups and
//! age retention answer on the copy as on the source.
//!
//! Invariant: a delivery is handed back for acknowledgement only once its
//! record is written and flushed. Deliveries whose records wait are not,
//! so the engine redelivers them if the mirror stops, and its position (the
//! first unacknowledged delivery) never passes a record the local log lacks.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use logstream::{Placed, Writer};

use crate::error::LocalError;

/// The engine lacks records the mirror needs to continue a topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "topic {topic:?}: the mirror holds records up to {} but the engine's next record is {got} \
     (waited {} s for the missing ones); were they removed by the engine's retention limits?",
    expected.saturating_sub(1),
    waited.as_secs()
)]
pub struct Gap {
    /// The topic.
    pub topic: String,
    /// The mirror's next sequence number.
    pub expected: u64,
    /// The lowest sequence number the engine offered.
    pub got: u64,
    /// How long the mirror waited for the missing records.
    pub waited: Duration,
}

/// Why the mirror cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// A local write or flush failed.
    #[error(transparent)]
    Local(#[from] LocalError),
    /// The engine lacks records of a topic.
    #[error(transparent)]
    Gap(#[from] Gap),
}

/// What the mirror did, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MirrorStats {
    /// Messages received from the engine (including redeliveries).
    pub received: u64,
    /// Records written to the local log.
    pub written: u64,
    /// Records the local log already held (redeliveries, re-sends).
    pub already_present: u64,
    /// Records waiting for their predecessors right now.
    pub waiting: u64,
    /// Deliveries acknowledged to the engine.
    pub acknowledged: u64,
}

impl MirrorStats {
    /// These counters followed by those of a later mirror session on the
    /// same log (`waiting` is the later session's).
    pub fn followed_by(self, later: MirrorStats) -> MirrorStats {
        MirrorStats {
            received: self.received + later.received,
            written: self.written + later.written,
            already_present: self.already_present + later.already_present,
            waiting: later.waiting,
            acknowledged: self.acknowledged + later.acknowledged,
        }
    }
}

struct Waiting<T> {
    data: Vec<u8>,
    epoch: u64,
    timestamp: Option<u64>,
    tokens: Vec<T>,
}

struct TopicState<T> {
    next: u64,
    /// Records ahead of `next`, by sequence number.
    waiting: BTreeMap<u64, Waiting<T>>,
    since: Option<Instant>,
    wrote_epoch: Option<u64>,
    warned_epoch: bool,
}

/// Where a record delivered by the engine belongs, as read from the headers
/// the forwarder gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The logstream topic.
    pub topic: String,
    /// Its sequence number there.
    pub seq: u64,
    /// The writer session that wrote it.
    pub epoch: u64,
    /// The record was the first of the batch it was sent in.
    pub starts_batch: bool,
    /// When it was written to the source, ns since the Unix epoch; the
    /// copy gets the same time. `None` when the message does not say
    /// (NATS `HeaderSet::IdOnly`): the copy gets the mirror's clock.
    pub timestamp: Option<u64>,
}

/// Writes delivered records into a local log in order; `T` is the engine's
/// token for acknowledging a delivery (a message, an offset).
pub struct Mirror<T> {
    writer: Writer,
    topics: HashMap<String, TopicState<T>>,
    /// Tokens of deliveries whose records are written, not yet handed back.
    ready: Vec<T>,
    reorder_wait: Duration,
    max_waiting: usize,
    stats: MirrorStats,
}

impl<T> Mirror<T> {
    /// A mirror writing with `writer`; a record waits for its predecessors
    /// at most `reorder_wait`, and at most `max_waiting` records wait per topic.
    pub fn new(writer: Writer, reorder_wait: Duration, max_waiting: usize) -> Mirror<T> {
        Mirror {
            writer,
            topics: HashMap::new(),
            ready: Vec::new(),
            reorder_wait,
            max_waiting: max_waiting.max(1),
            stats: MirrorStats::default(),
        }
    }

    /// What the mirror did since it was made.
    pub fn stats(&self) -> MirrorStats {
        MirrorStats { waiting: self.topics.values().map(|t| t.waiting.len() as u64).sum(), ..self.stats }
    }

    /// Takes one delivery of record `rec` holding `data`; `token` comes back
    /// from [`Mirror::acknowledgeable`] once the record is written.
    ///
    /// # Errors
    /// [`MirrorError::Local`] when the local log fails, [`MirrorError::Gap`]
    /// when more than `max_waiting` records of a non-empty topic wait.
    pub fn offer(&mut self, rec: &Received, data: &[u8], token: T) -> Result<(), MirrorError> {
        self.stats.received += 1;
        let topic = rec.topic.as_str();
        if !self.topics.contains_key(topic) {
            let next = self.writer.next_seq(topic).map_err(LocalError::doing("look up a topic"))?;
            let st = TopicState { next, waiting: BTreeMap::new(), since: None, wrote_epoch: None, warned_epoch: false };
            self.topics.insert(topic.to_owned(), st);
        }
        let Some(st) = self.topics.get_mut(topic) else { return Ok(()) };
        if rec.seq < st.next {
            if st.wrote_epoch.is_some_and(|e| rec.epoch > e) && !st.warned_epoch {
                st.warned_epoch = true;
                log::warn!(
                    "topic {:?}: record {} of writer epoch {} arrived after the mirror wrote epoch {}: the source \
                     reused sequence numbers after a power loss; the mirror keeps the records it has",
                    topic,
                    rec.seq,
                    rec.epoch,
                    st.wrote_epoch.unwrap_or_default()
                );
            }
            self.stats.already_present += 1;
            self.ready.push(token);
            return Ok(());
        }
        let starts_empty_topic =
            st.next == 0 && rec.starts_batch && st.waiting.keys().next().is_none_or(|&w| w > rec.seq);
        if rec.seq == st.next || starts_empty_topic {
            self.write(topic, rec.seq, (rec.epoch, rec.timestamp), data, vec![token])?;
            return self.drain(topic);
        }
        let st = self.topics.get_mut(topic).expect("topic state inserted above");
        let w = st.waiting.entry(rec.seq).or_insert_with(|| Waiting {
            data: data.to_vec(),
            epoch: rec.epoch,
            timestamp: rec.timestamp,
            tokens: Vec::new(),
        });
        w.tokens.push(token);
        st.since.get_or_insert_with(Instant::now);
        if st.waiting.len() > self.max_waiting {
            return self.give_up_waiting(topic);
        }
        Ok(())
    }

    /// Called when the engine has nothing more for now: topics that waited
    /// longer than `reorder_wait` start (empty topics) or fail (gaps).
    ///
    /// # Errors
    /// [`MirrorError::Gap`] for a non-empty topic that waited too long,
    /// [`MirrorError::Local`] when the local log fails.
    pub fn idle(&mut self) -> Result<(), MirrorError> {
        let stale: Vec<String> = self
            .topics
            .iter()
            .filter(|(_, st)| st.since.is_some_and(|s| s.elapsed() >= self.reorder_wait))
            .map(|(t, _)| t.clone())
            .collect();
        for topic in stale {
            self.give_up_waiting(&topic)?;
        }
        Ok(())
    }

    fn give_up_waiting(&mut self, topic: &str) -> Result<(), MirrorError> {
        let Some(st) = self.topics.get_mut(topic) else { return Ok(()) };
        let Some((&lowest, _)) = st.waiting.iter().next() else { return Ok(()) };
        if st.next != 0 {
            return Err(Gap {
                topic: topic.to_owned(),
                expected: st.next,
                got: lowest,
                waited: st.since.map_or(Duration::ZERO, |s| s.elapsed()),
            }
            .into());
        }
        log::warn!("topic {topic:?}: the stream holds no start of this topic; the mirror starts it at {lowest}");
        if let Some((seq, w)) = st.waiting.pop_first() {
            self.write(topic, seq, (w.epoch, w.timestamp), &w.data, w.tokens)?;
        }
        self.drain(topic)
    }

    /// Writes record `seq` of `topic` (from writer `epoch`, written at
    /// `timestamp` if known) and makes its deliveries' `tokens` ready.
    fn write(
        &mut self,
        topic: &str,
        seq: u64,
        (epoch, timestamp): (u64, Option<u64>),
        data: &[u8],
        tokens: Vec<T>,
    ) -> Result<(), MirrorError> {
        let placed = match timestamp {
            Some(ts) => self.writer.write_at_time(topic, seq, ts, data),
            None => self.writer.write_at(topic, seq, data),
        }
        .map_err(LocalError::doing("write a record"))?;
        match placed {
            Placed::Written => self.stats.written += 1,
            Placed::AlreadyPresent => self.stats.already_present += 1,
        }
        if let Some(st) = self.topics.get_mut(topic) {
            st.next = st.next.max(seq + 1);
            st.wrote_epoch = Some(st.wrote_epoch.map_or(epoch, |e| e.max(epoch)));
        }
        self.ready.extend(tokens);
        Ok(())
    }

    /// Writes the waiting records that now follow the topic's end.
    fn drain(&mut self, topic: &str) -> Result<(), MirrorError> {
        loop {
            let Some(st) = self.topics.get_mut(topic) else { return Ok(()) };
            // Re-sends of records already written may have waited too.
            while st.waiting.first_key_value().is_some_and(|(&s, _)| s < st.next) {
                if let Some((_, w)) = st.waiting.pop_first() {
                    self.stats.already_present += 1;
                    self.ready.extend(w.tokens);
                }
            }
            let Some(st) = self.topics.get_mut(topic) else { return Ok(()) };
            if st.waiting.first_key_value().is_none_or(|(&s, _)| s != st.next) {
                if st.waiting.is_empty() {
                    st.since = None;
                }
                return Ok(());
            }
            if let Some((seq, w)) = st.waiting.pop_first() {
                self.write(topic, seq, (w.epoch, w.timestamp), &w.data, w.tokens)?;
            }
        }
    }

    /// Flushes the local log, then hands back the tokens of the deliveries
    /// whose records are written (in the order they were written).
    ///
    /// # Errors
    /// [`LocalError`] when the flush fails: nothing may be acknowledged.
    pub fn acknowledgeable(&mut self) -> Result<Vec<T>, LocalError> {
        if self.ready.is_empty() {
            return Ok(Vec::new());
        }
        self.writer.flush().map_err(LocalError::doing("flush"))?;
        self.stats.acknowledged += self.ready.len() as u64;
        Ok(std::mem::take(&mut self.ready))
    }

    /// The local writer.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }
}

/// Reads a running mirror's counters from another thread: the source
/// (`NatsSource`, `KafkaSource`) stores them after each flush, a monitor
/// cloned from it reads the last ones.
#[derive(Debug, Clone, Default)]
pub struct SourceMonitor(std::sync::Arc<parking_lot::Mutex<MirrorStats>>);

impl SourceMonitor {
    /// Counters as of the last flush.
    pub fn stats(&self) -> MirrorStats {
        *self.0.lock()
    }

    /// Stores the counters (for the source).
    pub fn set(&self, stats: MirrorStats) {
        *self.0.lock() = stats;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirror(dir: &std::path::Path) -> Mirror<u32> {
        let w = Writer::open(&logstream::Config::new(dir)).unwrap();
        Mirror::new(w, Duration::from_secs(3600), 1000)
    }

    fn rec(topic: &str, seq: u64, batch_first: u64) -> Received {
        Received { topic: topic.to_owned(), seq, epoch: 1, starts_batch: seq == batch_first, timestamp: None }
    }

    #[test]
    fn records_arriving_out_of_order_are_written_in_order_and_acked_once_written() {
        let d = tempfile::tempdir().unwrap();
        let mut m = mirror(d.path());
        m.offer(&rec("t", 0, 0), b"x", 10).unwrap();
        m.offer(&rec("t", 2, 0), b"x", 11).unwrap(); // 1 was lost and will be re-sent
        m.offer(&rec("t", 3, 0), b"x", 12).unwrap();
        assert_eq!(m.acknowledgeable().unwrap(), vec![10]);
        m.offer(&rec("t", 1, 1), b"x", 13).unwrap();
        m.offer(&rec("t", 2, 1), b"x", 14).unwrap(); // a re-send
        assert_eq!(m.acknowledgeable().unwrap(), vec![13, 11, 12, 14]);
        assert_eq!(m.writer().next_seq("t").unwrap(), 4);
        let s = m.stats();
        assert_eq!((s.written, s.already_present, s.waiting), (4, 1, 0));
    }

    #[test]
    fn an_empty_topic_waits_for_the_start_of_the_batch() {
        let d = tempfile::tempdir().unwrap();
        let mut m = mirror(d.path());
        m.offer(&rec("t", 6, 5), b"x", 1).unwrap();
        assert!(m.acknowledgeable().unwrap().is_empty());
        m.offer(&rec("t", 5, 5), b"x", 2).unwrap();
        assert_eq!(m.acknowledgeable().unwrap(), vec![2, 1]);
        assert_eq!(m.writer().next_seq("t").unwrap(), 7);
    }

    #[test]
    fn a_gap_that_is_never_filled_is_an_error_naming_the_topic() {
        let d = tempfile::tempdir().unwrap();
        let w = Writer::open(&logstream::Config::new(d.path())).unwrap();
        let mut m: Mirror<u32> = Mirror::new(w, Duration::ZERO, 1000);
        m.offer(&rec("t", 0, 0), b"x", 1).unwrap();
        m.offer(&rec("t", 5, 5), b"x", 2).unwrap();
        match m.idle() {
            Err(MirrorError::Gap(Gap { topic, expected: 1, got: 5, .. })) => assert_eq!(topic, "t"),
            other => panic!("expected a gap, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_topic_whose_start_is_gone_starts_at_the_lowest_record_after_the_wait() {
        let d = tempfile::tempdir().unwrap();
        let w = Writer::open(&logstream::Config::new(d.path())).unwrap();
        let mut m: Mirror<u32> = Mirror::new(w, Duration::ZERO, 1000);
        m.offer(&rec("t", 8, 5), b"x", 1).unwrap();
        m.offer(&rec("t", 9, 5), b"x", 2).unwrap();
        m.idle().unwrap();
        assert_eq!(m.acknowledgeable().unwrap(), vec![1, 2]);
        assert_eq!(m.writer().next_seq("t").unwrap(), 10);
    }
}
