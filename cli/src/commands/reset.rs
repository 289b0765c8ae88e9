//! `logstream reset --group G TOPIC --to earliest|latest|SEQ`.

use logstream::{Config, Group, StartFrom};
use serde::Serialize;

use crate::args::Start;
use crate::exit::{Exit, Outcome};
use crate::output::{print, print_json};
use crate::progress;
use crate::target::existing_log;

#[derive(Serialize)]
struct Reset<'a> {
    group: &'a str,
    topic: &'a str,
    /// The position before (`null`: the group had not read the topic).
    previous: Option<u64>,
    next_seq: u64,
    /// The sequence number asked for, when it was outside what the topic
    /// retains and `next_seq` is the nearest end instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    requested: Option<u64>,
    /// Why `next_seq` is not `requested`.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// Moves `group`'s position in `topic`.
///
/// # Errors
/// No log, group or topic; the owning reader did not apply it in time.
pub fn run(cfg: &Config, group: &str, topic: &str, to: Start, json: bool) -> Outcome {
    existing_log(cfg)?;
    let g = Group::open(cfg, group)?;
    let previous = g.positions()?.into_iter().find(|p| p.topic == topic).map(|p| p.next_seq);
    let asked = match to {
        Start::Seq(n) => Some(n),
        _ => None,
    };
    let to = match to {
        Start::Earliest => StartFrom::Earliest,
        Start::Latest => StartFrom::Latest,
        Start::Seq(n) => StartFrom::Seq(n),
        Start::Time(ns) => StartFrom::Time(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns)),
    };
    // A running reader applies it between batches: that can take a while.
    let spinner = progress::spinner(json, &format!("moving group {group:?} in topic {topic:?}"));
    let next_seq = g.reset(topic, to);
    spinner.finish_and_clear();
    let next_seq = next_seq?;
    // The library clamps a sequence number to what is retained: say so.
    let requested = asked.filter(|&n| n != next_seq);
    let note = requested.map(|n| {
        if n > next_seq {
            format!("seq {n} is past the end of the topic; {next_seq} is the next record to be written")
        } else {
            format!("seq {n} is no longer retained; {next_seq} is the oldest record")
        }
    });
    if json {
        print_json(&Reset { group, topic, previous, next_seq, requested, note })?;
    } else {
        let was = previous.map_or_else(|| " (it had not read the topic)".to_owned(), |p| format!(" (was {p})"));
        let why = note.map(|n| format!(": {n}")).unwrap_or_default();
        print(format!("group {group:?} now delivers topic {topic:?} from seq {next_seq}{was}{why}\n"))?;
    }
    Ok(Exit::Ok)
}
