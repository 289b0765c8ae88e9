//! `logstream completions SHELL`: a completion script from the same
//! definition `--help` comes from, so it never falls behind.

use clap::CommandFactory;

use crate::args::Cli;
use crate::exit::{Exit, Outcome};

/// Prints the completion script for `shell`.
pub fn run(shell: clap_complete::Shell) -> Outcome {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "logstream", &mut script);
    crate::output::print(script)?;
    Ok(Exit::Ok)
}
