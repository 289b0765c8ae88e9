//! `logstream write TOPIC [--file F]`: each line becomes one record.

use std::io::{BufRead, BufReader};
use std::path::Path;

use logstream::{Config, Writer};
use serde::Serialize;

use crate::args::WriteArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::output::{print, print_json};

#[derive(Serialize)]
struct Written<'a> {
    topic: &'a str,
    written: u64,
    first_seq: u64,
    next_seq: u64,
}

/// Appends the lines of standard input or `args.file` to `args.topic`.
///
/// # Errors
/// The input cannot be read, the log is locked ([`Exit::Locked`]), a record
/// is refused; the records written before the failure stay written.
pub fn run(cfg: &Config, args: &WriteArgs, json: bool) -> Outcome {
    let input: Box<dyn BufRead> = match &args.file {
        Some(path) => Box::new(BufReader::new(
            std::fs::File::open(path).map_err(|e| Failure::error(format!("cannot open {}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let source = args.file.as_deref().unwrap_or(Path::new("standard input"));
    let topic = args.topic.as_str();
    // Refused before the writer opens, so a typo creates no directory.
    if let Some(reason) = logstream::topic_name_problem(topic) {
        return Err(logstream::Error::InvalidTopic { name: topic.to_owned(), reason }.into());
    }
    if topic.starts_with('-') && !writes_to_existing(cfg, topic) {
        return Err(Failure::error(format!(
            "invalid topic name {topic:?}: a new topic name may not start with '-' (every command would need -- before it)"
        )));
    }
    let writer = Writer::open(cfg)?;
    let first_seq = match writer.next_seq(topic) {
        Ok(seq) => seq,
        Err(e) => {
            writer.close()?;
            return Err(e.into());
        }
    };
    let result = copy_lines(input, &writer, topic, source);
    // Closing makes what was written durable, also after a failed line.
    let closed = writer.close();
    let written = match result {
        Ok(n) => n,
        Err((n, failure)) => return Err(failure.map_message(|m| format!("{m} ({n} record(s) were written before it)"))),
    };
    closed?;
    let next_seq = first_seq + written;
    if json {
        print_json(&Written { topic, written, first_seq, next_seq })?;
    } else {
        let seqs = match written {
            0 => String::new(),
            1 => format!(" (seq {first_seq})"),
            _ => format!(" (seq {first_seq}..{})", next_seq - 1),
        };
        print(format!("wrote {written} record{} to topic {topic:?}{seqs}\n", if written == 1 { "" } else { "s" }))?;
    }
    Ok(Exit::Ok)
}

/// Whether `topic` already exists in the log (a name the library accepted
/// before this command refused leading dashes is still written to).
fn writes_to_existing(cfg: &Config, topic: &str) -> bool {
    logstream::topics(cfg).is_ok_and(|infos| infos.iter().any(|i| i.topic == topic))
}

/// Writes each line of `input` as a record; on failure, how many were
/// written before it, and why.
fn copy_lines(mut input: impl BufRead, writer: &Writer, topic: &str, source: &Path) -> Result<u64, (u64, Failure)> {
    let mut line = Vec::new();
    let mut written = 0u64;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| (written, Failure::error(format!("cannot read {}: {e}", source.display()))))?;
        if n == 0 {
            return Ok(written);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        writer
            .write(topic, &line)
            .map_err(|e| (written, Failure::from(e).map_message(|m| format!("line {}: {m}", written + 1))))?;
        written += 1;
    }
}
