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

/// One figure to publish: its name and value.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum Figure {
    /// A count since start (published as the counter's absolute value).
    Counter(&'static str, u64),
    /// A value now.
    Gauge(&'static str, f64),
}

/// Publishes `figures` under `labels` (a leaf: the stats types say what
/// their figures are, `WriterStats::figures` and `ReaderStats::figures`).
#[cfg(feature = "metrics")]
pub(crate) fn publish(labels: &[(&'static str, String)], figures: &[Figure]) {
    for f in figures {
        match *f {
            Figure::Counter(name, v) => metrics::counter!(name, labels).absolute(v),
            Figure::Gauge(name, v) => metrics::gauge!(name, labels).set(v),
        }
    }
}

/// Without the feature: nothing.
#[cfg(not(feature = "metrics"))]
pub(crate) fn publish(_labels: &[(&'static str, String)], _figures: &[Figure]) {}
