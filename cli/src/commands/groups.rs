//! `logstream groups`: the consumer groups and their saved positions.
//!
//! The positions come from `logstream::verify`, the one public way to read
//! them today (it also walks every segment, which costs time on a large log).
//! When the library's group admin API lands, [`saved_positions`] is the one
//! place to change, and `lag`, `reset` and `dlq` join as their own modules.

use logstream::{Config, GroupReport};

use crate::exit::{Exit, Outcome};
use crate::output::{print, print_json};
use crate::reports::Group;
use crate::table::{Align, Table};
use crate::target::existing_log;

/// Every group of the log and what it saved.
fn saved_positions(cfg: &Config) -> logstream::Result<Vec<GroupReport>> {
    Ok(logstream::verify(cfg)?.groups)
}

/// Prints the groups of the log in `cfg`.
///
/// # Errors
/// No log there; I/O errors reading it.
pub fn run(cfg: &Config, json: bool) -> Outcome {
    let dir = existing_log(cfg)?;
    let groups = saved_positions(cfg)?;
    if json {
        print_json(&groups.iter().map(Group::of).collect::<Vec<_>>())?;
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
        ("NOTE", Align::Left),
    ]);
    let mut problems = Vec::new();
    for g in &groups {
        if g.positions.is_empty() {
            t.row(vec![g.group.clone(), "-".into(), "-".into(), "no position saved yet".into()]);
        }
        for (topic, next) in &g.positions {
            let note = g
                .past_end
                .iter()
                .find(|(t, _, _)| t == topic)
                .map(|(_, _, end)| format!("past the end ({end}): the reader moves it back"))
                .unwrap_or_default();
            t.row(vec![g.group.clone(), topic.clone(), next.to_string(), note]);
        }
        for (file, offset) in &g.damaged_entries {
            problems.push(format!(
                "group {:?}: damaged checkpoint entry at byte {offset} of {} (an older position is used)",
                g.group,
                file.display()
            ));
        }
        for file in &g.unreadable_files {
            problems.push(format!("group {:?}: unreadable checkpoint file {}", g.group, file.display()));
        }
    }
    let mut text = t.render();
    if !problems.is_empty() {
        text.push('\n');
        for p in problems {
            text.push_str(&p);
            text.push('\n');
        }
        text.push_str("`logstream verify --repair` rewrites damaged checkpoint files\n");
    }
    print(text)?;
    Ok(Exit::Ok)
}
