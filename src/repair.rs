//! `repair`: what recovery does, and what `verify` found that can be fixed
//! without losing a valid record: damaged or missing index files are rebuilt
//! from the data files, damaged data file headers rewritten from the file
//! names, and damaged checkpoint journals rewritten with their valid entries.
//! Damaged records cannot be brought back; readers skip and report them.

use std::path::PathBuf;

use crate::config::Config;
use crate::error::{Error, IoContext, Result};
use crate::format::block::COMPRESSED;
use crate::format::naming::index_file_name;
use crate::format::segment::{DATA_START, INDEX_ENTRY_LEN, INDEX_START, IndexEntry, IndexHeader};
use crate::layout::Layout;
use crate::segment::compressed::walk;
use crate::segment::scan::{Step, step};
use crate::storage::Mapping;
use crate::storage::file::{open_ro, sync_dir, write_atomic};
use crate::verify::{VerifyReport, verify};
use crate::writer::{RecoveryReport, Writer};

/// What [`repair`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RepairReport {
    /// What recovery did when the writer lock was taken.
    pub recovery: RecoveryReport,
    /// Index files rewritten from their data files.
    pub indexes_rebuilt: Vec<PathBuf>,
    /// Data file headers rewritten from their file names.
    pub headers_rewritten: Vec<PathBuf>,
    /// Groups whose checkpoint files were rewritten without damaged entries.
    pub checkpoints_rewritten: Vec<String>,
    /// Groups left alone because a reader holds them (repair them when it stops).
    pub groups_busy: Vec<String>,
    /// `verify` after the repair.
    pub after: VerifyReport,
}

/// Repairs the log in `cfg.base_dir()`: takes the writer lock (so no writer
/// may run), recovers, then fixes what [`verify`] reports as fixable.
///
/// # Errors
/// [`Error::Locked`] while a writer runs; I/O errors.
pub fn repair(cfg: &Config) -> Result<RepairReport> {
    let w = Writer::open(cfg)?;
    let mut out = RepairReport { recovery: w.recovery_report().clone(), ..RepairReport::default() };
    let layout = Layout::new(cfg.base_dir());
    let before = verify(cfg)?;
    for t in &before.topics {
        let dir = layout.topic(&t.topic);
        for s in &t.segments {
            if s.header_damaged {
                let idx = dir.join(index_file_name(s.base_seq));
                if let Some(mut h) = crate::segment::guess_header(&s.path, &idx, s.base_seq)? {
                    if h.flags & crate::format::block::COMPRESSED == 0 {
                        h.reserve = h.reserve.max(cfg.data_file_max_size());
                    }
                    let f = crate::storage::file::open_rw(&s.path, false).ctx("open data file", &s.path)?;
                    std::os::unix::fs::FileExt::write_all_at(&f, &h.encode(), 0).ctx("rewrite header", &s.path)?;
                    crate::storage::file::sync_file(&f, &s.path).ctx("sync data file", &s.path)?;
                    out.headers_rewritten.push(s.path.clone());
                }
            }
            if !s.index_problems.is_empty() || s.header_damaged {
                rebuild_index(&s.path, &dir.join(index_file_name(s.base_seq)), s.base_seq, cfg)?;
                out.indexes_rebuilt.push(dir.join(index_file_name(s.base_seq)));
            }
        }
        if !out.indexes_rebuilt.is_empty() {
            sync_dir(&dir).ctx("sync topic directory", &dir)?;
        }
    }
    for g in &before.groups {
        if g.damaged_entries.is_empty() && g.unreadable_files.is_empty() {
            continue;
        }
        match crate::group::rewrite_checkpoints(&layout, &g.group) {
            Ok(()) => out.checkpoints_rewritten.push(g.group.clone()),
            Err(Error::GroupBusy { .. }) => out.groups_busy.push(g.group.clone()),
            Err(e) => return Err(e),
        }
    }
    w.close()?;
    out.after = verify(cfg)?;
    Ok(out)
}

/// Writes a new index file for a data file (temporary file, sync, rename).
fn rebuild_index(data: &std::path::Path, index: &std::path::Path, base: u64, cfg: &Config) -> Result<()> {
    let f = open_ro(data).ctx("open data file", data)?;
    let len = f.metadata().ctx("stat data file", data)?.len();
    let map = Mapping::map(&f, len, false, data).ctx("map data file", data)?;
    let header = crate::segment::read_header_of(&f, data).ok().map(|(h, _, _)| h);
    let epoch = header.map_or(0, |h| h.epoch);
    let compressed = match header {
        Some(h) => h.flags & COMPRESSED != 0,
        None => crate::segment::guess_header(data, index, base)?.is_some_and(|h| h.flags & COMPRESSED != 0),
    };
    let interval = cfg.index_interval_bytes();
    let mut bytes = IndexHeader { interval: interval as u32, base_seq: base, epoch }.encode().to_vec();
    let mut next_at = DATA_START;
    let mut entry = |off: u64, seq: u64, timestamp: u64| {
        if off >= next_at {
            bytes.extend_from_slice(&IndexEntry { offset: off, seq, timestamp }.encode());
            next_at = off + interval;
        }
    };
    if compressed {
        // Entries of a compressed segment name raw offsets, as before.
        walk(&map, len, base, None, |v| entry(v.raw_off, v.seq, v.timestamp));
    } else {
        let (mut off, mut seq) = (DATA_START, base);
        while let Step::Record { seq: s, timestamp, next, .. } = step(&map, off, len) {
            if s != seq {
                break;
            }
            entry(off, s, timestamp);
            seq += 1;
            off = next;
        }
    }
    debug_assert_eq!((bytes.len() as u64 - INDEX_START) % INDEX_ENTRY_LEN, 0);
    let page = crate::storage::page_size();
    bytes.resize(bytes.len().div_ceil(page) * page, 0);
    write_atomic(index, &bytes).ctx("write rebuilt index", index)
}
