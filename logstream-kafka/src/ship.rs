//! Running a forwarder as a service: [`KafkaForwarder::run`] reads a log
//! directory as a consumer group until a [`Shutdown`] is triggered, and
//! reports progress at a fixed interval (the CLI's `logstream forward`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{KafkaError, Result};
use crate::forwarder::{ForwarderStats, KafkaForwarder};

/// A flag that ends [`KafkaForwarder::run`] and [`crate::KafkaSource::run`];
/// clone it into a signal-handling thread and call [`Shutdown::trigger`].
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl Shutdown {
    /// A flag not yet triggered.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks every run loop holding a clone to stop.
    pub fn trigger(&self) {
        *self.inner.0.lock() = true;
        self.inner.1.notify_all();
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.inner.0.lock()
    }

    /// Waits until triggered or `timeout` passed; true if triggered.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut done = self.inner.0.lock();
        while !*done {
            if self.inner.1.wait_until(&mut done, deadline).timed_out() {
                break;
            }
        }
        *done
    }
}

/// What a running forwarder has done, passed to the progress callback.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Progress {
    /// Time since the run started.
    pub elapsed: Duration,
    /// The reader's counters (batches, records confirmed, failures, …).
    pub reader: logstream::ReaderStats,
    /// The forwarder's counters (produced, delivered, …).
    pub forwarder: ForwarderStats,
    /// Per topic: next sequence number confirmed, and persisted.
    pub positions: Vec<(String, u64, u64)>,
    /// Per topic: what is left to forward, from the persisted positions
    /// (empty if it could not be read; the reason is logged).
    pub lag: Vec<logstream::TopicLag>,
}

impl KafkaForwarder {
    /// Forwards the log of `cfg` as consumer group `group` until `shutdown`
    /// is triggered, calling `on_progress` every `every` and once at the
    /// end; then stops the reader gracefully (batches in flight finish and
    /// positions are persisted) and returns the final progress.
    ///
    /// # Errors
    /// [`KafkaError::Local`] if the reader cannot start (bad group, group
    /// busy, unreadable directory) or its final checkpoint fails. Failing
    /// batches are not errors here: the reader retries them.
    pub fn run(
        self,
        cfg: &logstream::Config,
        group: &str,
        shutdown: &Shutdown,
        every: Duration,
        mut on_progress: impl FnMut(&Progress),
    ) -> Result<Progress> {
        let start = Instant::now();
        let stats = self.clone();
        let reader = logstream::Reader::builder(cfg)
            .group(group)
            .start(self.into_forwarder())
            .map_err(KafkaError::local("start the reader"))?;
        let lag = || match logstream::Group::open(cfg, group).and_then(|g| g.lag()) {
            Ok(l) => l,
            Err(e) => {
                log::warn!("cannot read the lag of group {group:?}: {e}");
                Vec::new()
            }
        };
        let progress = |reader: &logstream::ReaderHandle| Progress {
            elapsed: start.elapsed(),
            reader: reader.stats(),
            forwarder: stats.stats(),
            positions: reader.positions(),
            lag: lag(),
        };
        while !shutdown.wait_timeout(every) {
            on_progress(&progress(&reader));
        }
        reader.stop().map_err(KafkaError::local("stop the reader"))?;
        let last = progress(&reader);
        on_progress(&last);
        Ok(last)
    }
}
