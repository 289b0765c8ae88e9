//! Progress of long work (`verify`, `verify --repair`, `dlq replay`,
//! `reset`) on standard error: a bar with rate and time left, or a spinner
//! where the total is not known. Only for a person watching: nothing is
//! drawn with `--json` or when standard error is not a terminal, so scripts
//! and logs never see it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Whether progress is drawn: a terminal, and no `--json`.
pub fn shown(json: bool, stderr_is_terminal: bool) -> bool {
    !json && stderr_is_terminal
}

fn target(json: bool) -> ProgressDrawTarget {
    if shown(json, std::io::stderr().is_terminal()) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A bar of `len` steps: `{what} [=====>    ] 120/4000 {unit}, 310/s, 12s left`.
pub fn bar(json: bool, len: u64, what: &str, unit: &str) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(len), target(json));
    let template = format!("{what} [{{bar:40}}] {{pos}}/{{len}} {unit}, {{rate}}, {{eta}} left");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        let style = style
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", s.per_sec());
            })
            .progress_chars("=> ");
        b.set_style(style);
    }
    // Drawn at once: work that ends within the first redraw still shows.
    b.tick();
    b
}

/// A spinner for work of unknown length: `⠋ {what} (3s)`.
pub fn spinner(json: bool, what: &str) -> ProgressBar {
    let s = ProgressBar::with_draw_target(None, target(json));
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        s.set_style(style);
    }
    s.set_message(what.to_owned());
    s.tick();
    s.enable_steady_tick(Duration::from_millis(100));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_drawn_only_on_a_terminal_and_never_with_json() {
        assert!(shown(false, true));
        assert!(!shown(true, true));
        assert!(!shown(false, false));
        assert!(!shown(true, false));
    }
}
