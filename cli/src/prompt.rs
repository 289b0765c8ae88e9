//! Questions before changes that cannot be undone.

use std::io::{IsTerminal, Write};

use crate::exit::Failure;

/// Asks on stderr and reads the answer from stdin; anything but yes is no.
pub fn confirm(question: &str) -> Result<bool, Failure> {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::error(format!("cannot read the answer from standard input: {e}")))?;
    if !std::io::stdin().is_terminal() {
        // The answer was not echoed: end the question's line.
        let _ = writeln!(err, "{}", answer.trim());
    }
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}
