//! The reader's stats: the counters its threads bump, the
//! [`ReaderStats`](crate::reader::ReaderStats) snapshot built from them,
//! the lag of the topics this member owns, and what the member file
//! reports of its deliveries; and their publishing to `metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Core;
use crate::group::members::{MemberCounters, RetryingTopic};
use crate::metrics::Figure;
use crate::reader::ReaderStats;

/// Counters of a running reader.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub batches: AtomicU64,
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub failures: AtomicU64,
    pub panics: AtomicU64,
    pub corruptions: AtomicU64,
    pub checkpoints: AtomicU64,
    pub segments_deleted: AtomicU64,
    pub checkpoint_errors: AtomicU64,
    pub config_reloads: AtomicU64,
    pub config_reload_failures: AtomicU64,
    /// Why the last reload failed (`None` once one succeeds again).
    pub last_config_error: parking_lot::Mutex<Option<String>>,
    pub retention_passes: AtomicU64,
    pub retries: AtomicU64,
    pub dead_letters: AtomicU64,
    pub topics_taken: AtomicU64,
    pub topics_released: AtomicU64,
    pub resets: AtomicU64,
    pub takeovers: AtomicU64,
    pub topics_lost: AtomicU64,
    pub revoked_batches: AtomicU64,
    pub stuck_found: AtomicU64,
}

impl Core {
    /// What the member file says of this member's deliveries (format 2):
    /// its counters and the topics waiting to retry a failed batch.
    pub(crate) fn member_report(&self) -> (MemberCounters, Vec<RetryingTopic>) {
        let c = &self.counters;
        let counters = MemberCounters {
            records: c.records.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed) + c.panics.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dead_letters: c.dead_letters.load(Ordering::Relaxed),
        };
        let s = self.sched.lock();
        let mut retrying: Vec<RetryingTopic> = s
            .topics
            .values()
            .filter(|t| t.owned && t.attempts > 0)
            .map(|t| RetryingTopic {
                topic: t.name.to_string(),
                attempts: t.attempts,
                error: t.last_error.as_deref().unwrap_or("").chars().take(200).collect(),
            })
            .collect();
        drop(s);
        retrying.sort_by(|a, b| a.topic.cmp(&b.topic));
        (counters, retrying)
    }

    /// Records written to the topics this member owns and not yet confirmed.
    pub(crate) fn lag(&self) -> u64 {
        let owned: Vec<(Arc<str>, u64)> = {
            let s = self.sched.lock();
            s.topics.values().filter(|t| t.owned).map(|t| (t.name.clone(), t.confirmed)).collect()
        };
        owned
            .iter()
            .map(|(n, c)| {
                crate::segment::extent::next_seq(&self.layout.topic(n)).map_or(0, |end| end.saturating_sub(*c))
            })
            .sum()
    }

    /// Publishes the stats to the `metrics` exporter (with that feature).
    pub(super) fn publish_stats(&self) {
        if cfg!(feature = "metrics") {
            let labels = [("dir", self.layout.base.display().to_string()), ("group", self.group.clone())];
            crate::metrics::publish(&labels, &self.stats().figures());
        }
    }

    /// Counters since start.
    pub(crate) fn stats(&self) -> ReaderStats {
        let c = &self.counters;
        let stuck_topics = self.sched.lock().topics.values().filter(|t| t.stuck).count() as u64;
        ReaderStats {
            batches: c.batches.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            panics: c.panics.load(Ordering::Relaxed),
            corruptions: c.corruptions.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            segments_deleted: c.segments_deleted.load(Ordering::Relaxed),
            checkpoint_errors: c.checkpoint_errors.load(Ordering::Relaxed),
            config_reloads: c.config_reloads.load(Ordering::Relaxed),
            config_reload_failures: c.config_reload_failures.load(Ordering::Relaxed),
            last_config_error: c.last_config_error.lock().clone(),
            retention_passes: c.retention_passes.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dead_letters: c.dead_letters.load(Ordering::Relaxed),
            topics_taken: c.topics_taken.load(Ordering::Relaxed),
            topics_released: c.topics_released.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            takeovers: c.takeovers.load(Ordering::Relaxed),
            topics_lost: c.topics_lost.load(Ordering::Relaxed),
            revoked_batches: c.revoked_batches.load(Ordering::Relaxed),
            stuck_found: c.stuck_found.load(Ordering::Relaxed),
            stuck_topics,
            topics_owned: self.positions().len() as u64,
            lag: self.lag(),
        }
    }
}

impl ReaderStats {
    /// The figures `metrics` publishes (its table names them).
    pub(crate) fn figures(&self) -> Vec<Figure> {
        use Figure::{Counter, Gauge};
        vec![
            Counter("logstream_reader_batches_total", self.batches),
            Counter("logstream_reader_records_total", self.records),
            Counter("logstream_reader_bytes_total", self.bytes),
            Counter("logstream_reader_failures_total", self.failures + self.panics),
            Counter("logstream_reader_retries_total", self.retries),
            Counter("logstream_reader_dead_letters_total", self.dead_letters),
            Counter("logstream_reader_corruptions_total", self.corruptions),
            Counter("logstream_reader_checkpoints_total", self.checkpoints),
            Counter("logstream_reader_segments_deleted_total", self.segments_deleted),
            Counter("logstream_reader_takeovers_total", self.takeovers),
            Counter("logstream_reader_topics_lost_total", self.topics_lost),
            Counter("logstream_reader_revoked_batches_total", self.revoked_batches),
            Counter("logstream_reader_config_reload_failures_total", self.config_reload_failures),
            Gauge("logstream_reader_lag_records", self.lag as f64),
            Gauge("logstream_reader_topics_owned", self.topics_owned as f64),
            Gauge("logstream_reader_stuck_topics", self.stuck_topics as f64),
        ]
    }
}
