//! `logstream tail [-f] TOPIC…`: prints records with one
//! `logstream::TopicReader` per topic, read in turn a batch at a time.
//!
//! Without `-f` each topic is read up to the end it had when the command
//! started, so a busy writer cannot keep the command running forever. With
//! `-f` the readers wait for new records until Ctrl-C (or SIGTERM), which
//! only sets a flag: the batch being printed is finished and flushed, and
//! the exit code is 0.

use std::io::Write;
use std::time::Duration;

use logstream::{Batch, Config, Corruption, TopicReader};
use logstream_ship::Shutdown;
use serde::Serialize;

use crate::args::{RecordFormat, Start, TailArgs};
use crate::exit::{Exit, Failure, Outcome};
use crate::signals::shutdown_on_signals;
use crate::target::existing_log;
use crate::units;

/// Largest batch read at once (a larger record still comes, alone).
const MAX_BATCH_BYTES: u64 = 1 << 20;

/// Longest an idle `-f` waits before it looks at the Ctrl-C flag again.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// One topic being printed.
struct Tailed {
    reader: TopicReader,
    /// Without `-f`: the topic's end when the command started.
    end: Option<u64>,
}

impl Tailed {
    fn done(&self) -> bool {
        self.end.is_some_and(|end| self.reader.position() >= end)
    }
}

/// Prints the records of `args.topics`.
///
/// # Errors
/// No log or no such topic (without `-f`), an invalid topic name, I/O errors.
pub fn run(cfg: &Config, args: &TailArgs, json: bool) -> Outcome {
    let format = match (json, args.format) {
        (true, Some(f)) if f != RecordFormat::Json => {
            return Err(Failure::usage(format!("--json and --format {f:?} contradict each other").to_lowercase()));
        }
        (true, _) => RecordFormat::Json,
        (false, f) => f.unwrap_or(RecordFormat::Raw),
    };
    let dir = existing_log(cfg)?;
    let infos = logstream::topics(cfg)?;
    let start = args.from.unwrap_or(if args.follow { Start::Latest } else { Start::Earliest });
    let mut topics: Vec<&str> = Vec::new();
    for t in &args.topics {
        if !topics.contains(&t.as_str()) {
            topics.push(t);
        }
    }
    let mut tailed = Vec::with_capacity(topics.len());
    for topic in topics {
        let info = infos.iter().find(|i| i.topic == topic);
        // Checks the name first, so a bad one is named as such.
        let mut reader = TopicReader::open(cfg, topic, 0)?;
        let next = match info {
            Some(i) => i.next_seq,
            None if args.follow => {
                eprintln!("logstream: topic {topic:?} does not exist yet in {}; waiting for it", dir.display());
                0
            }
            None => return Err(no_such_topic(topic, dir, &infos)),
        };
        let seq = match start {
            Start::Earliest => 0,
            Start::Latest => next,
            Start::Seq(s) => s,
            Start::Time(ns) if info.is_some() => {
                logstream::seq_at_time(cfg, topic, std::time::UNIX_EPOCH + Duration::from_nanos(ns))?
            }
            // A topic that does not exist yet: everything it will hold is newer.
            Start::Time(_) => 0,
        };
        if seq != 0 {
            reader = TopicReader::open(cfg, topic, seq)?;
        }
        tailed.push(Tailed { reader, end: (!args.follow).then_some(next) });
    }
    let stop = if args.follow { shutdown_on_signals()? } else { Shutdown::new() };
    let mut printer = Printer { out: std::io::stdout().lock(), format, left: args.count };
    follow(&mut tailed, &mut printer, &stop)?;
    Ok(Exit::Ok)
}

/// Reads the topics in turn until each is done (or, with `-f`, until Ctrl-C
/// or `--count`).
fn follow(tailed: &mut [Tailed], printer: &mut Printer<'_>, stop: &Shutdown) -> Result<(), Failure> {
    let following = tailed.iter().any(|t| t.end.is_none());
    // Waiting on each topic in turn, briefly: a record on any of them shows
    // within about IDLE_WAIT, and so does Ctrl-C.
    let slice = (IDLE_WAIT / tailed.len().max(1) as u32).max(Duration::from_millis(5));
    loop {
        let mut progressed = false;
        for t in tailed.iter_mut().filter(|t| !t.done()) {
            let batch = t.reader.next_batch(MAX_BATCH_BYTES)?;
            // What was skipped before the batch is told before it.
            printer.warn(t.reader.take_events())?;
            if let Some(b) = batch {
                progressed = true;
                if !printer.batch(&b, t.end)? {
                    return Ok(());
                }
            }
        }
        printer.flush()?;
        if stop.is_triggered() || tailed.iter().all(Tailed::done) {
            return Ok(());
        }
        if progressed {
            continue;
        }
        if !following {
            // Caught up before the end seen at the start: records were cut
            // (damage or retention) after it was read; nothing more will come.
            return Ok(());
        }
        for t in tailed.iter_mut() {
            if stop.is_triggered() {
                return Ok(());
            }
            let batch = t.reader.wait_batch(MAX_BATCH_BYTES, slice)?;
            printer.warn(t.reader.take_events())?;
            if let Some(b) = batch {
                if !printer.batch(&b, None)? {
                    return Ok(());
                }
                printer.flush()?;
            }
        }
    }
}

/// A record as `--format json` prints it.
#[derive(Serialize)]
struct JsonRecord<'a> {
    topic: &'a str,
    seq: u64,
    time: String,
    time_ns: u64,
    /// The bytes, when they are UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
    /// The bytes in hex, when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    data_hex: Option<String>,
}

/// Writes records to standard output in the chosen format.
struct Printer<'a> {
    out: std::io::StdoutLock<'a>,
    format: RecordFormat,
    /// Records still to print under `--count`.
    left: Option<u64>,
}

impl Printer<'_> {
    /// Prints the records of `b` before `end`; false once `--count` is reached.
    fn batch(&mut self, b: &Batch, end: Option<u64>) -> Result<bool, Failure> {
        for rec in b.records() {
            if end.is_some_and(|e| rec.seq() >= e) {
                break;
            }
            if self.left == Some(0) {
                return Ok(false);
            }
            self.record(b.topic(), rec.seq(), rec.timestamp(), rec.data()).map_err(Failure::output)?;
            self.left = self.left.map(|n| n - 1);
        }
        Ok(self.left != Some(0))
    }

    fn record(&mut self, topic: &str, seq: u64, time_ns: u64, data: &[u8]) -> std::io::Result<()> {
        match self.format {
            RecordFormat::Raw => {
                self.out.write_all(data)?;
                self.out.write_all(b"\n")
            }
            RecordFormat::Hex => {
                writeln!(self.out, "{topic} {seq} {} {}", units::time_ns(time_ns), units::hex(data))
            }
            RecordFormat::Json => {
                let text = std::str::from_utf8(data).ok();
                let rec = JsonRecord {
                    topic,
                    seq,
                    time: units::time_ns(time_ns),
                    time_ns,
                    data: text,
                    data_hex: text.is_none().then(|| units::hex(data)),
                };
                serde_json::to_writer(&mut self.out, &rec)?;
                self.out.write_all(b"\n")
            }
        }
    }

    /// Damage and gaps met while reading, as warnings on stderr, after the
    /// records printed before them.
    fn warn(&mut self, events: Vec<Corruption>) -> Result<(), Failure> {
        if events.is_empty() {
            return Ok(());
        }
        self.flush()?;
        for e in events {
            let text = match e {
                Corruption::Damaged { topic, segment, offset, first_seq, skipped } => format!(
                    "topic {topic:?}: skipped {skipped} damaged record(s) from seq {first_seq} (byte {offset} of {}); run `logstream verify`",
                    segment.display()
                ),
                Corruption::Gap { topic, from_seq, to_seq } => {
                    format!(
                        "topic {topic:?}: records {from_seq}..{to_seq} are gone (deleted or cut); continuing at {to_seq}"
                    )
                }
                Corruption::PastEnd { topic, saved, end } => {
                    format!("topic {topic:?}: position {saved} is past the end ({end}); continuing at {end}")
                }
            };
            eprintln!("logstream: warning: {text}");
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Failure> {
        self.out.flush().map_err(Failure::output)
    }
}

fn no_such_topic(topic: &str, dir: &std::path::Path, infos: &[logstream::TopicInfo]) -> Failure {
    let known: Vec<&str> = infos.iter().map(|i| i.topic.as_str()).collect();
    let hint =
        if known.is_empty() { "it has no topics".to_owned() } else { format!("its topics: {}", known.join(", ")) };
    Failure::error(format!("no topic {topic:?} in {} ({hint}); use -f to wait for it", dir.display()))
}
