//! `logstream tail [-f] TOPIC…`: prints records with one
//! `logstream::TopicReader` per topic, read in turn a batch at a time.
//!
//! Without `-f` each topic is read up to the end it had when the command
//! started, so a busy writer cannot keep the command running forever. With
//! `-f` the readers wait for new records until Ctrl-C (or SIGTERM), which
//! only sets a flag: the batch being printed is finished and flushed, and
//! the exit code is 0.
//!
//! A topic argument with wildcards (`'orders-*'`) names every topic it
//! matches; with `-f`, also those created later. Raw lines carry their topic
//! (`[orders-eu] …`) when more than one topic is shown. Without `-f`, a run
//! that prints nothing says why and exits with code 6.

use std::io::Write;
use std::time::{Duration, Instant};

use logstream::{Batch, Config, Corruption, TopicInfo, TopicReader};
use logstream_ship::Shutdown;
use serde::Serialize;

use crate::args::{RecordFormat, Start, TailArgs};
use crate::exit::{Exit, Failure, Outcome};
use crate::glob;
use crate::output::note;
use crate::signals::shutdown_on_signals;
use crate::target::{existing_log, known_topics, no_such_topic};
use crate::units;

/// Largest batch read at once (a larger record still comes, alone).
const MAX_BATCH_BYTES: u64 = 1 << 20;

/// Longest an idle `-f` waits before it looks at the Ctrl-C flag again.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// One topic being printed.
struct Tailed {
    topic: String,
    reader: TopicReader,
    /// Where printing was asked to start (after `--from` was resolved).
    asked: u64,
    /// The topic's first retained and next sequence numbers when it was opened.
    first: u64,
    next: u64,
    /// Without `-f`: the topic's end when the command started.
    end: Option<u64>,
}

impl Tailed {
    fn done(&self) -> bool {
        self.end.is_some_and(|end| self.reader.position() >= end)
    }

    /// Why this topic printed nothing, for the exit code 6 message.
    fn why_nothing(&self) -> String {
        let t = &self.topic;
        if self.first == self.next && self.asked <= self.next {
            format!("topic {t:?} holds no records (its next record will be {})", self.next)
        } else if self.asked >= self.next {
            format!("topic {t:?} has no record at seq {} (its next record will be {})", self.asked, self.next)
        } else {
            format!("topic {t:?}: records {}..{} were removed while it was read", self.asked, self.next)
        }
    }
}

/// Prints the records of `args.topics`.
///
/// # Errors
/// No log or no such topic (without `-f`), an invalid topic name, I/O
/// errors; [`Exit::Nothing`] when, without `-f`, not one record was printed.
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
    let (topics, patterns) = select(&args.topics, &infos, args.follow, dir)?;
    let mut tailed = Vec::with_capacity(topics.len());
    for topic in &topics {
        tailed.push(open(cfg, topic, &infos, start, args.follow, dir)?);
    }
    // Topics a pattern may still bring make the lines need their topic too.
    let label = format == RecordFormat::Raw && (tailed.len() > 1 || (args.follow && !patterns.is_empty()));
    let stop = if args.follow { shutdown_on_signals()? } else { Shutdown::new() };
    let mut printer = Printer { out: std::io::stdout().lock(), format, left: args.count, label, printed: 0 };
    let mut discover = Discover { cfg, patterns, next_look: Instant::now() + DISCOVER_EVERY };
    follow(&mut tailed, &mut printer, &stop, args.follow, &mut discover)?;
    if !args.follow && printer.printed == 0 && args.count != Some(0) {
        let why: Vec<String> = tailed.iter().map(Tailed::why_nothing).collect();
        return Err(Failure::nothing(format!("nothing to print: {}; -f waits for new records", why.join("; "))));
    }
    Ok(Exit::Ok)
}

/// The topics the arguments name, in order and each once, and the patterns
/// among them (`orders-*`), which `-f` keeps matching against new topics.
///
/// # Errors
/// Without `-f`, a pattern that matches no topic.
fn select(
    args: &[String],
    infos: &[TopicInfo],
    follow: bool,
    dir: &std::path::Path,
) -> Result<(Vec<String>, Vec<String>), Failure> {
    let (mut topics, mut patterns): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut add = |t: &str| {
        if !topics.iter().any(|x| x == t) {
            topics.push(t.to_owned());
        }
    };
    for arg in args {
        // A topic whose name holds a wildcard is still itself.
        if !glob::is_pattern(arg) || infos.iter().any(|i| &i.topic == arg) {
            add(arg);
            continue;
        }
        let matched: Vec<&str> = infos.iter().map(|i| i.topic.as_str()).filter(|t| glob::matches(arg, t)).collect();
        if matched.is_empty() {
            if !follow {
                return Err(Failure::error(format!(
                    "no topic matches {arg:?} in {} ({}); use -f to wait for one",
                    dir.display(),
                    known_topics(infos)
                )));
            }
            note(&format!("logstream: no topic matches {arg:?} in {} yet; waiting for one", dir.display()));
        }
        matched.into_iter().for_each(&mut add);
        patterns.push(arg.clone());
    }
    Ok((topics, patterns))
}

/// Opens `topic` where `--from` says, telling on stderr what a start before
/// the first retained record skips.
fn open(
    cfg: &Config,
    topic: &str,
    infos: &[TopicInfo],
    start: Start,
    follow: bool,
    dir: &std::path::Path,
) -> Result<Tailed, Failure> {
    // Checks the name first, so a bad one is named as such.
    let mut reader = TopicReader::open(cfg, topic, 0)?;
    let info = infos.iter().find(|i| i.topic == topic);
    let (first, next) = match info {
        Some(i) => (i.first_seq, i.next_seq),
        None if follow => {
            note(&format!("logstream: topic {topic:?} does not exist yet in {}; waiting for it", dir.display()));
            (0, 0)
        }
        None => {
            return Err(Failure::error(no_such_topic(topic, dir, infos) + "; use -f to wait for it"));
        }
    };
    let asked = match start {
        Start::Earliest => 0,
        Start::Latest => next,
        Start::Seq(s) => s,
        Start::Time(ns) if info.is_some() => {
            logstream::seq_at_time(cfg, topic, std::time::UNIX_EPOCH + Duration::from_nanos(ns))?
        }
        // A topic that does not exist yet: everything it will hold is newer.
        Start::Time(_) => 0,
    };
    if let Start::Seq(s) = start
        && info.is_some()
        && s < first
    {
        note(&format!(
            "logstream: note: topic {topic:?}: records {s}..{first} are no longer retained; printing from {first}"
        ));
    }
    if asked != 0 {
        reader = TopicReader::open(cfg, topic, asked)?;
    }
    Ok(Tailed { topic: topic.to_owned(), reader, asked, first, next, end: (!follow).then_some(next) })
}

/// How often `-f` looks for new topics matching its patterns.
const DISCOVER_EVERY: Duration = Duration::from_secs(1);

/// New topics matching the patterns of `tail -f 'orders-*'`.
struct Discover<'a> {
    cfg: &'a Config,
    patterns: Vec<String>,
    next_look: Instant,
}

impl Discover<'_> {
    /// Topics created since the last look that a pattern matches, opened
    /// at their first record (all they hold is new).
    fn new_topics(&mut self, known: &[Tailed]) -> Result<Vec<Tailed>, Failure> {
        if self.patterns.is_empty() || Instant::now() < self.next_look {
            return Ok(Vec::new());
        }
        self.next_look = Instant::now() + DISCOVER_EVERY;
        let mut out = Vec::new();
        for i in logstream::topics(self.cfg)? {
            if known.iter().any(|t| t.topic == i.topic) || !self.patterns.iter().any(|p| glob::matches(p, &i.topic)) {
                continue;
            }
            let reader = TopicReader::open(self.cfg, &i.topic, 0)?;
            out.push(Tailed { topic: i.topic, reader, asked: 0, first: i.first_seq, next: i.next_seq, end: None });
        }
        Ok(out)
    }
}

/// Reads the topics in turn until each is done (or, with `-f`, until Ctrl-C
/// or `--count`).
fn follow(
    tailed: &mut Vec<Tailed>,
    printer: &mut Printer<'_>,
    stop: &Shutdown,
    following: bool,
    discover: &mut Discover<'_>,
) -> Result<(), Failure> {
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
        if stop.is_triggered() || (!following && tailed.iter().all(Tailed::done)) {
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
        let found = discover.new_topics(tailed)?;
        tailed.extend(found);
        if tailed.is_empty() {
            // Only patterns that match nothing yet: look again soon.
            std::thread::sleep(IDLE_WAIT);
            continue;
        }
        // Waiting on each topic in turn, briefly: a record on any of them
        // shows within about IDLE_WAIT, and so does Ctrl-C.
        let slice = (IDLE_WAIT / tailed.len() as u32).max(Duration::from_millis(5));
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
    /// Raw lines start with `[topic] ` (more than one topic is shown).
    label: bool,
    /// Records printed so far.
    printed: u64,
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
            self.printed += 1;
        }
        Ok(self.left != Some(0))
    }

    fn record(&mut self, topic: &str, seq: u64, time_ns: u64, data: &[u8]) -> std::io::Result<()> {
        match self.format {
            RecordFormat::Raw => {
                if self.label {
                    write!(self.out, "[{topic}] ")?;
                }
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
