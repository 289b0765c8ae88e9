//! `logstream groups`: the consumer groups, their members and the position
//! each saved, from the library's `Group` admin API.

use logstream::{Config, Group, GroupPosition, MemberInfo};
use serde::Serialize;

use crate::exit::{Exit, Outcome};
use crate::output::{print, print_json};
use crate::table::{Align, Table};
use crate::target::existing_log;
use crate::units;

#[derive(Serialize)]
struct GroupJson {
    group: String,
    members: Vec<Member>,
    positions: Vec<Position>,
}

#[derive(Serialize)]
struct Member {
    id: String,
    pid: u32,
    started: String,
    started_ns: u64,
    topics: Vec<String>,
    /// "ok", or "stale": no heartbeat for `member_timeout_ms` (frozen,
    /// paused); the others take its topics over.
    state: &'static str,
    /// How long ago it last sent a heartbeat (`null`: an older version).
    heartbeat_age_ms: Option<u64>,
    /// Topics whose closure has held one batch longer than `max_forward_ms`.
    stuck: Vec<String>,
    /// Its delivery counters (`null`: a member of an older version).
    counters: Option<logstream::MemberCounters>,
    /// Topics waiting to retry a failed batch: attempts and last error.
    retrying: Vec<logstream::RetryingTopic>,
}

#[derive(Serialize)]
struct Position {
    topic: String,
    next_seq: u64,
    saved: String,
    saved_ns: u64,
    /// Set by an operator (`logstream reset`) rather than by a reader.
    reset: bool,
}

/// A group as listed: its name, members and positions.
pub type Listed = (String, Vec<MemberInfo>, Vec<GroupPosition>);

/// The groups of the log, or just `only`.
///
/// # Errors
/// [`logstream::Error::NoSuchGroup`] for `only`; I/O errors.
pub fn open_groups(cfg: &Config, only: Option<&str>) -> logstream::Result<Vec<Group>> {
    if let Some(name) = only {
        return Ok(vec![Group::open(cfg, name)?]);
    }
    let mut out = Vec::new();
    for name in Group::list(cfg)? {
        match Group::open(cfg, &name) {
            Ok(g) => out.push(g),
            // Deregistered since it was listed.
            Err(logstream::Error::NoSuchGroup { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Prints the groups of the log in `cfg`.
///
/// # Errors
/// No log there; I/O errors reading it.
pub fn run(cfg: &Config, json: bool) -> Outcome {
    let dir = existing_log(cfg)?;
    let mut groups: Vec<Listed> = Vec::new();
    for g in open_groups(cfg, None)? {
        groups.push((g.name().to_owned(), g.members()?, g.positions()?));
    }
    if json {
        print_json(&groups.into_iter().map(group_json).collect::<Vec<_>>())?;
        return Ok(Exit::Ok);
    }
    if groups.is_empty() {
        print(format!("no consumer groups in {}\n", dir.display()))?;
        return Ok(Exit::Ok);
    }
    let mut t = Table::new(&[
        ("GROUP", Align::Left),
        ("TOPIC", Align::Left),
        ("POSITION", Align::Right),
        ("SAVED", Align::Left),
        ("NOTE", Align::Left),
    ]);
    let mut members = String::new();
    for (group, ms, positions) in &groups {
        if positions.is_empty() {
            t.row(vec![group.clone(), "-".into(), "-".into(), "-".into(), "no position saved yet".into()]);
        }
        for p in positions {
            let note = if p.reset { "set by a reset" } else { "" };
            t.row(vec![group.clone(), p.topic.clone(), p.next_seq.to_string(), units::time(p.time), note.into()]);
        }
        for m in ms {
            let owns = if m.topics.is_empty() { "no topic yet".to_owned() } else { m.topics.join(", ") };
            let mut state = String::new();
            if m.stale {
                let age = m.heartbeat_age_ms.map_or_else(String::new, |a| format!(" for {:.1} s", a as f64 / 1000.0));
                state.push_str(&format!(
                    "; STALE: no heartbeat{age} (frozen or paused), its topics are being taken over"
                ));
            }
            if !m.stuck.is_empty() {
                state.push_str(&format!("; closure stuck on {} (longer than max_forward_ms)", m.stuck.join(", ")));
            }
            for r in &m.retrying {
                state.push_str(&format!("; {} failing, attempt {} ({})", r.topic, r.attempts, r.error));
            }
            if let Some(c) = m.counters {
                state.push_str(&format!(
                    "; {} records delivered, {} failed batches, {} dead letters",
                    c.records, c.failures, c.dead_letters
                ));
            }
            members.push_str(&format!("{group}: member {} (pid {}) reads {owns}{state}\n", m.id, m.pid));
        }
    }
    let mut text = t.render();
    if !members.is_empty() {
        text.push('\n');
        text.push_str(&members);
    }
    print(text)?;
    Ok(Exit::Ok)
}

fn group_json((group, members, positions): Listed) -> GroupJson {
    GroupJson {
        group,
        members: members
            .into_iter()
            .map(|m| Member {
                id: m.id,
                pid: m.pid,
                started: units::time_ns(m.started),
                started_ns: m.started,
                topics: m.topics,
                state: if m.stale { "stale" } else { "ok" },
                heartbeat_age_ms: m.heartbeat_age_ms,
                stuck: m.stuck,
                counters: m.counters,
                retrying: m.retrying,
            })
            .collect(),
        positions: positions
            .into_iter()
            .map(|p| Position {
                saved: units::time_ns(p.time),
                saved_ns: p.time,
                topic: p.topic,
                next_seq: p.next_seq,
                reset: p.reset,
            })
            .collect(),
    }
}
