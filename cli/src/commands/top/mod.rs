//! `logstream top`: a live view of a log directory while its writer and
//! readers run. Read-only, from any process, with no cooperation from them:
//! each interval it reads what `stat`, `lag` and `dlq count` read
//! ([`sample`]) and draws it ([`view`]); `--json`, or an output that is not a
//! terminal, prints the same as one JSON line per interval instead.
//!
//! The terminal is put back as it was (raw mode off, the main screen back)
//! on `q`, Ctrl-C, SIGTERM, an error, and a panic.

mod sample;
mod view;

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use logstream::Config;
use ratatui::crossterm::event::{self, Event};

use crate::args::TopArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::output::print;
use crate::signals::shutdown_on_signals;
use crate::target::existing_log;
use sample::{Sampler, until_next};
use view::{Action, Ui};

/// Longest a key waits before `top` looks at SIGTERM and the clock again.
const KEY_WAIT: Duration = Duration::from_millis(100);

/// Shows the log in `cfg` until `q`, Ctrl-C or SIGTERM (or `--count` looks).
///
/// # Errors
/// No log there; I/O errors reading it; the terminal cannot be set up.
pub fn run(cfg: &Config, args: &TopArgs, json: bool) -> Outcome {
    existing_log(cfg)?;
    let mut sampler = Sampler::new(cfg);
    if json || !std::io::stdout().is_terminal() {
        return json_lines(&mut sampler, args);
    }
    live(&mut sampler, args)
}

/// One JSON line per interval, until a signal or `--count`.
fn json_lines(sampler: &mut Sampler, args: &TopArgs) -> Outcome {
    let stop = shutdown_on_signals()?;
    let mut shown = 0u64;
    loop {
        let started = Instant::now();
        let screen = sampler.sample()?;
        let line = serde_json::to_string(&screen).map_err(|e| Failure::error(format!("cannot encode JSON: {e}")))?;
        print(line + "\n")?;
        shown += 1;
        if args.count.is_some_and(|n| shown >= n) || stop.wait_timeout(until_next(started, args.interval)) {
            return Ok(Exit::Ok);
        }
    }
}

/// The terminal view.
fn live(sampler: &mut Sampler, args: &TopArgs) -> Outcome {
    // Raw mode turns Ctrl-C into a key; SIGTERM still comes as a signal.
    let stop = shutdown_on_signals()?;
    // Looked at before the screen is taken, so that an unreadable log is
    // one line on a normal terminal.
    let mut screen = sampler.sample()?;
    let mut terminal = ratatui::try_init().map_err(|e| Failure::error(format!("cannot set up the terminal: {e}")))?;
    let result = (|| -> Outcome {
        let mut ui = Ui::default();
        let mut shown = 0u64;
        let mut started = Instant::now();
        let mut dirty = true;
        loop {
            if dirty {
                terminal
                    .draw(|f| view::render(f, &screen, &ui))
                    .map_err(|e| Failure::error(format!("cannot draw on the terminal: {e}")))?;
                dirty = false;
            }
            if stop.is_triggered() {
                return Ok(Exit::Ok);
            }
            let wait = until_next(started, args.interval).min(KEY_WAIT);
            let ready = event::poll(wait).map_err(|e| Failure::error(format!("cannot read the terminal: {e}")))?;
            if ready {
                match event::read().map_err(|e| Failure::error(format!("cannot read the terminal: {e}")))? {
                    Event::Key(k) => match ui.key(k) {
                        Action::Quit => return Ok(Exit::Ok),
                        Action::Redraw => dirty = true,
                        Action::None => {}
                    },
                    Event::Resize(..) => dirty = true,
                    _ => {}
                }
            }
            if started.elapsed() >= args.interval {
                shown += 1;
                if args.count.is_some_and(|n| shown >= n) {
                    return Ok(Exit::Ok);
                }
                started = Instant::now();
                screen = sampler.sample()?;
                dirty = true;
            }
        }
    })();
    let restored = ratatui::try_restore();
    let exit = result?;
    restored.map_err(|e| Failure::error(format!("cannot restore the terminal: {e}")))?;
    Ok(exit)
}
