//! How a group starts on a topic it has no position for, and how it retries.

use std::time::{Duration, SystemTime};

use crate::config::Config;

/// Where a group starts reading a topic for which it has no saved position
/// (a new group, or a topic the group has not seen). Once chosen, the
/// position is saved, so a restart does not choose again.
///
/// ```
/// use logstream::StartFrom;
/// let from = StartFrom::Time(std::time::SystemTime::now() - std::time::Duration::from_secs(3600));
/// assert_ne!(from, StartFrom::Earliest);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The oldest record retained (the default). Records deleted before the
    /// group read them, after it was registered, are reported as a gap.
    #[default]
    Earliest,
    /// The next record written: what is already there is skipped.
    Latest,
    /// This sequence number (clamped to what is retained).
    Seq(u64),
    /// The first record written at or after this time.
    Time(SystemTime),
}

/// How failed batches are retried (the closure returned an error or panicked).
///
/// The delay doubles from `initial` up to `max_delay`. With `max_attempts`,
/// a batch delivered that many times without success goes to the group's
/// dead letters (see [`crate::Group::dead_letters`]) and the topic moves on;
/// without it (the default, as in the original Go library) it is retried
/// forever and the topic waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// Deliveries before the batch becomes dead letters (`None`: forever).
    pub max_attempts: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { initial: Duration::from_millis(100), max_delay: Duration::from_secs(30), max_attempts: None }
    }
}

impl RetryPolicy {
    /// The policy a config file describes (`retry_initial_ms`,
    /// `retry_max_ms`, `retry_max_attempts`).
    pub fn from_config(cfg: &Config) -> RetryPolicy {
        RetryPolicy { initial: cfg.retry_initial(), max_delay: cfg.retry_max(), max_attempts: cfg.retry_max_attempts() }
    }

    /// The delay before attempt `attempt + 1`, after `attempt` failures.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        self.initial.saturating_mul(1u32 << shift).min(self.max_delay)
    }
}
