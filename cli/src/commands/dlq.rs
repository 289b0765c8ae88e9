//! `logstream dlq count|list|replay|clear --group G [TOPIC]`: the records a
//! group gave up on after `retry_max_attempts` (msource's
//! `failure_queue_count` and `clear_failure_queue`).

use logstream::{Config, DeadLetter, Group, Writer};
use serde::Serialize;

use crate::args::{DlqCommand, DlqTarget};
use crate::exit::{Exit, Failure, Outcome};
use crate::output::{print, print_json};
use crate::progress;
use crate::prompt::confirm;
use crate::table::{Align, Table};
use crate::target::{existing_log, no_such_topic};
use crate::units;

#[derive(Serialize)]
struct Count {
    topic: String,
    count: u64,
}

#[derive(Serialize)]
struct Letter<'a> {
    topic: &'a str,
    seq: u64,
    written: String,
    written_ns: u64,
    failed: String,
    failed_ns: u64,
    attempts: u32,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_hex: Option<String>,
}

#[derive(Serialize)]
struct Done<'a> {
    group: &'a str,
    topic: Option<&'a str>,
    /// Dead letters replayed or deleted.
    count: u64,
}

/// Runs a `dlq` command.
///
/// # Errors
/// No log or group; the log is locked (replay); I/O errors.
pub fn run(cfg: &Config, action: &DlqCommand, json: bool) -> Outcome {
    existing_log(cfg)?;
    match action {
        DlqCommand::Count(t) => count(&open(cfg, t)?, t, json),
        DlqCommand::List { target, count } => list(&open(cfg, target)?, target, *count, json),
        DlqCommand::Replay(t) => {
            let g = open(cfg, t)?;
            let writer = Writer::open(cfg)?;
            let replayed = replay_with_bar(&g, t, &writer, json);
            writer.close()?;
            done(t, replayed?, "replayed", json)
        }
        DlqCommand::Clear { target, yes } => {
            let g = open(cfg, target)?;
            let waiting: u64 = counts(&g, target)?.iter().map(|c| c.count).sum();
            if waiting == 0 {
                return done(target, 0, "deleted", json);
            }
            if !yes && !confirm(&format!("delete {waiting} dead letter(s) of group {:?}?", target.group))? {
                print("nothing deleted\n")?;
                return Ok(Exit::Ok);
            }
            let deleted = g.clear_dead_letters(target.topic.as_deref())?;
            done(target, deleted, "deleted", json)
        }
    }
}

/// The group, once the topic (if one is named) is known to be a topic of
/// the log or to hold dead letters: a mistyped topic is an error, not "no
/// dead letters".
fn open(cfg: &Config, t: &DlqTarget) -> Result<Group, Failure> {
    if let Some(topic) = &t.topic
        && let Some(reason) = logstream::topic_name_problem(topic)
    {
        return Err(logstream::Error::InvalidTopic { name: topic.clone(), reason }.into());
    }
    let g = Group::open(cfg, &t.group)?;
    if let Some(topic) = &t.topic {
        let infos = logstream::topics(cfg)?;
        if !infos.iter().any(|i| &i.topic == topic) && !g.dead_letter_counts()?.iter().any(|(d, _)| d == topic) {
            return Err(Failure::error(no_such_topic(topic, cfg.base_dir(), &infos)));
        }
    }
    Ok(g)
}

/// `no dead letters in group "G"`, naming the topic when one was given.
fn none_waiting(t: &DlqTarget) -> String {
    match &t.topic {
        Some(topic) => format!("no dead letters of topic {topic:?} in group {:?}\n", t.group),
        None => format!("no dead letters in group {:?}\n", t.group),
    }
}

/// `Group::replay_dead_letters`, with a bar of the dead letters written
/// back so far: the topics' next sequence numbers, read on a thread while
/// the library replays (it flushes before it saves how far it got).
fn replay_with_bar(g: &Group, t: &DlqTarget, writer: &Writer, json: bool) -> Result<u64, Failure> {
    let waiting = counts(g, t)?;
    let total: u64 = waiting.iter().map(|c| c.count).sum();
    let start: Vec<(String, u64)> =
        waiting.iter().map(|c| (c.topic.clone(), writer.next_seq(&c.topic).unwrap_or(0))).collect();
    let bar = progress::bar(json, total, "replaying", "dead letters");
    let finished = logstream_ship::Shutdown::new();
    let replayed = std::thread::scope(|s| {
        let watcher = std::thread::Builder::new().name("logstream-dlq-progress".into()).spawn_scoped(s, || {
            while !finished.wait_timeout(std::time::Duration::from_millis(100)) {
                let done: u64 = start
                    .iter()
                    .map(|(topic, from)| writer.next_seq(topic).unwrap_or(*from).saturating_sub(*from))
                    .sum();
                bar.set_position(done.min(total));
            }
        });
        let replayed = g.replay_dead_letters(t.topic.as_deref(), writer);
        finished.trigger();
        if let Ok(w) = watcher {
            let _ = w.join();
        }
        replayed
    });
    bar.finish_and_clear();
    Ok(replayed?)
}

fn counts(g: &Group, t: &DlqTarget) -> Result<Vec<Count>, Failure> {
    Ok(g.dead_letter_counts()?
        .into_iter()
        .filter(|(topic, _)| t.topic.as_ref().is_none_or(|only| only == topic))
        .map(|(topic, count)| Count { topic, count })
        .collect())
}

fn count(g: &Group, t: &DlqTarget, json: bool) -> Outcome {
    let counts = counts(g, t)?;
    if json {
        print_json(&counts)?;
    } else if counts.is_empty() {
        print(none_waiting(t))?;
    } else {
        let mut table = Table::new(&[("TOPIC", Align::Left), ("DEAD LETTERS", Align::Right)]);
        for c in &counts {
            table.row(vec![c.topic.clone(), c.count.to_string()]);
        }
        print(table.render())?;
    }
    Ok(Exit::Ok)
}

fn list(g: &Group, t: &DlqTarget, max: usize, json: bool) -> Outcome {
    let mut letters: Vec<DeadLetter> = Vec::new();
    for c in counts(g, t)? {
        letters.extend(g.dead_letters(&c.topic, max)?);
    }
    if json {
        let out: Vec<Letter<'_>> = letters.iter().map(letter).collect();
        print_json(&out)?;
        return Ok(Exit::Ok);
    }
    if letters.is_empty() {
        print(none_waiting(t))?;
        return Ok(Exit::Ok);
    }
    let mut table = Table::new(&[
        ("TOPIC", Align::Left),
        ("SEQ", Align::Right),
        ("FAILED", Align::Left),
        ("ATTEMPTS", Align::Right),
        ("ERROR", Align::Left),
        ("DATA", Align::Left),
    ]);
    for l in &letters {
        table.row(vec![
            l.topic.clone(),
            l.seq.to_string(),
            units::time(l.time),
            l.attempts.to_string(),
            l.error.clone(),
            preview(&l.data),
        ]);
    }
    print(table.render())?;
    Ok(Exit::Ok)
}

fn letter(l: &DeadLetter) -> Letter<'_> {
    let text = std::str::from_utf8(&l.data).ok();
    Letter {
        topic: &l.topic,
        seq: l.seq,
        written: units::time_ns(l.timestamp),
        written_ns: l.timestamp,
        failed: units::time_ns(l.time),
        failed_ns: l.time,
        attempts: l.attempts,
        error: &l.error,
        data: text,
        data_hex: text.is_none().then(|| units::hex(&l.data)),
    }
}

/// The start of a record for a table cell: UTF-8 text as it is, with only
/// what a terminal cannot show escaped (control characters: `\t`, `\n`,
/// `\u{1b}`), or hex; on one line.
fn preview(data: &[u8]) -> String {
    const MAX: usize = 40;
    let text = match std::str::from_utf8(data) {
        Ok(s) => s.chars().fold(String::with_capacity(s.len()), |mut out, c| {
            // Bidirectional overrides would reorder the rest of the line.
            if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
                out.extend(c.escape_debug());
            } else {
                out.push(c);
            }
            out
        }),
        Err(_) => format!("0x{}", units::hex(data)),
    };
    if text.chars().count() > MAX { text.chars().take(MAX).collect::<String>() + "…" } else { text }
}

fn done(t: &DlqTarget, count: u64, verb: &str, json: bool) -> Outcome {
    if json {
        print_json(&Done { group: &t.group, topic: t.topic.as_deref(), count })?;
    } else {
        print(format!("{verb} {count} dead letter(s) of group {:?}\n", t.group))?;
    }
    Ok(Exit::Ok)
}
