//! Standard output: text and JSON, with a closed pipe (`| head`) ending the
//! command quietly rather than as an error.

use std::io::Write;

use serde::Serialize;

use crate::exit::Failure;

/// Writes `text` (UTF-8 or not) to standard output.
///
/// # Errors
/// [`Failure::OutputClosed`] when the reader went away, else an error.
pub fn print(text: impl AsRef<[u8]>) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_ref()).and_then(|()| out.flush()).map_err(Failure::output)
}

/// Writes `value` as pretty JSON and a newline.
///
/// # Errors
/// As [`print()`].
pub fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::error(format!("cannot encode JSON: {e}")))?;
    print(text + "\n")
}

/// Writes one line to standard error: progress, notes and warnings of the
/// long-running commands. A closed or full stderr is not a reason to stop
/// shipping, so failures to write are ignored.
pub fn note(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}").and_then(|()| err.flush());
}

/// `logstream: warning: {text}` on standard error.
pub fn warn(text: &str) {
    note(&format!("logstream: warning: {text}"));
}
