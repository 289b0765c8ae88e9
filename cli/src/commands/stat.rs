//! `logstream stat`: what each topic holds, from `logstream::topics`.

use std::path::Path;

use logstream::{Config, TopicInfo};
use serde::Serialize;

use crate::exit::{Exit, Failure, Outcome};
use crate::output::{print, print_json};
use crate::table::{Align, Table};
use crate::target::existing_log;
use crate::units;

#[derive(Serialize)]
struct Stat<'a> {
    dir: &'a Path,
    topics: Vec<Topic>,
    total: Total,
}

#[derive(Serialize)]
struct Topic {
    topic: String,
    first_seq: u64,
    next_seq: u64,
    records: u64,
    segments: usize,
    disk_bytes: u64,
    oldest_time: Option<String>,
    oldest_time_ns: Option<u64>,
    newest_time: Option<String>,
    newest_time_ns: Option<u64>,
}

#[derive(Serialize)]
struct Total {
    topics: usize,
    records: u64,
    segments: usize,
    /// Bytes the topics' files occupy.
    disk_bytes: u64,
    /// Bytes the whole directory occupies (topics, groups, metadata).
    dir_disk_bytes: u64,
}

/// Prints the topics of the log in `cfg`.
///
/// # Errors
/// No log there; I/O errors reading it.
pub fn run(cfg: &Config, json: bool) -> Outcome {
    let dir = existing_log(cfg)?;
    let infos = logstream::topics(cfg)?;
    let total = Total {
        topics: infos.len(),
        records: infos.iter().map(|t| t.records).sum(),
        segments: infos.iter().map(|t| t.segments).sum(),
        disk_bytes: infos.iter().map(|t| t.disk_bytes).sum(),
        dir_disk_bytes: disk_use(dir)?,
    };
    if json {
        print_json(&Stat { dir, topics: infos.into_iter().map(topic_json).collect(), total })?;
        return Ok(Exit::Ok);
    }
    if infos.is_empty() {
        print(format!("no topics in {} (disk use {})\n", dir.display(), units::bytes(total.dir_disk_bytes)))?;
        return Ok(Exit::Ok);
    }
    let mut t = Table::new(&[
        ("TOPIC", Align::Left),
        ("FIRST", Align::Right),
        ("NEXT", Align::Right),
        ("RECORDS", Align::Right),
        ("SEGMENTS", Align::Right),
        ("DISK", Align::Right),
        ("OLDEST", Align::Left),
        ("NEWEST", Align::Left),
    ]);
    for i in &infos {
        t.row(vec![
            i.topic.clone(),
            i.first_seq.to_string(),
            i.next_seq.to_string(),
            i.records.to_string(),
            i.segments.to_string(),
            units::bytes(i.disk_bytes),
            units::time_or_dash(i.oldest_time),
            units::time_or_dash(i.newest_time),
        ]);
    }
    let summary = format!(
        "{} topic{}, {} records in {} segments; disk use {} in topics, {} in {}\n",
        total.topics,
        if total.topics == 1 { "" } else { "s" },
        total.records,
        total.segments,
        units::bytes(total.disk_bytes),
        units::bytes(total.dir_disk_bytes),
        dir.display()
    );
    print(t.render() + "\n" + &summary)?;
    Ok(Exit::Ok)
}

fn topic_json(i: TopicInfo) -> Topic {
    Topic {
        oldest_time: i.oldest_time.map(units::time_ns),
        newest_time: i.newest_time.map(units::time_ns),
        oldest_time_ns: i.oldest_time,
        newest_time_ns: i.newest_time,
        topic: i.topic,
        first_seq: i.first_seq,
        next_seq: i.next_seq,
        records: i.records,
        segments: i.segments,
        disk_bytes: i.disk_bytes,
    }
}

/// Bytes the files under `dir` occupy on disk (allocated blocks, so sparse
/// and preallocated segment files count what they really use). Files that
/// vanish during the walk (retention at work) are skipped.
fn disk_use(dir: &Path) -> Result<u64, Failure> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Failure::error(format!("cannot list {}: {e}", d.display()))),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Failure::error(format!("cannot list {}: {e}", d.display())))?;
            let Ok(meta) = entry.path().symlink_metadata() else { continue };
            total += meta.blocks() * 512;
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok(total)
}
