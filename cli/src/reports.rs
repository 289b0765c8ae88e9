//! JSON forms of the library's reports (`VerifyReport`, `RepairReport`), for
//! `--json`. The library's types carry no serde derives, so the command owns
//! their JSON shape: field names are the library's, times are given both as
//! RFC 3339 and as nanoseconds.

use std::path::{Path, PathBuf};

use logstream::{Damage, GroupReport, RepairReport, SegmentReport, TopicRecovery, TopicReport, VerifyReport};
use serde::Serialize;

use crate::units;

/// What `verify` found.
#[derive(Debug, Serialize)]
pub struct Verify {
    pub dir: PathBuf,
    pub clean: bool,
    pub records_lost: u64,
    pub topics: Vec<Topic>,
    pub groups: Vec<Group>,
}

/// One topic.
#[derive(Debug, Serialize)]
pub struct Topic {
    pub topic: String,
    pub first_seq: u64,
    pub next_seq: u64,
    pub records: u64,
    pub gaps: Vec<Gap>,
    pub set_aside: Vec<PathBuf>,
    pub segments: Vec<Segment>,
}

/// Records missing between two segments.
#[derive(Debug, Serialize)]
pub struct Gap {
    pub expected_seq: u64,
    pub next_segment_seq: u64,
}

/// One segment.
#[derive(Debug, Serialize)]
pub struct Segment {
    pub path: PathBuf,
    pub base_seq: u64,
    pub next_seq: u64,
    pub records: u64,
    pub bytes: u64,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    pub sealed: bool,
    pub header_damaged: bool,
    pub watermark_damaged: bool,
    pub damage: Vec<Span>,
    pub torn_tail_at: Option<u64>,
    pub index_problems: Vec<String>,
}

/// A damaged span of a data file.
#[derive(Debug, Serialize)]
pub struct Span {
    pub offset: u64,
    pub resumes_at: u64,
    pub first_seq: u64,
    pub skipped: u64,
}

/// One consumer group.
#[derive(Debug, Serialize)]
pub struct Group {
    pub group: String,
    pub positions: Vec<Position>,
    pub past_end: Vec<PastEnd>,
    pub damaged_entries: Vec<DamagedEntry>,
    pub unreadable_files: Vec<PathBuf>,
}

/// A saved position: the next record the group will be handed.
#[derive(Debug, Serialize)]
pub struct Position {
    pub topic: String,
    pub next_seq: u64,
}

/// A saved position after the end of its topic.
#[derive(Debug, Serialize)]
pub struct PastEnd {
    pub topic: String,
    pub saved: u64,
    pub end: u64,
}

/// A checkpoint entry that failed its check.
#[derive(Debug, Serialize)]
pub struct DamagedEntry {
    pub file: PathBuf,
    pub offset: u64,
}

/// What `verify --repair` planned, did, and found afterwards.
#[derive(Debug, Serialize)]
pub struct Repair {
    pub before: Verify,
    /// What was going to change, as shown before confirming.
    pub plan: Vec<String>,
    /// Whether the repair ran (false: declined, or nothing to repair).
    pub applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Verify>,
}

/// What the repair changed.
#[derive(Debug, Serialize)]
pub struct Changes {
    pub recovery: Vec<Recovery>,
    pub indexes_rebuilt: Vec<PathBuf>,
    pub headers_rewritten: Vec<PathBuf>,
    pub checkpoints_rewritten: Vec<String>,
    pub groups_busy: Vec<String>,
}

/// What recovery did in one topic.
#[derive(Debug, Serialize)]
pub struct Recovery {
    pub topic: String,
    pub cut: Option<Cut>,
    pub quarantined: Vec<PathBuf>,
    pub index_entries_rebuilt: u64,
    pub seals_restored: u64,
    pub headers_rebuilt: u64,
    pub removed: Vec<PathBuf>,
    pub next_seq: u64,
}

/// Where a topic was cut.
#[derive(Debug, Serialize)]
pub struct Cut {
    pub segment: PathBuf,
    pub offset: u64,
    pub reason: String,
}

impl Verify {
    /// The JSON form of `r`, a report on the log in `dir`.
    pub fn of(dir: &Path, r: &VerifyReport) -> Verify {
        Verify {
            dir: dir.to_path_buf(),
            clean: r.is_clean(),
            records_lost: r.records_lost(),
            topics: r.topics.iter().map(Topic::of).collect(),
            groups: r.groups.iter().map(Group::of).collect(),
        }
    }
}

impl Topic {
    fn of(t: &TopicReport) -> Topic {
        Topic {
            topic: t.topic.clone(),
            first_seq: t.first_seq(),
            next_seq: t.next_seq(),
            records: t.records(),
            gaps: t
                .gaps
                .iter()
                .map(|&(expected_seq, next_segment_seq)| Gap { expected_seq, next_segment_seq })
                .collect(),
            set_aside: t.set_aside.clone(),
            segments: t.segments.iter().map(Segment::of).collect(),
        }
    }
}

impl Segment {
    fn of(s: &SegmentReport) -> Segment {
        let time = |ns: u64| (ns != 0).then(|| units::time_ns(ns));
        Segment {
            path: s.path.clone(),
            base_seq: s.base_seq,
            next_seq: s.next_seq,
            records: s.records,
            bytes: s.bytes,
            first_time: time(s.first_time),
            last_time: time(s.last_time),
            sealed: s.sealed,
            header_damaged: s.header_damaged,
            watermark_damaged: s.watermark_damaged,
            damage: s.damage.iter().map(Span::of).collect(),
            torn_tail_at: s.torn_tail_at,
            index_problems: s.index_problems.clone(),
        }
    }
}

impl Span {
    fn of(d: &Damage) -> Span {
        Span { offset: d.offset, resumes_at: d.resumes_at, first_seq: d.first_seq, skipped: d.skipped }
    }
}

impl Group {
    /// The JSON form of one group of a verify report.
    pub fn of(g: &GroupReport) -> Group {
        Group {
            group: g.group.clone(),
            positions: g
                .positions
                .iter()
                .map(|(topic, next_seq)| Position { topic: topic.clone(), next_seq: *next_seq })
                .collect(),
            past_end: g
                .past_end
                .iter()
                .map(|(topic, saved, end)| PastEnd { topic: topic.clone(), saved: *saved, end: *end })
                .collect(),
            damaged_entries: g
                .damaged_entries
                .iter()
                .map(|(file, offset)| DamagedEntry { file: file.clone(), offset: *offset })
                .collect(),
            unreadable_files: g.unreadable_files.clone(),
        }
    }
}

impl Changes {
    /// The JSON form of what `repair` changed.
    pub fn of(r: &RepairReport) -> Changes {
        Changes {
            recovery: r.recovery.topics.iter().filter(|t| !t.is_clean()).map(Recovery::of).collect(),
            indexes_rebuilt: r.indexes_rebuilt.clone(),
            headers_rewritten: r.headers_rewritten.clone(),
            checkpoints_rewritten: r.checkpoints_rewritten.clone(),
            groups_busy: r.groups_busy.clone(),
        }
    }
}

impl Recovery {
    fn of(t: &TopicRecovery) -> Recovery {
        Recovery {
            topic: t.topic.clone(),
            cut: t.cut.as_ref().map(|c| Cut { segment: c.segment.clone(), offset: c.offset, reason: c.reason.clone() }),
            quarantined: t.quarantined.clone(),
            index_entries_rebuilt: t.index_entries_rebuilt,
            seals_restored: t.seals_restored,
            headers_rebuilt: t.headers_rebuilt,
            removed: t.removed.clone(),
            next_seq: t.next_seq,
        }
    }
}
