//! `logstream lag [--group G]`: per group and topic, what is retained, where
//! the group stands, and what it has left to deliver (the msource
//! `offset_checker` table, `kafka-consumer-groups --describe`).

use logstream::Config;
use serde::Serialize;

use crate::commands::groups::open_groups;
use crate::exit::{Exit, Outcome};
use crate::output::{print, print_json};
use crate::table::{Align, Table};
use crate::target::existing_log;
use crate::units;

#[derive(Serialize)]
struct Row {
    group: String,
    topic: String,
    first_seq: u64,
    next_seq: u64,
    /// The group's position: the next record it delivers (`null`: not read yet).
    confirmed: Option<u64>,
    lag_records: u64,
    lag_bytes: u64,
    last_confirm: Option<String>,
    last_confirm_ns: Option<u64>,
    /// The member delivering the topic now.
    owner: Option<String>,
    /// How that member is: "ok"; "stale" (no heartbeat for
    /// `member_timeout_ms`: frozen or paused, its topics are being taken
    /// over); "stuck" (its closure has held this topic's batch longer than
    /// `max_forward_ms`).
    owner_state: Option<&'static str>,
}

/// Prints the lag of every group, or of `group`.
///
/// # Errors
/// No log there, no such group, I/O errors.
pub fn run(cfg: &Config, group: Option<&str>, json: bool) -> Outcome {
    let dir = existing_log(cfg)?;
    let mut rows = Vec::new();
    for g in open_groups(cfg, group)? {
        let members = g.members()?;
        for l in g.lag()? {
            let owner = l.owner.as_ref().and_then(|o| members.iter().find(|m| &m.id == o));
            let owner_state = owner.map(|m| {
                if m.stale {
                    "stale"
                } else if m.stuck.contains(&l.topic) {
                    "stuck"
                } else {
                    "ok"
                }
            });
            rows.push(Row {
                group: g.name().to_owned(),
                last_confirm: l.last_confirm.map(units::time_ns),
                last_confirm_ns: l.last_confirm,
                topic: l.topic,
                first_seq: l.first_seq,
                next_seq: l.next_seq,
                confirmed: l.confirmed,
                lag_records: l.lag_records,
                lag_bytes: l.lag_bytes,
                owner: l.owner,
                owner_state,
            });
        }
    }
    if json {
        print_json(&rows)?;
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        print(format!("no consumer groups in {}\n", dir.display()))?;
        return Ok(Exit::Ok);
    }
    let mut t = Table::new(&[
        ("GROUP", Align::Left),
        ("TOPIC", Align::Left),
        ("FIRST", Align::Right),
        ("NEXT", Align::Right),
        ("CONFIRMED", Align::Right),
        ("LAG", Align::Right),
        ("BYTES", Align::Right),
        ("LAST-CONFIRM", Align::Left),
        ("OWNER", Align::Left),
    ]);
    let dash = || "-".to_owned();
    for r in &rows {
        t.row(vec![
            r.group.clone(),
            r.topic.clone(),
            r.first_seq.to_string(),
            r.next_seq.to_string(),
            r.confirmed.map_or_else(dash, |c| c.to_string()),
            r.lag_records.to_string(),
            units::bytes(r.lag_bytes),
            units::time_or_dash(r.last_confirm_ns),
            match (&r.owner, r.owner_state) {
                (Some(o), Some(s)) if s != "ok" => format!("{o} ({s})"),
                (Some(o), _) => o.clone(),
                (None, _) => dash(),
            },
        ]);
    }
    print(t.render())?;
    Ok(Exit::Ok)
}
