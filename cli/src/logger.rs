//! What the library and the forwarder crates log while `forward` runs (a
//! batch that failed and will be retried, black/white lists reloaded, a
//! checkpoint that could not be saved) as one line each on standard error,
//! the way the command reports everything else: `logstream: warning: …`.
//!
//! Only their own messages are shown (targets starting with `logstream`):
//! the NATS and Kafka clients' chatter stays out of a sidecar's log.

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::exit::one_line;
use crate::output::note;

struct Stderr;

static STDERR: Stderr = Stderr;

impl Log for Stderr {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= Level::Info && m.target().starts_with("logstream")
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let label = match record.level() {
            Level::Error => "error: ",
            Level::Warn => "warning: ",
            _ => "",
        };
        note(&format!("logstream: {label}{}", one_line(&record.args().to_string())));
    }

    fn flush(&self) {}
}

/// Sends the crates' log messages to standard error from now on. Only the
/// first call installs the logger; later ones change nothing.
pub fn to_stderr() {
    if log::set_logger(&STDERR).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}
