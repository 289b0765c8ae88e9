//! Exit codes scripts can rely on, and the one error type of the command.
//!
//! Every failure ends as one line on standard error, `logstream: <what went
//! wrong>`, and one of the codes below. The codes are part of the interface:
//! they are listed in `logstream --help` and never reused for something else.

use std::io;

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; for `verify`, nothing is damaged.
    Ok = 0,
    /// Something failed: I/O, a bad config, a missing directory or topic.
    Error = 1,
    /// The command line is wrong (unknown option, missing argument, bad value).
    Usage = 2,
    /// `verify` found damage (after `--repair`: damage that remains).
    Damage = 3,
    /// Another writer holds the log directory (`write`, `verify --repair`,
    /// `dlq replay`).
    Locked = 4,
    /// `forward`: the NATS server or Kafka brokers could not be reached at start.
    Unreachable = 5,
    /// `tail` without `-f`: nothing at the position asked for (past the end,
    /// or an empty topic), so no record was printed.
    Nothing = 6,
}

/// The text of `--help` that lists the codes above.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done; for verify: nothing is damaged
  1  error (I/O, bad config, missing directory or topic)
  2  wrong command line
  3  verify found damage (after --repair: damage that remains)
  4  the log is locked by another writer (write, verify --repair, dlq replay)
  5  forward: the NATS server or Kafka brokers cannot be reached at start
  6  tail (without -f): nothing at the position asked for, no record printed";

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(e as u8)
    }
}

/// Why a command stopped early.
#[derive(Debug)]
pub enum Failure {
    /// Print `logstream: {message}` and exit with `exit`.
    Report {
        /// The exit code.
        exit: Exit,
        /// One line, without the `logstream: ` prefix.
        message: String,
    },
    /// Whoever read our standard output went away (`logstream tail t | head`):
    /// stop quietly, as `cat` would.
    OutputClosed,
}

impl Failure {
    /// A failure with exit code 1.
    pub fn error(message: impl Into<String>) -> Failure {
        Failure::Report { exit: Exit::Error, message: message.into() }
    }

    /// A failure with exit code 2.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::Report { exit: Exit::Usage, message: message.into() }
    }

    /// A failure with exit code 6: `tail` found nothing to print.
    pub fn nothing(message: impl Into<String>) -> Failure {
        Failure::Report { exit: Exit::Nothing, message: message.into() }
    }

    /// A failure with exit code 5: `forward` cannot reach its engine.
    pub fn unreachable(message: impl Into<String>) -> Failure {
        Failure::Report { exit: Exit::Unreachable, message: message.into() }
    }

    /// The same failure with its message rewritten by `f` (to add context).
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Failure {
        match self {
            Failure::Report { exit, message } => Failure::Report { exit, message: f(message) },
            other => other,
        }
    }

    /// Writing to standard output failed.
    pub fn output(e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::OutputClosed
        } else {
            Failure::error(format!("cannot write to standard output: {e}"))
        }
    }
}

impl From<logstream::Error> for Failure {
    fn from(e: logstream::Error) -> Failure {
        let exit = if matches!(e, logstream::Error::Locked { .. }) { Exit::Locked } else { Exit::Error };
        Failure::Report { exit, message: one_line(&e.to_string()) }
    }
}

/// Joins the lines of a message, so every error stays one line on stderr.
pub fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Result of a command: the exit code it chose, or why it stopped.
pub type Outcome = Result<Exit, Failure>;
