//! The command line: every command, option and its `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

const ABOUT: &str = "See, follow, check and repair a logstream log directory";

const LONG_ABOUT: &str = "\
See, follow, check and repair a logstream log directory.

The log is found as the library finds it: --config FILE reads that file's
base_dir; without it, $LOGSTREAM_CONFIG names the file, else
/etc/logstream/meta.json. --dir DIR names the directory directly (with
--config, it overrides the file's base_dir).

Read commands take no lock and change nothing: they can run beside the
service that writes the log. Every read command prints a table, or JSON with
--json.";

/// `logstream`: the command line.
#[derive(Debug, Parser)]
#[command(
    name = "logstream",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES_HELP,
    subcommand_required = true,
    arg_required_else_help = false,
    max_term_width = 100
)]
pub struct Cli {
    /// Where the log is and how to print.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Log options")]
pub struct Global {
    /// Config file whose base_dir is the log [default: $LOGSTREAM_CONFIG, else /etc/logstream/meta.json]
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log directory (overrides the config file's base_dir)
    #[arg(long, short = 'd', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Print JSON instead of a table (tail: one JSON object per record)
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
///
/// Each is a variant here and a module in `commands/`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Topics: records, segments, oldest and newest record, disk use
    #[command(after_help = "Example:\n  logstream --dir /var/lib/app/logstream stat")]
    Stat,

    /// Print the records of one or more topics; -f follows new ones
    #[command(
        long_about = "\
Print the records of one or more topics, oldest first.

Without -f, prints what the topics hold when the command starts and exits.
With -f, keeps printing new records as they are written, until Ctrl-C (which
ends the command cleanly, exit code 0). Several topics are read in turn, a
batch at a time; each topic stays in order.",
        after_help = "\
Examples:
  logstream tail login                    every record of topic login
  logstream tail -f login billing         new records of both, until Ctrl-C
  logstream tail login --from 1000 -n 10  records 1000..1009
  logstream tail login --format json      one JSON object per record"
    )]
    Tail(TailArgs),

    /// Append each line of standard input (or --file) to a topic as one record
    #[command(long_about = "\
Append each line of standard input (or of --file) to TOPIC as one record,
without its line ending, and print how many were written.

This opens the log as its writer: it fails with exit code 4 while another
writer (such as the service) holds the directory. The directory is created if
it does not exist. Records are durable when the command returns.")]
    Write(WriteArgs),

    /// Check every segment, index and checkpoint; --repair fixes what can be fixed
    #[command(long_about = "\
Check every segment, index and checkpoint of the log and report damaged
spans, torn tails, index and checkpoint problems. Exit code 3 when anything is
damaged. A torn tail (what a writer killed mid-record leaves) is not damage:
the next writer cuts it.

--repair first shows what it will change and asks for confirmation (unless
--yes). It takes the writer lock, cuts torn tails, seals segments left open,
rebuilds damaged indexes and headers, and rewrites damaged checkpoint
journals. Damaged records cannot be brought back: readers skip them.")]
    Verify(VerifyArgs),

    /// Consumer groups, their members and the positions they saved
    #[command(long_about = "\
List the consumer groups of the log and, per topic, the position each saved
(the sequence number of the next record it will be handed) and when; then the
readers consuming each group now. Damaged checkpoints are reported by
verify.")]
    Groups,

    /// Per group and topic: position, records and bytes left to deliver
    #[command(long_about = "\
Per group and topic: the records retained (FIRST..NEXT), the group's position
(CONFIRMED: the next record it delivers), the records and bytes it has left
(LAG, BYTES), when it last saved its position, and the member reading the
topic now (OWNER).")]
    Lag {
        /// Only this group
        #[arg(long, short = 'g', value_name = "GROUP")]
        group: Option<String>,
    },

    /// Move a group's position in a topic (works while its readers run)
    #[command(
        long_about = "\
Move GROUP's position in TOPIC: the group's readers deliver from there on
(earliest: replay everything retained; latest: skip the backlog; SEQ: that
record, clamped to what is retained). A running reader applies it after the
batch it is delivering.",
        after_help = "Example:\n  logstream reset --group billing orders --to latest"
    )]
    Reset {
        /// The group
        #[arg(long, short = 'g', value_name = "GROUP")]
        group: String,
        /// The topic
        topic: String,
        /// New position: earliest, latest or a sequence number
        #[arg(long, value_name = "earliest|latest|SEQ", value_parser = parse_start)]
        to: Start,
    },

    /// A group's dead letters: records that kept failing
    #[command(subcommand)]
    Dlq(DlqCommand),

    /// Configuration files
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  logstream completions bash > /etc/bash_completion.d/logstream
  logstream completions zsh > \"${fpath[1]}/_logstream\"")]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `logstream tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Topics to print
    #[arg(required = true, value_name = "TOPIC")]
    pub topics: Vec<String>,

    /// Keep printing new records until Ctrl-C
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// First record: earliest, latest (only new records) or a sequence number [default: earliest; latest with -f]
    #[arg(long, value_name = "earliest|latest|SEQ", value_parser = parse_start)]
    pub from: Option<Start>,

    /// How to print each record [default: raw; json with --json]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<RecordFormat>,

    /// Stop after N records (over all topics)
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,
}

/// Where `tail` starts in each topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The oldest retained record.
    Earliest,
    /// After the newest record: only records written from now on.
    Latest,
    /// This sequence number (or the oldest retained record, if later).
    Seq(u64),
}

fn parse_start(s: &str) -> Result<Start, String> {
    match s {
        "earliest" => Ok(Start::Earliest),
        "latest" => Ok(Start::Latest),
        _ => s.parse().map(Start::Seq).map_err(|_| "expected earliest, latest or a sequence number".to_owned()),
    }
}

/// How `tail` prints a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordFormat {
    /// The record's bytes, then a newline
    Raw,
    /// Topic, sequence number, time and the bytes in hex, one line per record
    Hex,
    /// One JSON object per line: topic, seq, time, time_ns, and data (UTF-8) or data_hex
    Json,
}

/// `logstream write`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Topic to append to
    pub topic: String,

    /// Read the lines from this file instead of standard input
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `logstream verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Fix what can be fixed, after showing what will change
    #[arg(long)]
    pub repair: bool,

    /// Repair without asking
    #[arg(long, short = 'y', requires = "repair")]
    pub yes: bool,
}

/// `logstream dlq …`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead letters waiting, per topic
    Count(DlqTarget),
    /// Print dead letters, oldest first, with the error that sent each there
    List {
        /// Whose dead letters
        #[command(flatten)]
        target: DlqTarget,
        /// At most N per topic
        #[arg(short = 'n', long, value_name = "N", default_value_t = 100)]
        count: usize,
    },
    /// Write the dead letters back into their topics (as new records) and remove them
    #[command(long_about = "\
Write the dead letters back into their topics, as new records, and remove
them; the group then delivers them again. This opens the log as its writer:
it fails with exit code 4 while another writer holds the directory.")]
    Replay(DlqTarget),
    /// Delete the dead letters without replaying them (asks first unless --yes)
    Clear {
        /// Whose dead letters
        #[command(flatten)]
        target: DlqTarget,
        /// Delete without asking
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// The group (and topic) a `dlq` command is about.
#[derive(Debug, Args)]
pub struct DlqTarget {
    /// The group
    #[arg(long, short = 'g', value_name = "GROUP")]
    pub group: String,
    /// Only this topic [default: every topic]
    pub topic: Option<String>,
}

/// `logstream config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse a config file and print the effective configuration as JSON
    #[command(long_about = "\
Parse a config file and print the effective configuration as JSON: every key,
defaults filled in, sizes in bytes, base_dir made absolute. The output is
itself a valid config file. A bad file prints the error naming the key and
exits with code 1.")]
    Check {
        /// The config file
        file: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_start_is_earliest_latest_or_a_number() {
        assert_eq!(parse_start("earliest"), Ok(Start::Earliest));
        assert_eq!(parse_start("latest"), Ok(Start::Latest));
        assert_eq!(parse_start("42"), Ok(Start::Seq(42)));
        assert!(parse_start("-1").is_err());
        assert!(parse_start("soon").is_err());
    }
}
