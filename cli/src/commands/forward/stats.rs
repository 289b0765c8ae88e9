//! What `forward` tells the operator: with `--stats`, a report every
//! `--stats-interval` (a line on stderr, or a JSON object per line on stdout
//! with `--json`), and always a summary line on stderr when it stops.
//!
//! "Forwarded" counts records the engine confirmed (the reader's count), not
//! publishes: a retried batch is sent again but forwarded once.

use std::time::Duration;

use logstream_ship::Progress;
use serde::Serialize;

use crate::exit::Failure;
use crate::output::{note, print};
use crate::units;

/// The engine's own counters, as far as both engines have them.
pub trait EngineCounters {
    /// Records handed to the engine, re-sends of retried batches included.
    fn sent(&self) -> u64;
    /// Re-sends the engine recognised and dropped (NATS); `None` where the
    /// engine cannot tell (Kafka).
    fn duplicates(&self) -> Option<u64>;
}

/// How far the engine de-duplicates re-sends (NATS: the stream's
/// `duplicate_window`), as found at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dedup {
    /// The window; `None` when it could not be read (no stream yet).
    pub window: Option<Duration>,
    /// Why the window does not cover the outages to ride out, if it does not.
    pub warning: Option<String>,
}

/// Topics named in a human line's lag, the ones with the most left.
const LAG_TOPICS_SHOWN: usize = 5;

/// One report: the JSON line of `--stats --json`, documented in the
/// command's help and the README.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Seconds since forwarding started.
    pub elapsed_s: f64,
    /// Records forwarded (confirmed by the engine) since the start.
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Records forwarded per second since the previous report.
    pub rate: f64,
    /// Batches forwarded.
    pub batches: u64,
    /// Records sent to the engine, re-sends included.
    pub sent: u64,
    /// Re-sends the engine dropped as duplicates (NATS); `null` for Kafka.
    pub duplicates: Option<u64>,
    /// Batch attempts that failed (each is retried).
    pub failures: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Records moved to the group's dead letters (`retry_max_attempts`).
    pub dead_letters: u64,
    /// Topics this forwarder delivers now.
    pub topics_owned: u64,
    /// Times changed black/white lists were applied from the config file.
    pub config_reloads: u64,
    /// Records left to forward, over all topics.
    pub lag_records: u64,
    /// Their bytes as stored.
    pub lag_bytes: u64,
    /// Per topic: where the group stands and what is left.
    pub lag: Vec<TopicLag>,
    /// True for the report made after the forwarder stopped.
    pub last: bool,
    /// Seconds within which the engine drops re-sent records (the NATS
    /// stream's duplicate window); `null` when unknown or for Kafka.
    pub dedup_window_s: Option<f64>,
    /// What the operator should know about the run, e.g. a duplicate
    /// window shorter than `--ride-out`; `null` when nothing.
    pub warning: Option<String>,
}

/// One topic's lag in a [`Report`].
#[derive(Debug, Serialize)]
pub struct TopicLag {
    /// The topic.
    pub topic: String,
    /// The sequence number the next record written will get.
    pub next_seq: u64,
    /// The group's saved position (`null`: not read yet).
    pub confirmed: Option<u64>,
    /// Records left.
    pub lag_records: u64,
    /// Their bytes as stored.
    pub lag_bytes: u64,
}

impl Report {
    /// The report of `p`; `previous` is the elapsed time and record count
    /// of the report before (the rate is over the time between them).
    pub fn new<S: EngineCounters>(p: &Progress<S>, previous: (Duration, u64), dedup: Option<&Dedup>) -> Report {
        let r = &p.reader;
        let span = p.elapsed.saturating_sub(previous.0).as_secs_f64();
        let rate = if span > 0.0 { r.records.saturating_sub(previous.1) as f64 / span } else { 0.0 };
        Report {
            elapsed_s: round(p.elapsed.as_secs_f64(), 1000.0),
            records: r.records,
            bytes: r.bytes,
            rate: round(rate, 10.0),
            batches: r.batches,
            sent: p.forwarder.sent(),
            duplicates: p.forwarder.duplicates(),
            failures: r.failures + r.panics,
            retries: r.retries,
            dead_letters: r.dead_letters,
            topics_owned: r.topics_owned,
            config_reloads: r.config_reloads,
            lag_records: p.lag.iter().map(|l| l.lag_records).sum(),
            lag_bytes: p.lag.iter().map(|l| l.lag_bytes).sum(),
            lag: p
                .lag
                .iter()
                .map(|l| TopicLag {
                    topic: l.topic.clone(),
                    next_seq: l.next_seq,
                    confirmed: l.confirmed,
                    lag_records: l.lag_records,
                    lag_bytes: l.lag_bytes,
                })
                .collect(),
            last: p.last,
            dedup_window_s: dedup.and_then(|d| d.window).map(|w| round(w.as_secs_f64(), 1000.0)),
            warning: dedup.and_then(|d| d.warning.clone()),
        }
    }

    /// The counts for people, shared by the report line and the summary:
    /// `6000 records forwarded (500/s, 1.2 MiB); 0 failures, 0 retries; lag 0`.
    fn counts(&self) -> String {
        // Whole records a second, but a trickle still shows as one.
        let decimals = usize::from(self.rate < 10.0);
        let mut s = format!(
            "{} records forwarded ({:.*}/s, {}); {} failures, {} retries",
            self.records,
            decimals,
            self.rate,
            units::bytes(self.bytes),
            self.failures,
            self.retries
        );
        if self.dead_letters > 0 {
            s.push_str(&format!(", {} dead letters", self.dead_letters));
        }
        s.push_str(&format!("; lag {}", self.lag_records));
        let mut behind: Vec<&TopicLag> = self.lag.iter().filter(|l| l.lag_records > 0).collect();
        if !behind.is_empty() {
            behind.sort_by(|a, b| b.lag_records.cmp(&a.lag_records).then_with(|| a.topic.cmp(&b.topic)));
            let shown: Vec<String> =
                behind.iter().take(LAG_TOPICS_SHOWN).map(|l| format!("{} {}", l.topic, l.lag_records)).collect();
            let more = behind.len().saturating_sub(LAG_TOPICS_SHOWN);
            let more = if more > 0 { format!(", {more} more topics") } else { String::new() };
            s.push_str(&format!(" ({}{more})", shown.join(", ")));
        }
        s
    }

    /// The `--stats` line: `12.0s: 6000 records forwarded (…); …`, and
    /// the warning, if there is one.
    pub fn line(&self) -> String {
        match &self.warning {
            Some(w) => format!("{:.1}s: {}; warning: {w}", self.elapsed_s, self.counts()),
            None => format!("{:.1}s: {}", self.elapsed_s, self.counts()),
        }
    }

    /// The line printed when forwarding stopped (its rate is the average
    /// over the whole run).
    pub fn summary(&self) -> String {
        format!("stopped after {:.1}s: {}; positions saved", self.elapsed_s, self.counts())
    }
}

/// `x` rounded to `1 / per_unit` (JSON readers need no more digits).
fn round(x: f64, per_unit: f64) -> f64 {
    (x * per_unit).round() / per_unit
}

/// Prints each `--stats` report and remembers the previous one for the rate.
#[derive(Debug)]
pub struct Reporter {
    json: bool,
    previous: (Duration, u64),
    dedup: Option<Dedup>,
}

impl Reporter {
    /// Reports as JSON lines on stdout, or as lines on stderr, each with
    /// the engine's de-duplication window and its warning.
    pub fn new(json: bool, dedup: Option<Dedup>) -> Reporter {
        Reporter { json, previous: (Duration::ZERO, 0), dedup }
    }

    /// Prints the report of `p` (on stderr, all but the last: the summary
    /// follows it).
    ///
    /// # Errors
    /// Standard output cannot be written (JSON only; stderr is best effort).
    pub fn report<S: EngineCounters>(&mut self, p: &Progress<S>) -> Result<(), Failure> {
        let report = Report::new(p, self.previous, self.dedup.as_ref());
        self.previous = (p.elapsed, p.reader.records);
        if p.last && !self.json {
            // The summary line says it all; JSON readers get the final
            // counts in the form they parse.
            return Ok(());
        }
        if self.json {
            let line =
                serde_json::to_string(&report).map_err(|e| Failure::error(format!("cannot encode JSON: {e}")))?;
            print(line + "\n")
        } else {
            note(&report.line());
            Ok(())
        }
    }
}

/// The summary line of the final progress, averaged over the whole run.
pub fn summary<S: EngineCounters>(last: &Progress<S>) -> String {
    Report::new(last, (Duration::ZERO, 0), None).summary()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(lag: &[(&str, u64)]) -> Report {
        Report {
            elapsed_s: 12.04,
            records: 6000,
            bytes: 1536,
            rate: 499.6,
            batches: 12,
            sent: 6000,
            duplicates: Some(0),
            failures: 1,
            retries: 1,
            dead_letters: 0,
            topics_owned: lag.len() as u64,
            config_reloads: 0,
            lag_records: lag.iter().map(|(_, n)| n).sum(),
            lag_bytes: 0,
            lag: lag
                .iter()
                .map(|(t, n)| TopicLag {
                    topic: (*t).to_owned(),
                    next_seq: 0,
                    confirmed: None,
                    lag_records: *n,
                    lag_bytes: 0,
                })
                .collect(),
            last: false,
            dedup_window_s: None,
            warning: None,
        }
    }

    #[test]
    fn a_report_line_gives_counts_rate_and_the_topics_most_behind() {
        let r = report(&[("login", 20), ("billing", 1000), ("audit", 0)]);
        assert_eq!(
            r.line(),
            "12.0s: 6000 records forwarded (500/s, 1.5 KiB); 1 failures, 1 retries; lag 1020 (billing 1000, login 20)"
        );
    }

    #[test]
    fn a_long_lag_list_names_five_topics_and_counts_the_rest() {
        let names: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
        let lag: Vec<(&str, u64)> = names.iter().enumerate().map(|(i, t)| (t.as_str(), 10 + i as u64)).collect();
        let line = report(&lag).line();
        assert!(line.ends_with("lag 108 (t7 17, t6 16, t5 15, t4 14, t3 13, 3 more topics)"), "{line}");
    }

    #[test]
    fn a_trickle_shows_a_rate_with_one_decimal() {
        let mut r = report(&[]);
        r.rate = 0.2;
        assert!(r.line().starts_with("12.0s: 6000 records forwarded (0.2/s, "), "{}", r.line());
    }

    #[test]
    fn a_warning_ends_every_report_line() {
        let mut r = report(&[]);
        r.warning = Some("stream LOGS de-duplicates over 10s only".into());
        assert!(r.line().ends_with("lag 0; warning: stream LOGS de-duplicates over 10s only"), "{}", r.line());
        assert!(!r.summary().contains("warning"), "{}", r.summary());
    }

    #[test]
    fn the_summary_says_the_positions_were_saved() {
        assert_eq!(
            report(&[]).summary(),
            "stopped after 12.0s: 6000 records forwarded (500/s, 1.5 KiB); 1 failures, 1 retries; lag 0; positions saved"
        );
    }
}
