//! `logstream reset --group G TOPIC --to earliest|latest|SEQ`.

use logstream::{Config, Group, StartFrom};
use serde::Serialize;

use crate::args::Start;
use crate::exit::{Exit, Outcome};
use crate::output::{print, print_json};
use crate::target::existing_log;

#[derive(Serialize)]
struct Reset<'a> {
    group: &'a str,
    topic: &'a str,
    /// The position before (`null`: the group had not read the topic).
    previous: Option<u64>,
    next_seq: u64,
}

/// Moves `group`'s position in `topic`.
///
/// # Errors
/// No log, group or topic; the owning reader did not apply it in time.
pub fn run(cfg: &Config, group: &str, topic: &str, to: Start, json: bool) -> Outcome {
    existing_log(cfg)?;
    let g = Group::open(cfg, group)?;
    let previous = g.positions()?.into_iter().find(|p| p.topic == topic).map(|p| p.next_seq);
    let to = match to {
        Start::Earliest => StartFrom::Earliest,
        Start::Latest => StartFrom::Latest,
        Start::Seq(n) => StartFrom::Seq(n),
        Start::Time(ns) => StartFrom::Time(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns)),
    };
    let next_seq = g.reset(topic, to)?;
    if json {
        print_json(&Reset { group, topic, previous, next_seq })?;
    } else {
        let was = previous.map_or_else(|| " (it had not read the topic)".to_owned(), |p| format!(" (was {p})"));
        print(format!("group {group:?} now delivers topic {topic:?} from seq {next_seq}{was}\n"))?;
    }
    Ok(Exit::Ok)
}
