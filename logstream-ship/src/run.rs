//! Running a forwarder as a service: [`run`] reads a log directory as a
//! consumer group until a [`Shutdown`] is triggered, and reports progress at
//! a fixed interval (the CLI's `logstream forward`).
//!
//! On shutdown the reader stops gracefully: batches in flight finish (their
//! records are confirmed or retried on the next start), no new batch
//! starts, and positions are persisted, so a restart sends nothing twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::LocalError;
use crate::shutdown::Shutdown;

/// A reader closure that ships batches somewhere and counts what it did.
/// `NatsForwarder` and `KafkaForwarder` are forwarders; `forwarder.run(…)`
/// runs one as a service.
pub trait Forwarder: Send + Sync + 'static {
    /// The counters [`Forwarder::stats`] returns.
    type Stats;
    /// Why a batch failed; the reader retries it after a backoff.
    type Error: Into<Box<dyn std::error::Error + Send + Sync + 'static>>;

    /// Ships `batch`; `Ok` confirms it (see [`logstream::ReaderBuilder::start`]).
    ///
    /// # Errors
    /// When any record of the batch is not safely in the engine.
    fn forward(&self, batch: &logstream::Batch) -> Result<(), Self::Error>;

    /// Counters since the forwarder was made.
    fn stats(&self) -> Self::Stats;

    /// [`run`] with the forwarder's own error type: forwards the log of
    /// `cfg` as consumer group `group` until `shutdown` is triggered.
    ///
    /// # Errors
    /// As [`run`].
    fn run(
        self,
        cfg: &logstream::Config,
        group: &str,
        shutdown: &Shutdown,
        every: Duration,
        on_progress: impl FnMut(&Progress<Self::Stats>),
    ) -> Result<Progress<Self::Stats>, Self::Error>
    where
        Self: Sized,
        Self::Error: From<LocalError>,
    {
        Ok(run(self, cfg, group, shutdown, every, on_progress)?)
    }
}

/// What a running forwarder has done, passed to the progress callback.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Progress<S> {
    /// Time since the run started.
    pub elapsed: Duration,
    /// The reader's counters (batches, records confirmed, failures, …).
    pub reader: logstream::ReaderStats,
    /// The forwarder's counters (published, acknowledged, …).
    pub forwarder: S,
    /// Per topic: next sequence number confirmed, and persisted.
    pub positions: Vec<logstream::ReaderPosition>,
    /// Per topic the black/white lists let through: what is left to
    /// forward, from the persisted positions (empty if it could not be
    /// read; the reason is logged). A black-listed topic is not behind: it
    /// is not forwarded at all.
    pub lag: Vec<logstream::TopicLag>,
    /// True for the report made after the reader stopped.
    pub last: bool,
}

/// Forwards the log of `cfg` through `forwarder` as consumer group `group`
/// until `shutdown` is triggered, calling `on_progress` every `every` and
/// once at the end; then stops the reader gracefully (batches in flight
/// finish and positions are persisted) and returns the final progress.
///
/// Black/white lists are reloaded while it runs when `cfg` was read with
/// [`logstream::Config::from_file`].
///
/// # Errors
/// [`LocalError`] if the reader cannot start (bad group, unreadable
/// directory) or its final checkpoint fails. Failing batches are not errors
/// here: the reader retries them.
pub fn run<F: Forwarder>(
    forwarder: F,
    cfg: &logstream::Config,
    group: &str,
    shutdown: &Shutdown,
    every: Duration,
    mut on_progress: impl FnMut(&Progress<F::Stats>),
) -> Result<Progress<F::Stats>, LocalError> {
    let start = Instant::now();
    let forwarder = Arc::new(forwarder);
    let shipping = forwarder.clone();
    let reader = logstream::Reader::builder(cfg)
        .group(group)
        // A sidecar may start before its application first writes.
        .create_missing_dir()
        .start(move |batch: &logstream::Batch| shipping.forward(batch))
        .map_err(LocalError::doing("start the reader"))?;
    let lag = |reader: &logstream::ReaderHandle| match logstream::Group::open(cfg, group).and_then(|g| g.lag()) {
        Ok(mut l) => {
            l.retain(|t| reader.consumes(&t.topic));
            l
        }
        Err(e) => {
            log::warn!("cannot read the lag of group {group:?}: {e}");
            Vec::new()
        }
    };
    let progress = |reader: &logstream::ReaderHandle, last: bool| Progress {
        elapsed: start.elapsed(),
        reader: reader.stats(),
        forwarder: forwarder.stats(),
        positions: reader.positions(),
        lag: lag(reader),
        last,
    };
    while !shutdown.wait_timeout(every) {
        on_progress(&progress(&reader, false));
    }
    reader.stop().map_err(LocalError::doing("stop the reader"))?;
    let last = progress(&reader, true);
    on_progress(&last);
    Ok(last)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[derive(Default)]
    struct Counting(AtomicU64);

    impl Forwarder for Counting {
        type Stats = u64;
        type Error = std::io::Error;

        fn forward(&self, batch: &logstream::Batch) -> Result<(), std::io::Error> {
            self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
            Ok(())
        }

        fn stats(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn the_run_loop_forwards_everything_and_persists_positions_when_shut_down() {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = logstream::Config::new(d.path());
        cfg.set_flush_interval_ms(10).set_poll_interval_ms(100);
        let w = logstream::Writer::open(&cfg).unwrap();
        for i in 0..100u32 {
            w.write(if i % 2 == 0 { "a" } else { "b" }, &i.to_le_bytes()).unwrap();
        }
        w.close().unwrap();
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let last = run(Counting::default(), &cfg, "g", &shutdown, Duration::from_millis(5), |p| {
            if p.forwarder == 100 {
                stop.trigger();
            }
        })
        .unwrap();
        assert!(last.last);
        assert_eq!((last.forwarder, last.reader.records), (100, 100));
        let mut positions: Vec<_> =
            last.positions.iter().map(|p| (p.topic.as_str(), p.confirmed, p.persisted)).collect();
        positions.sort();
        assert_eq!(positions, [("a", 50, 50), ("b", 50, 50)]);
        assert!(last.lag.iter().all(|l| l.lag_records == 0), "{:?}", last.lag);
    }

    #[test]
    fn a_black_listed_topic_is_not_reported_as_lag() {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = logstream::Config::new(d.path());
        cfg.set_flush_interval_ms(10).set_black_topics(vec!["debug".to_owned()]);
        let w = logstream::Writer::open(&cfg).unwrap();
        for t in ["app", "debug"] {
            w.write(t, b"x").unwrap();
        }
        w.close().unwrap();
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let last = run(Counting::default(), &cfg, "g", &shutdown, Duration::from_millis(5), |p| {
            if p.forwarder >= 1 {
                stop.trigger();
            }
        })
        .unwrap();
        let topics: Vec<&str> = last.lag.iter().map(|l| l.topic.as_str()).collect();
        assert_eq!(topics, ["app"]);
    }
}
