//! `logstream`: see, follow, check and repair a logstream log directory, and
//! ship it into NATS or Kafka (`forward`).
//!
//! Each command is a module of [`commands`]; [`args`] is the command line,
//! [`exit`] the exit codes and the one-line error every failure ends in.

mod args;
mod commands;
mod exit;
mod glob;
mod logger;
mod output;
mod progress;
mod prompt;
mod reports;
mod signals;
mod table;
mod target;
mod units;

use std::process::ExitCode;

use clap::error::ErrorKind;

use crate::exit::{Exit, Failure};

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let parsed = args::Cli::command()
        .version(&*Box::leak(args::version_text().into_boxed_str()))
        .try_get_matches()
        .and_then(|m| args::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => return command_line_error(&e),
    };
    match commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(Failure::OutputClosed) => Exit::Ok.into(),
        Err(Failure::Report { exit, message }) => {
            eprintln!("logstream: {message}");
            exit.into()
        }
    }
}

/// Help and version go out as clap prints them; a wrong command line becomes
/// one line on stderr and exit code 2.
fn command_line_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let code = e.exit_code();
            if e.print().is_err() {
                return Exit::Error.into();
            }
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        _ => {
            eprintln!("logstream: {}", usage_line(&e.render().to_string()));
            Exit::Usage.into()
        }
    }
}

/// clap's multi-line error as one line: the error, its tips, and where to
/// read more.
fn usage_line(rendered: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    // Lines right under the error line continue it (e.g. the missing arguments).
    let mut continues = false;
    for line in rendered.lines().map(str::trim) {
        if let Some(msg) = line.strip_prefix("error: ") {
            parts.push(msg.to_owned());
            continues = true;
        } else if let Some(tip) = line.strip_prefix("tip: ") {
            parts.push(format!("tip: {tip}"));
            continues = false;
        } else if line.is_empty() {
            continues = false;
        } else if continues && let Some(last) = parts.last_mut() {
            last.push(' ');
            last.push_str(line);
        }
    }
    if parts.is_empty() {
        parts.push(exit::one_line(rendered));
    }
    format!("{} (see 'logstream --help')", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clap_error_becomes_one_line_with_its_tip() {
        let rendered = "error: unexpected argument '--folow' found\n\n  tip: a similar argument exists: '--follow'\n\nUsage: logstream tail --follow <TOPIC>...\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_line(rendered),
            "unexpected argument '--folow' found; tip: a similar argument exists: '--follow' (see 'logstream --help')"
        );
    }

    #[test]
    fn the_arguments_listed_under_a_clap_error_stay_in_its_line() {
        let rendered = "error: the following required arguments were not provided:\n  --repair\n\nUsage: logstream verify --repair --yes\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_line(rendered),
            "the following required arguments were not provided: --repair (see 'logstream --help')"
        );
    }
}
