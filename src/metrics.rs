//! Counters published through the `metrics` crate facade (feature
//! `metrics`), about once a second by the writer's flush thread and each
//! reader's checkpoint thread. Install any recorder (for Prometheus:
//! `metrics-exporter-prometheus`) before opening the writer or reader.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `logstream_writer_records_total`, `_bytes_total`, `_syncs_total` | counter | `dir` |
//! | `logstream_writer_full_waits_total`, `_full_errors_total` | counter | `dir` |
//! | `logstream_writer_segments_dropped_total`, `_segments_compressed_total` | counter | `dir` |
//! | `logstream_writer_early_writeback_bytes_total` | counter | `dir` |
//! | `logstream_writer_sync_seconds_p50`, `_p99`, `_max` | gauge | `dir` |
//! | `logstream_writer_disk_bytes`, `logstream_writer_topics` | gauge | `dir` |
//! | `logstream_reader_batches_total`, `_records_total`, `_bytes_total` | counter | `dir`, `group` |
//! | `logstream_reader_failures_total`, `_retries_total`, `_dead_letters_total` | counter | `dir`, `group` |
//! | `logstream_reader_corruptions_total`, `_checkpoints_total`, `_segments_deleted_total` | counter | `dir`, `group` |
//! | `logstream_reader_config_reload_failures_total` | counter | `dir`, `group` |
//! | `logstream_reader_lag_records`, `logstream_reader_topics_owned` | gauge | `dir`, `group` |

use crate::reader::ReaderStats;
use crate::writer::WriterStats;

/// Publishes a writer's counters.
#[cfg(feature = "metrics")]
pub(crate) fn writer(dir: &std::path::Path, s: &WriterStats) {
    let dir = dir.display().to_string();
    let c = |name: &'static str, v: u64| metrics::counter!(name, "dir" => dir.clone()).absolute(v);
    c("logstream_writer_records_total", s.records);
    c("logstream_writer_bytes_total", s.bytes);
    c("logstream_writer_syncs_total", s.syncs);
    c("logstream_writer_full_waits_total", s.full_waits);
    c("logstream_writer_full_errors_total", s.full_errors);
    c("logstream_writer_segments_dropped_total", s.segments_dropped);
    c("logstream_writer_segments_compressed_total", s.segments_compressed);
    c("logstream_writer_early_writeback_bytes_total", s.early_writeback_bytes);
    let g = |name: &'static str, v: f64| metrics::gauge!(name, "dir" => dir.clone()).set(v);
    g("logstream_writer_sync_seconds_p50", s.sync_latency.p50.as_secs_f64());
    g("logstream_writer_sync_seconds_p99", s.sync_latency.p99.as_secs_f64());
    g("logstream_writer_sync_seconds_max", s.sync_latency.max.as_secs_f64());
    g("logstream_writer_disk_bytes", s.disk_bytes as f64);
    g("logstream_writer_topics", s.topics as f64);
}

/// Publishes a reader's counters.
#[cfg(feature = "metrics")]
pub(crate) fn reader(dir: &std::path::Path, group: &str, s: &ReaderStats) {
    let (dir, group) = (dir.display().to_string(), group.to_owned());
    let c = |name: &'static str, v: u64| {
        metrics::counter!(name, "dir" => dir.clone(), "group" => group.clone()).absolute(v)
    };
    c("logstream_reader_batches_total", s.batches);
    c("logstream_reader_records_total", s.records);
    c("logstream_reader_bytes_total", s.bytes);
    c("logstream_reader_failures_total", s.failures + s.panics);
    c("logstream_reader_retries_total", s.retries);
    c("logstream_reader_dead_letters_total", s.dead_letters);
    c("logstream_reader_corruptions_total", s.corruptions);
    c("logstream_reader_checkpoints_total", s.checkpoints);
    c("logstream_reader_segments_deleted_total", s.segments_deleted);
    c("logstream_reader_takeovers_total", s.takeovers);
    c("logstream_reader_topics_lost_total", s.topics_lost);
    c("logstream_reader_revoked_batches_total", s.revoked_batches);
    c("logstream_reader_config_reload_failures_total", s.config_reload_failures);
    let g = |name: &'static str, v: f64| metrics::gauge!(name, "dir" => dir.clone(), "group" => group.clone()).set(v);
    g("logstream_reader_lag_records", s.lag as f64);
    g("logstream_reader_topics_owned", s.topics_owned as f64);
    g("logstream_reader_stuck_topics", s.stuck_topics as f64);
}

/// Without the feature: nothing.
#[cfg(not(feature = "metrics"))]
pub(crate) fn writer(_dir: &std::path::Path, _s: &WriterStats) {}

/// Without the feature: nothing.
#[cfg(not(feature = "metrics"))]
pub(crate) fn reader(_dir: &std::path::Path, _group: &str, _s: &ReaderStats) {}
