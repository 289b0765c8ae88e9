//! The command line: every command, option and its `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

const ABOUT: &str = "See, follow, check and repair a logstream log directory; ship it into NATS or Kafka";

const LONG_ABOUT: &str = "\
See, follow, check and repair a logstream log directory; ship it into NATS
JetStream or Kafka (forward).

The log is found as the library finds it: --config FILE reads that file's
base_dir; without it, $LOGSTREAM_CONFIG names the file, else
/etc/logstream/meta.json. --dir DIR names the directory directly (with
--config, it overrides the file's base_dir).

Read commands take no lock and change nothing: they can run beside the
service that writes the log. Every read command prints a table, or JSON with
--json.";

/// What `--version` prints after the name: the release, and the on-disk
/// format this build writes and reads (a log written by a newer format is
/// refused with both versions named).
pub fn version_text() -> String {
    let v = logstream::FORMAT_VERSION;
    format!("{} (on-disk log format {v}; reads logs of formats 1 to {v})", env!("CARGO_PKG_VERSION"))
}

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

    /// Print JSON instead of a table (tail: one JSON object per record; forward --stats: one per report)
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

Without -f, prints what the topics hold when the command starts and exits;
when not one record is printed (the position is at or past the end, or the
topic is empty) it says why and exits with code 6. A --from before the
oldest retained record starts there and says what was skipped. With -f,
keeps printing new records as they are written, until Ctrl-C (which ends the
command cleanly, exit code 0).

Several topics are read in turn, a batch at a time; each topic stays in
order. A TOPIC with wildcards ('orders-*', 'log?', 'app-[ab]') names every
topic it matches (with -f, also those created later). In raw format each
line starts with [topic] when more than one topic is shown.",
        after_help = "\
Examples:
  logstream tail login                    every record of topic login
  logstream tail -f login billing         new records of both, until Ctrl-C
  logstream tail 'orders-*'               every topic orders-…, lines labelled
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
        /// New position: earliest, latest, a sequence number, or the first record written at or after a time (2026-05-04T10:20:30Z or @UNIX_SECONDS)
        #[arg(long, value_name = "earliest|latest|SEQ|TIME", value_parser = parse_start)]
        to: Start,
    },

    /// A group's dead letters: records that kept failing
    #[command(subcommand)]
    Dlq(DlqCommand),

    /// Ship the log into NATS JetStream or Kafka until SIGINT or SIGTERM
    #[command(
        long_about = "\
Ship the log into NATS JetStream or Kafka as consumer group GROUP, until
SIGINT or SIGTERM: the sidecar that forwards any application's log with no
code. A signal ends it cleanly: batches in flight finish, positions are
persisted, exit code 0; a restart continues where it stopped without sending
anything twice.

NATS: each record is published to the subject the template renders, with
Nats-Msg-Id = {log_id}/{topic}/{epoch}/{seq}, so the stream de-duplicates
re-sent records; a JetStream stream must capture the subjects (--ensure-stream
NAME creates it or checks it). Kafka: an idempotent producer; the template
names the Kafka topic (one without {topic} sends every topic to one Kafka
topic, keyed by the logstream topic). Kafka is in builds with the feature
kafka only: cargo install logstream-cli --features kafka.

A batch the engine does not take is retried with backoff, forever (unless
retry_max_attempts is set): nothing is lost while the engine is down; each
failure is a warning on stderr. With --config, black_topics and white_topics
are re-read when the file changes. The exit code is 5 when the engine cannot
be reached at start.

--stats reports every --stats-interval: time, records forwarded (confirmed by
the engine) and their rate, failures, retries, and the topics most behind, as
a line on stderr; with --json, one JSON object per line on stdout: elapsed_s,
records, bytes, rate, batches, sent, duplicates (NATS; null for Kafka),
failures, retries, dead_letters, topics_owned, config_reloads, lag_records,
lag_bytes, lag (per topic: topic, next_seq, confirmed, lag_records,
lag_bytes) and last (true for the report made after stopping). A summary
line goes to stderr when it stops.",
        after_help = "\
Examples:
  logstream -c /srv/app/meta.json forward --to nats://127.0.0.1:4222 \\
      --subject 'logs.{topic}' --group shipper --ensure-stream LOGS --stats
  logstream -c /srv/app/meta.json forward --to kafka://k1:9092,k2:9092 \\
      --subject 'app.{topic}' --group shipper --kafka-set compression.type=lz4"
    )]
    Forward(Box<ForwardArgs>),

    /// A live view: per topic and group, rates, lag, owners, the last minute
    #[command(
        long_about = "\
A live view of the log, refreshed every second while its writer and readers
run (read-only, from any process, taking no lock): per topic the write rate,
records, next seq, disk use, segments and how many are compressed; per group
and topic the lag in records and in age of the oldest record waiting, the
read rate, the member delivering it, how long its position has not moved
while records wait (STALLED), and its dead letters; each row with a
sparkline of the last minute.

Keys: q or Ctrl-C quit (the terminal is restored), s cycles the sort (name,
rate, records/lag, bytes), r reverses it, / types a filter on topic and group
names (wildcards allowed; Enter keeps it, Esc clears it).

With --json, or when standard output is not a terminal, prints the same as
one JSON object per line per interval, until SIGINT or SIGTERM (or --count):
dir, time, time_ns, topics (topic, first_seq, next_seq, records, disk_bytes,
segments, compressed_segments, write_rate) and groups (group, topic,
confirmed, lag_records, lag_bytes, lag_seconds, consume_rate, owner,
stalled_seconds, dead_letters); rates are null at the first line.",
        after_help = "Examples:\n  logstream -c /srv/app/meta.json top\n  logstream --dir /var/lib/app/logstream top --json --count 5"
    )]
    Top(TopArgs),

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
    /// Topics to print (wildcards * ? [..] match topic names; quote them)
    #[arg(required = true, value_name = "TOPIC")]
    pub topics: Vec<String>,

    /// Keep printing new records until Ctrl-C
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// First record: earliest, latest (only new records), a sequence number, or the first written at or after a time (2026-05-04T10:20:30Z or @UNIX_SECONDS) [default: earliest; latest with -f]
    #[arg(long, value_name = "earliest|latest|SEQ|TIME", value_parser = parse_start)]
    pub from: Option<Start>,

    /// How to print each record [default: raw; json with --json]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<RecordFormat>,

    /// Stop after N records (over all topics)
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,
}

/// `logstream top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Seconds between looks
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    pub interval: Duration,

    /// Stop after N looks [default: until q, Ctrl-C or SIGTERM]
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
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
    /// The first record written at or after this time (ns since the Unix epoch).
    Time(u64),
}

fn parse_start(s: &str) -> Result<Start, String> {
    match s {
        "earliest" => Ok(Start::Earliest),
        "latest" => Ok(Start::Latest),
        _ if s.starts_with('@') || s.contains(':') => crate::units::parse_time(s).map(Start::Time).ok_or_else(|| {
            "expected a time as RFC 3339 (2026-05-04T10:20:30Z, an offset such as +02:00 instead of Z) or @SECONDS since 1970".to_owned()
        }),
        _ => s
            .parse()
            .map(Start::Seq)
            .map_err(|_| "expected earliest, latest, a sequence number or a time (2026-05-04T10:20:30Z, @SECONDS)".to_owned()),
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

/// `logstream forward`.
#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// The engine: nats://HOST:PORT (also tls://, several comma-separated) or kafka://HOST:PORT[,HOST:PORT…]
    #[arg(long, value_name = "URL")]
    pub to: String,

    /// Subject (NATS) or Kafka topic name; {topic} is the record's topic, {log_id} the log's id
    #[arg(long, value_name = "TEMPLATE", default_value = "logs.{topic}")]
    pub subject: String,

    /// The consumer group whose positions the forwarder keeps in the log
    #[arg(long, short = 'g', value_name = "GROUP")]
    pub group: String,

    /// Print progress and per-topic lag every --stats-interval (stderr; JSON lines on stdout with --json)
    #[arg(long)]
    pub stats: bool,

    /// Seconds between --stats reports
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub stats_interval: Duration,

    /// Seconds connecting to the engine may take before the exit code 5
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub connect_timeout: Duration,

    /// NATS: create the JetStream stream NAME capturing the subjects, or check the existing one
    #[arg(long, value_name = "NAME", help_heading = "NATS options")]
    pub ensure_stream: Option<String>,

    /// NATS: seconds a publish waits for its JetStream ack (and any other wait of a batch); a batch failing for lack of acks ends within twice this, and so does a stop on SIGTERM while the server is down [default: 10]
    #[arg(long, value_name = "SECS", value_parser = parse_secs, help_heading = "NATS options")]
    pub ack_timeout: Option<Duration>,

    /// NATS: publishes awaiting their ack at once, shared by all topics (1 to 65536) [default: 4096]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_536), help_heading = "NATS options")]
    pub window: Option<u32>,

    /// NATS: the longest outage (server down, or this sidecar stopped) after which re-sent records must still be de-duplicated: warns (at start and in every --stats report) when the stream's duplicate window is shorter; --ensure-stream creates the stream with a window of at least this [default: 120]
    #[arg(long, value_name = "SECS", value_parser = parse_secs, help_heading = "NATS options")]
    pub ride_out: Option<Duration>,

    /// NATS: headers on each message (id-only: Nats-Msg-Id alone, fewer bytes per small record) [default: full]
    #[arg(long, value_enum, value_name = "SET", help_heading = "NATS options")]
    pub headers: Option<Headers>,

    /// NATS: user name (with --password)
    #[arg(long, value_name = "USER", requires = "password", help_heading = "NATS options")]
    pub user: Option<String>,

    /// NATS: password for --user
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "LOGSTREAM_NATS_PASSWORD",
        hide_env_values = true,
        requires = "user",
        help_heading = "NATS options"
    )]
    pub password: Option<String>,

    /// NATS: authentication token
    #[arg(
        long,
        value_name = "TOKEN",
        env = "LOGSTREAM_NATS_TOKEN",
        hide_env_values = true,
        conflicts_with_all = ["user", "creds_file"],
        help_heading = "NATS options"
    )]
    pub token: Option<String>,

    /// NATS: a .creds file (JWT and NKey seed, as nsc writes it)
    #[arg(long, value_name = "FILE", conflicts_with = "user", help_heading = "NATS options")]
    pub creds_file: Option<PathBuf>,

    /// NATS: a PEM root certificate to trust (a private CA); repeat for several
    #[arg(long, value_name = "FILE", help_heading = "NATS options")]
    pub tls_ca: Vec<PathBuf>,

    /// Kafka: a librdkafka producer property KEY=VALUE (SASL credentials, compression.type, …); repeat for several
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value, help_heading = "Kafka options")]
    pub kafka_set: Vec<(String, String)>,
}

/// Which headers `forward` puts on NATS messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Headers {
    /// Nats-Msg-Id and logstream-topic, -seq, -epoch, -log-id, -timestamp, -batch-start
    Full,
    /// Nats-Msg-Id (and the batch start mark) only
    IdOnly,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err("expected a number of seconds above 0 (e.g. 10 or 0.5)".to_owned()),
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err("expected KEY=VALUE, e.g. compression.type=lz4".to_owned()),
    }
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
exits with code 1.

Without FILE, checks the file the library would read: --config, else
$LOGSTREAM_CONFIG, else /etc/logstream/meta.json.")]
    Check {
        /// The config file [default: --config, $LOGSTREAM_CONFIG, else /etc/logstream/meta.json]
        file: Option<PathBuf>,
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
        assert_eq!(parse_start("@2"), Ok(Start::Time(2_000_000_000)));
        assert_eq!(parse_start("1970-01-01T00:00:03Z"), Ok(Start::Time(3_000_000_000)));
        assert!(parse_start("1970-01-01T00:00:03").is_err());
        assert!(parse_start("-1").is_err());
        assert!(parse_start("soon").is_err());
    }

    #[test]
    fn seconds_are_positive_and_may_have_a_fraction() {
        assert_eq!(parse_secs("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_secs("0.25"), Ok(Duration::from_millis(250)));
        assert!(parse_secs("0").is_err() && parse_secs("-1").is_err() && parse_secs("soon").is_err());
    }

    #[test]
    fn a_kafka_property_is_key_equals_value() {
        assert_eq!(parse_key_value("sasl.password=a=b"), Ok(("sasl.password".into(), "a=b".into())));
        assert!(parse_key_value("linger.ms").is_err() && parse_key_value("=1").is_err());
    }
}
