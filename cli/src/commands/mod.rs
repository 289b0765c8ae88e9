//! One module per command; [`run`] picks the one the command line names.

mod completions;
mod config_check;
mod dlq;
mod forward;
mod groups;
mod lag;
mod reset;
mod stat;
mod tail;
mod top;
mod verify;
mod write;

use crate::args::{Cli, Command, ConfigCommand};
use crate::exit::Outcome;
use crate::target;

/// Runs the command.
///
/// # Errors
/// What the command reports; see [`crate::exit`].
pub fn run(cli: Cli) -> Outcome {
    let json = cli.global.json;
    match cli.command {
        Command::Stat => stat::run(&target::config(&cli.global)?, json),
        Command::Top(args) => top::run(&target::config(&cli.global)?, &args, json),
        Command::Tail(args) => tail::run(&target::config(&cli.global)?, &args, json),
        Command::Write(args) => write::run(&target::config(&cli.global)?, &args, json),
        Command::Verify(args) => verify::run(&target::config(&cli.global)?, &args, json),
        Command::Groups => groups::run(&target::config(&cli.global)?, json),
        Command::Lag { group } => lag::run(&target::config(&cli.global)?, group.as_deref(), json),
        Command::Reset { group, topic, to } => reset::run(&target::config(&cli.global)?, &group, &topic, to, json),
        Command::Dlq(action) => dlq::run(&target::config(&cli.global)?, &action, json),
        Command::Forward(args) => forward::run(&target::config(&cli.global)?, &args, json),
        Command::Config(ConfigCommand::Check { file }) => config_check::run(file.or(cli.global.config)),
        Command::Completions { shell } => completions::run(shell),
    }
}
