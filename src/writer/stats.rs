//! Counters of a writer, read with `Writer::stats()`.

use crate::metrics::Figure;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets of a latency histogram: bucket `i` counts durations below `2^i` µs.
const BUCKETS: usize = 32;

/// A lock-free histogram of durations in power-of-two microsecond buckets.
#[derive(Debug)]
pub(crate) struct LatencyHistogram {
    buckets: [AtomicU64; BUCKETS],
    max_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram { buckets: std::array::from_fn(|_| AtomicU64::new(0)), max_us: AtomicU64::new(0) }
    }
}

impl LatencyHistogram {
    pub(crate) fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let i = (64 - us.leading_zeros() as usize).min(BUCKETS - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub(crate) fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let quantile = |q: f64| -> Duration {
            if total == 0 {
                return Duration::ZERO;
            }
            let want = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= want {
                    return Duration::from_micros(1u64 << i);
                }
            }
            Duration::from_micros(1 << (BUCKETS - 1))
        };
        let max = Duration::from_micros(self.max_us.load(Ordering::Relaxed));
        // A bucket's upper bound can exceed the longest duration recorded
        // in it; no percentile is above the maximum.
        LatencySummary { count: total, p50: quantile(0.5).min(max), p99: quantile(0.99).min(max), max }
    }
}

/// A summary of recorded durations. Quantiles are upper bounds of
/// power-of-two microsecond buckets (within a factor of two), never above
/// `max`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LatencySummary {
    /// Durations recorded.
    pub count: u64,
    /// Median (upper bound of its bucket).
    pub p50: Duration,
    /// 99th percentile (upper bound of its bucket).
    pub p99: Duration,
    /// Longest recorded.
    pub max: Duration,
}

/// Counters shared by the write path and the background threads.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub syncs: AtomicU64,
    pub sync_latency: LatencyHistogram,
    pub full_waits: AtomicU64,
    pub full_errors: AtomicU64,
    pub segments_dropped: AtomicU64,
    pub segments_compressed: AtomicU64,
}

/// A snapshot of a writer's counters since it opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WriterStats {
    /// Records written.
    pub records: u64,
    /// Data bytes written.
    pub bytes: u64,
    /// Topics known to the writer.
    pub topics: u64,
    /// Sync passes that made records durable.
    pub syncs: u64,
    /// Duration of those passes (each covers every topic written since the last).
    pub sync_latency: LatencySummary,
    /// Writes that had to wait for a disk cap.
    pub full_waits: u64,
    /// Writes refused at a disk cap.
    pub full_errors: u64,
    /// Sealed segments deleted to stay under a cap (`drop_oldest`).
    pub segments_dropped: u64,
    /// Sealed segments compressed (`compress_topics`).
    pub segments_compressed: u64,
    /// Bytes the log occupies on disk, as last counted.
    pub disk_bytes: u64,
    /// Bytes whose writeback was started early, behind the writer, because
    /// `flush()` was called lately (the next flush has less left to write).
    pub early_writeback_bytes: u64,
}

impl WriterStats {
    /// The figures `metrics` publishes (its table names them).
    pub(crate) fn figures(&self) -> Vec<Figure> {
        use Figure::{Counter, Gauge};
        vec![
            Counter("logstream_writer_records_total", self.records),
            Counter("logstream_writer_bytes_total", self.bytes),
            Counter("logstream_writer_syncs_total", self.syncs),
            Counter("logstream_writer_full_waits_total", self.full_waits),
            Counter("logstream_writer_full_errors_total", self.full_errors),
            Counter("logstream_writer_segments_dropped_total", self.segments_dropped),
            Counter("logstream_writer_segments_compressed_total", self.segments_compressed),
            Counter("logstream_writer_early_writeback_bytes_total", self.early_writeback_bytes),
            Gauge("logstream_writer_sync_seconds_p50", self.sync_latency.p50.as_secs_f64()),
            Gauge("logstream_writer_sync_seconds_p99", self.sync_latency.p99.as_secs_f64()),
            Gauge("logstream_writer_sync_seconds_max", self.sync_latency.max.as_secs_f64()),
            Gauge("logstream_writer_disk_bytes", self.disk_bytes as f64),
            Gauge("logstream_writer_topics", self.topics as f64),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_percentile_is_above_the_maximum() {
        let h = LatencyHistogram::default();
        for us in [5, 5, 6] {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary();
        assert_eq!(s.max, Duration::from_micros(6));
        assert!(s.p50 <= s.max && s.p99 <= s.max, "{s:?}");
        assert_eq!(s.p99, Duration::from_micros(6));
    }
}
