//! The catch-up bar of `forward` on a terminal: a sidecar started behind
//! (after an outage, or on a log with history) shows how much of the backlog
//! it has shipped, its rate and the time left, and says once it has caught
//! up. Drawn only on a terminal without `--json` (see [`crate::progress`]);
//! never again after the first catch-up, when `--stats` reports say the rest.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use crate::output::note;
use crate::progress;

/// How often the bar is refreshed while it is shown.
pub const REFRESH: Duration = Duration::from_millis(200);

/// Records left to forward: per topic, from the next sequence number to be
/// written down to the reader's confirmed position (which runs ahead of the
/// persisted one the lag is counted from), or the lag where the reader does
/// not own the topic.
pub fn remaining(positions: &[logstream::ReaderPosition], lag: &[logstream::TopicLag]) -> u64 {
    let confirmed: Vec<(&str, u64)> = positions.iter().map(|p| (p.topic.as_str(), p.confirmed)).collect();
    left(&confirmed, lag.iter().map(|l| (l.topic.as_str(), l.first_seq, l.next_seq, l.lag_records)))
}

/// [`remaining`] over (topic, first retained seq, next seq, lag) rows.
fn left<'a>(confirmed: &[(&str, u64)], lag: impl Iterator<Item = (&'a str, u64, u64, u64)>) -> u64 {
    let confirmed: HashMap<&str, u64> = confirmed.iter().copied().collect();
    lag.map(|(topic, first, next, lag)| match confirmed.get(topic) {
        Some(&c) => next.saturating_sub(c.max(first)),
        None => lag,
    })
    .sum()
}

/// The bar's state.
pub struct CatchUp {
    shown: bool,
    bar: Option<ProgressBar>,
    /// At the first look that found a backlog: records sent to the engine,
    /// records written (all topics' next seq summed), and the backlog.
    base: (u64, u64, u64),
    started: Instant,
    /// Caught up once (or nothing to catch up): no more bar.
    done: bool,
}

impl CatchUp {
    /// A bar that is drawn only if `shown`.
    pub fn new(shown: bool) -> CatchUp {
        CatchUp { shown, bar: None, base: (0, 0, 0), started: Instant::now(), done: !shown }
    }

    /// Whether the bar is still to be drawn or drawn (the progress callback
    /// then comes every [`REFRESH`]).
    pub fn active(&self) -> bool {
        self.shown && !self.done
    }

    /// Runs `f` with the bar out of the way (a `--stats` report on stderr).
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// One look: `sent` records handed to the engine so far (it moves as
    /// acknowledgements come, within a batch; confirmed positions only move
    /// per batch), `left` to confirm, `written` the topics' next sequence
    /// numbers summed (the backlog grows while the application writes);
    /// `lag_known` is false when the lag could not be read (no change then).
    pub fn update(&mut self, sent: u64, left: u64, written: u64, lag_known: bool) {
        if self.done || !lag_known {
            return;
        }
        if left == 0 {
            if let Some(b) = self.bar.take() {
                b.finish_and_clear();
                let total = self.base.2 + written.saturating_sub(self.base.1);
                note(&format!("caught up: {total} records forwarded in {:.1} s", self.started.elapsed().as_secs_f64()));
            }
            self.done = true;
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            self.base = (sent, written, left);
            self.started = Instant::now();
            progress::bar(false, left, "catching up", "records")
        });
        let len = self.base.2 + written.saturating_sub(self.base.1);
        // Re-sends of a retried batch count twice: never past the end.
        let pos = sent.saturating_sub(self.base.0).min(len.saturating_sub(1));
        bar.set_length(len);
        bar.set_position(pos);
    }

    /// Clears the bar at the end of the run (stopped before catching up).
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.abandon();
        }
        self.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_left_counts_from_the_readers_confirmed_position_not_the_persisted_one() {
        // `remaining` passes each topic's confirmed position (900 here, where
        // the persisted one may be 500).
        let positions = [("a", 900)];
        // a: 1000 - 900; b, not owned here: its lag.
        let rows = [("a", 0, 1000, 500), ("b", 10, 50, 40)];
        assert_eq!(left(&positions, rows.into_iter()), 100 + 40);
        // A position before the first retained record counts from there.
        assert_eq!(left(&[("a", 0)], [("a", 300, 1000, 700)].into_iter()), 700);
    }

    #[test]
    fn a_hidden_bar_is_never_active() {
        let mut c = CatchUp::new(false);
        assert!(!c.active());
        c.update(0, 10, 10, true);
        assert!(c.bar.is_none());
    }

    #[test]
    fn the_bar_follows_what_was_sent_ends_once_caught_up_and_does_not_come_back() {
        let mut c = CatchUp::new(true);
        c.update(0, 100, 1000, false);
        assert!(c.active() && c.bar.is_none(), "an unknown lag changes nothing");
        c.update(10, 50, 1000, true);
        assert!(c.bar.as_ref().is_some_and(|b| b.length() == Some(50) && b.position() == 0));
        // 30 more sent; 20 more written meanwhile: the backlog grew to 70.
        c.update(40, 40, 1020, true);
        assert!(c.bar.as_ref().is_some_and(|b| b.position() == 30 && b.length() == Some(70)));
        // Re-sends never push it past the end before it is done.
        c.update(500, 5, 1020, true);
        assert!(c.bar.as_ref().is_some_and(|b| b.position() == 69));
        c.update(500, 0, 1020, true);
        assert!(!c.active() && c.bar.is_none());
        c.update(600, 1000, 3000, true);
        assert!(c.bar.is_none(), "later lag is for --stats, not the bar");
    }
}
