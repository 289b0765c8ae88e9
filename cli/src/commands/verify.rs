//! `logstream verify [--repair]`: the fsck of a log directory.
//!
//! Verifying only reads. `--repair` shows the plan derived from the verify
//! report, asks (unless `--yes`), then lets `logstream::repair` do the work
//! (it takes the writer lock) and verifies again. The exit code follows the
//! last report: 3 while anything is damaged, which includes damaged records
//! no repair can bring back.

use std::path::Path;

use indicatif::ProgressBar;
use logstream::{Config, RepairReport, SegmentReport, VerifyReport};

use crate::args::VerifyArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::output::{print, print_json};
use crate::progress;
use crate::prompt::confirm;
use crate::reports::{Changes, Repair, Verify};
use crate::table::{Align, Table};
use crate::target::existing_log;

/// From this many segments on, a progress bar shows on a terminal.
const PROGRESS_FROM_SEGMENTS: usize = 64;

/// Verifies, and repairs with `--repair`.
///
/// # Errors
/// No log there; I/O errors; the log is locked (repair).
pub fn run(cfg: &Config, args: &VerifyArgs, json: bool) -> Outcome {
    let dir = existing_log(cfg)?;
    if args.repair {
        // A plan that cannot be carried out is not worth reading.
        refuse_if_locked(dir)?;
    }
    let before = verify_with_bar(cfg, json)?;
    if !args.repair {
        if json {
            print_json(&Verify::of(dir, &before))?;
        } else {
            print(describe(dir, &before))?;
        }
        return Ok(verdict(&before));
    }
    let plan = Plan::of(dir, &before);
    let mut json_out = Repair {
        before: Verify::of(dir, &before),
        plan: plan.changes.clone(),
        applied: false,
        changes: None,
        after: None,
    };
    if !json {
        print(describe(dir, &before) + "\n" + &plan.render())?;
    }
    if plan.changes.is_empty() || (!args.yes && !confirm(&format!("repair {}?", dir.display()))?) {
        if json {
            print_json(&json_out)?;
        } else if !plan.changes.is_empty() {
            print("nothing changed\n")?;
        }
        return Ok(verdict(&before));
    }
    let spinner = progress::spinner(json, &format!("repairing {}", dir.display()));
    let report = logstream::repair(cfg);
    spinner.finish_and_clear();
    let report = report?;
    if json {
        json_out.applied = true;
        json_out.changes = Some(Changes::of(&report));
        json_out.after = Some(Verify::of(dir, &report.after));
        print_json(&json_out)?;
    } else {
        print(describe_changes(dir, &report) + "\nafter the repair: " + &summary(&report.after))?;
    }
    Ok(verdict(&report.after))
}

/// Fails as `logstream::repair` would while a writer holds the log, before
/// anything is shown. The repair takes the lock itself; this only looks.
///
/// # Errors
/// [`logstream::Error::Locked`] (exit code 4); the lock file cannot be read.
fn refuse_if_locked(dir: &Path) -> Result<(), Failure> {
    // The writer's lock: an exclusive flock(2) on LOCK, as std's try_lock takes.
    let path = dir.join("LOCK");
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Failure::error(format!("cannot open the writer lock {}: {e}", path.display()))),
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(())
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse().ok());
            Err(logstream::Error::Locked { path, holder, this_process: false }.into())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Failure::error(format!("cannot check the writer lock {}: {e}", path.display())))
        }
    }
}

/// `logstream::verify`, with a progress bar on stderr for a large log when
/// stderr is a terminal and the output is not JSON.
fn verify_with_bar(cfg: &Config, json: bool) -> logstream::Result<VerifyReport> {
    let mut bar: Option<ProgressBar> = None;
    let report = logstream::verify_with_progress(cfg, |done, total| {
        if total < PROGRESS_FROM_SEGMENTS {
            return;
        }
        bar.get_or_insert_with(|| progress::bar(json, total as u64, "verifying", "segments")).set_position(done as u64);
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    report
}

fn verdict(r: &VerifyReport) -> Exit {
    if r.is_clean() { Exit::Ok } else { Exit::Damage }
}

/// A segment's path as shown: `topic/NNNN.dat` under the log's `topics/`.
fn short(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir.join("topics")).unwrap_or(path).display().to_string()
}

/// The verify report for people: a table per topic and group, every problem
/// on its own line, and a verdict.
fn describe(dir: &Path, r: &VerifyReport) -> String {
    let mut out = String::new();
    if r.topics.is_empty() {
        out.push_str(&format!("no topics in {}\n", dir.display()));
    } else {
        let mut t = Table::new(&[
            ("TOPIC", Align::Left),
            ("SEGMENTS", Align::Right),
            ("RECORDS", Align::Right),
            ("NEXT", Align::Right),
            ("STATUS", Align::Left),
        ]);
        for topic in &r.topics {
            t.row(vec![
                topic.topic.clone(),
                topic.segments.len().to_string(),
                topic.records().to_string(),
                topic.next_seq().to_string(),
                topic_status(topic),
            ]);
        }
        out.push_str(&t.render());
    }
    if !r.groups.is_empty() {
        let mut t = Table::new(&[("GROUP", Align::Left), ("TOPICS", Align::Right), ("STATUS", Align::Left)]);
        for g in &r.groups {
            let mut status = Vec::new();
            if !g.damaged_entries.is_empty() {
                status.push(format!("{} damaged checkpoint entries", g.damaged_entries.len()));
            }
            if !g.unreadable_files.is_empty() {
                status.push(format!("{} unreadable checkpoint files", g.unreadable_files.len()));
            }
            if !g.past_end.is_empty() {
                status.push(format!("{} positions past the end", g.past_end.len()));
            }
            let status = if status.is_empty() { "ok".to_owned() } else { status.join(", ") };
            t.row(vec![g.group.clone(), g.positions.len().to_string(), status]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    let (problems, notes) = findings(dir, r);
    if !problems.is_empty() {
        out.push_str("\ndamage:\n");
        for p in problems {
            out.push_str(&format!("  {p}\n"));
        }
    }
    if !notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in notes {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out.push('\n');
    out.push_str(&summary(r));
    out
}

fn topic_status(t: &logstream::TopicReport) -> String {
    let segs = &t.segments;
    let mut s = Vec::new();
    let spans: usize = segs.iter().map(|s| s.damage.len()).sum();
    if spans > 0 {
        let lost: u64 = segs.iter().flat_map(|s| &s.damage).map(|d| d.skipped).sum();
        s.push(format!("{spans} damaged span{}, {lost} record{} lost", plural(spans as u64), plural(lost)));
    }
    let count = |f: fn(&SegmentReport) -> bool| segs.iter().filter(|s| f(s)).count();
    let headers = count(|s| s.header_damaged);
    if headers > 0 {
        s.push(format!("{headers} damaged header{}", plural(headers as u64)));
    }
    let marks = count(|s| s.watermark_damaged);
    if marks > 0 {
        s.push(format!("{marks} damaged watermark{}", plural(marks as u64)));
    }
    let indexes = count(|s| !s.index_problems.is_empty());
    if indexes > 0 {
        s.push(format!("{indexes} damaged index{}", if indexes == 1 { "" } else { "es" }));
    }
    if !t.gaps.is_empty() {
        s.push(format!("{} gap{} between segments", t.gaps.len(), plural(t.gaps.len() as u64)));
    }
    if segs.iter().any(|s| s.torn_tail_at.is_some()) {
        s.push("torn tail (cut when a writer opens)".into());
    }
    if s.is_empty() { "ok".into() } else { s.join(", ") }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Every problem `r` found (damage), and what is worth knowing but is not
/// damage (torn tails, files set aside by an earlier recovery).
fn findings(dir: &Path, r: &VerifyReport) -> (Vec<String>, Vec<String>) {
    let (mut damage, mut notes) = (Vec::new(), Vec::new());
    for t in &r.topics {
        for s in &t.segments {
            let name = short(dir, &s.path);
            for d in &s.damage {
                damage.push(format!(
                    "{name}: bytes {}..{} damaged: {} record{} lost from seq {}",
                    d.offset,
                    d.resumes_at,
                    d.skipped,
                    plural(d.skipped),
                    d.first_seq
                ));
            }
            if s.header_damaged {
                damage.push(format!("{name}: header damaged"));
            }
            if s.watermark_damaged {
                damage.push(format!("{name}: durable watermark damaged"));
            }
            for p in &s.index_problems {
                damage.push(format!("{name}: index: {p}"));
            }
            if let Some(at) = s.torn_tail_at {
                notes.push(format!(
                    "{name}: torn tail at byte {at}, after seq {}: the next writer (or --repair) cuts it",
                    s.next_seq.saturating_sub(1)
                ));
            }
        }
        for (expected, next) in &t.gaps {
            damage.push(format!("{}: records {expected}..{next} missing between segments", t.topic));
        }
        for p in &t.set_aside {
            notes.push(format!("{}: {} was set aside by an earlier recovery (never read)", t.topic, short(dir, p)));
        }
    }
    for g in &r.groups {
        for (file, offset) in &g.damaged_entries {
            damage.push(format!(
                "group {:?}: checkpoint entry at byte {offset} of {} damaged",
                g.group,
                file.display()
            ));
        }
        for file in &g.unreadable_files {
            damage.push(format!("group {:?}: checkpoint file {} unreadable", g.group, file.display()));
        }
        for (topic, saved, end) in &g.past_end {
            damage.push(format!("group {:?}: position {saved} of topic {topic:?} is past its end ({end})", g.group));
        }
    }
    (damage, notes)
}

/// The last line: clean or damaged, with counts.
fn summary(r: &VerifyReport) -> String {
    let segments: usize = r.topics.iter().map(|t| t.segments.len()).sum();
    let records: u64 = r.topics.iter().map(|t| t.records()).sum();
    let checked = format!(
        "{} topic{}, {segments} segment{}, {records} record{}, {} group{}",
        r.topics.len(),
        plural(r.topics.len() as u64),
        plural(segments as u64),
        plural(records),
        r.groups.len(),
        plural(r.groups.len() as u64)
    );
    if r.is_clean() {
        format!("clean: {checked}\n")
    } else {
        let lost = r.records_lost();
        format!("DAMAGED: {lost} record{} lost; checked {checked}\n", plural(lost))
    }
}

/// What `--repair` will change, and what it cannot.
struct Plan {
    changes: Vec<String>,
    beyond_repair: Vec<String>,
}

impl Plan {
    fn of(dir: &Path, r: &VerifyReport) -> Plan {
        let (mut changes, mut beyond_repair) = (Vec::new(), Vec::new());
        for t in &r.topics {
            let last = t.segments.len().saturating_sub(1);
            for (i, s) in t.segments.iter().enumerate() {
                let name = short(dir, &s.path);
                if let Some(at) = s.torn_tail_at {
                    changes.push(format!(
                        "cut {name} at byte {at}, after seq {}, and seal it",
                        s.next_seq.saturating_sub(1)
                    ));
                } else if i == last && !s.sealed && !s.header_damaged {
                    changes.push(format!("seal {name}, left open (its writer crashed, or is still running)"));
                }
                if s.header_damaged {
                    changes.push(format!("rewrite the header of {name} from its file name and index"));
                }
                if s.watermark_damaged {
                    changes
                        .push(format!("check {name} again from its first record (its durable watermark is damaged)"));
                }
                if !s.index_problems.is_empty() || s.header_damaged {
                    changes.push(format!("rebuild the index of {name} from its data file"));
                }
                let lost: u64 = s.damage.iter().map(|d| d.skipped).sum();
                if lost > 0 {
                    beyond_repair.push(format!("{name}: {lost} damaged record{} (readers skip them)", plural(lost)));
                }
            }
            for (expected, next) in &t.gaps {
                beyond_repair.push(format!("{}: records {expected}..{next} missing between segments", t.topic));
            }
        }
        for g in &r.groups {
            if !g.damaged_entries.is_empty() || !g.unreadable_files.is_empty() {
                changes.push(format!("rewrite the checkpoint files of group {:?} with their valid entries", g.group));
            }
            for (topic, saved, end) in &g.past_end {
                beyond_repair.push(format!(
                    "group {:?}: position {saved} of {topic:?} past the end ({end}) stays; its reader moves it back",
                    g.group
                ));
            }
        }
        Plan { changes, beyond_repair }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if self.changes.is_empty() {
            out.push_str("nothing to repair\n");
        } else {
            out.push_str("--repair will:\n");
            for c in &self.changes {
                out.push_str(&format!("  {c}\n"));
            }
        }
        if !self.beyond_repair.is_empty() {
            out.push_str("cannot be repaired:\n");
            for c in &self.beyond_repair {
                out.push_str(&format!("  {c}\n"));
            }
        }
        out
    }
}

/// What `repair` changed, one line each.
fn describe_changes(dir: &Path, r: &RepairReport) -> String {
    let mut lines = Vec::new();
    for t in &r.recovery.topics {
        if let Some(cut) = &t.cut {
            lines.push(format!("cut {} at byte {}: {}", short(dir, &cut.segment), cut.offset, cut_reason(&cut.reason)));
        } else if t.segments_checked > 0 {
            lines.push(format!("{}: checked and sealed {} segment(s) left open", t.topic, t.segments_checked));
        }
        for p in &t.quarantined {
            lines.push(format!("set aside {} (after the cut)", short(dir, p)));
        }
        if t.index_entries_rebuilt > 0 {
            lines.push(format!("{}: {} index entries rebuilt", t.topic, t.index_entries_rebuilt));
        }
        if t.seals_restored > 0 {
            lines.push(format!("{}: {} seal(s) restored", t.topic, t.seals_restored));
        }
        if t.headers_rebuilt > 0 {
            lines.push(format!("{}: {} header(s) rebuilt", t.topic, t.headers_rebuilt));
        }
        for p in &t.removed {
            lines.push(format!("removed leftover {}", short(dir, p)));
        }
    }
    lines.extend(r.headers_rewritten.iter().map(|p| format!("rewrote the header of {}", short(dir, p))));
    lines.extend(r.indexes_rebuilt.iter().map(|p| format!("rebuilt {}", short(dir, p))));
    lines.extend(r.checkpoints_rewritten.iter().map(|g| format!("rewrote the checkpoint files of group {g:?}")));
    lines.extend(
        r.groups_busy.iter().map(|g| format!("left group {g:?} alone: a reader holds it (repair again when it stops)")),
    );
    if lines.is_empty() {
        return "repaired: nothing needed changing\n".into();
    }
    let mut out = "repaired:\n".to_owned();
    for l in lines {
        out.push_str(&format!("  {l}\n"));
    }
    out
}

/// Recovery names what it found at a cut by the frame decoder's verdict;
/// these are the words for it.
fn cut_reason(reason: &str) -> String {
    match reason {
        "BadTag" => "no record starts there".into(),
        "BadCrc" => "the record there fails its checksum".into(),
        "Truncated" => "the record there is cut short".into(),
        other => other.to_owned(),
    }
}
