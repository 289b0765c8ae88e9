//! The `logstream-compress` thread: rewrites the sealed segments of
//! `compress_topics` as compressed segments (`format::block`).
//!
//! A segment is compressed only once its seal is durable. The compressed
//! file is written beside it under a temporary name, synced, and swapped in
//! with one atomic exchange of the two names; the directory is synced, then
//! the old file (now under the temporary name) is deleted. A crash at any
//! point leaves under the segment's name either the plain file or the
//! complete, synced compressed one, both holding the same records; a
//! leftover temporary file is removed when the next writer opens. A reader
//! that had mapped the plain file keeps reading it; one that opens the name
//! afterwards reads the compressed file at the same raw offsets. A segment
//! deleted meanwhile (by a reader's retention or a cap) stays deleted: the
//! exchange fails when the name is gone.
//!
//! Failures here never poison the writer: the plain segment stays valid,
//! and the failure is logged.

use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::{Condvar, Mutex};

use super::shared::Shared;
use super::topic::Topic;
use crate::error::{IoContext, Result};
use crate::format::block::{self, BLOCK_TARGET, COMPRESSED};
use crate::format::naming::data_file_name;
use crate::format::segment::{DATA_START, DataHeader, Watermark};
use crate::segment::budget::{Account, disk_bytes};
use crate::segment::scan::{Step, step};
use crate::storage::Mapping;
use crate::storage::file::{exchange, open_ro, sync_dir, sync_file};

/// A compressed segment must be at most this fraction of the plain one
/// (in tenths), or it is left plain.
const WORTH_IT_TENTHS: usize = 9;

/// Segments waiting to be compressed.
#[derive(Default)]
pub(crate) struct CompressQueue {
    state: Mutex<QueueState>,
    cv: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<(Arc<Topic>, u64)>,
    shutdown: bool,
    /// Jobs taken and not finished.
    busy: usize,
}

impl CompressQueue {
    /// Queues segment `base` of `topic`.
    pub(crate) fn push(&self, topic: Arc<Topic>, base: u64) {
        let mut s = self.state.lock();
        s.jobs.push_back((topic, base));
        self.cv.notify_all();
    }

    /// Tells the thread to exit (after the segment it is working on).
    pub(crate) fn shutdown(&self) {
        self.state.lock().shutdown = true;
        self.cv.notify_all();
    }

    fn is_shut_down(&self) -> bool {
        self.state.lock().shutdown
    }

    /// Waits until every queued segment has been dealt with (for tests and
    /// `Writer::flush_compression`).
    pub(crate) fn wait_idle(&self) {
        let mut s = self.state.lock();
        while (!s.jobs.is_empty() || s.busy > 0) && !s.shutdown {
            self.cv.wait(&mut s);
        }
    }
}

/// What became of a segment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Compressed: bytes on disk before and after.
    Compressed { before: u64, after: u64 },
    /// Left as it is, and why.
    Skipped(&'static str),
}

/// Body of the `logstream-compress` thread.
pub(crate) fn run(shared: Arc<Shared>) {
    let queue = shared.compress.clone();
    loop {
        let (topic, base) = {
            let mut s = queue.state.lock();
            loop {
                if s.shutdown {
                    return;
                }
                if let Some(job) = s.jobs.pop_front() {
                    s.busy += 1;
                    break job;
                }
                queue.cv.wait(&mut s);
            }
        };
        let path = topic.dir.join(data_file_name(base));
        match compress_segment(&topic.dir, base, || queue.is_shut_down()) {
            Ok(Outcome::Compressed { before, after }) => {
                shared.stats.segments_compressed.fetch_add(1, Ordering::Relaxed);
                let account = Account {
                    budget: shared.budget.clone(),
                    topic: topic.usage.clone(),
                    name: Arc::from(&*topic.name),
                };
                account.credit(before.saturating_sub(after));
                log::debug!("compressed {}: {before} -> {after} bytes", path.display());
            }
            Ok(Outcome::Skipped(why)) => log::debug!("left {} plain: {why}", path.display()),
            Err(e) => log::warn!("compressing {} failed; it stays plain: {e}", path.display()),
        }
        let mut s = queue.state.lock();
        s.busy -= 1;
        queue.cv.notify_all();
    }
}

/// Queues the sealed, plain segments of the `compress_topics` a writer
/// found when it opened (every segment of a topic but its newest).
pub(crate) fn queue_existing(shared: &Shared) {
    let topics: Vec<Arc<Topic>> =
        shared.cfg.compress_topics().iter().filter_map(|t| shared.topics.read().get(t.as_str()).cloned()).collect();
    for t in topics {
        match crate::segment::recovery::list_segments(&t.dir) {
            Ok(segs) => {
                for &base in segs.iter().rev().skip(1).rev() {
                    shared.compress.push(t.clone(), base);
                }
            }
            Err(e) => log::warn!("listing {} to compress it failed: {e}", t.dir.display()),
        }
    }
}

/// Compresses segment `base` in `dir`, if it is sealed durably, plain, and
/// compresses well. `stop` is polled between blocks.
pub(crate) fn compress_segment(dir: &Path, base: u64, stop: impl Fn() -> bool) -> Result<Outcome> {
    let path = dir.join(data_file_name(base));
    let file = match open_ro(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::Skipped("deleted")),
        Err(e) => return Err(e).ctx("open data file", &path),
    };
    let before = disk_bytes(&file.metadata().ctx("stat data file", &path)?);
    let (header, wm, len) = crate::segment::read_header_of(&file, &path)?;
    if header.flags & COMPRESSED != 0 {
        return Ok(Outcome::Skipped("already compressed"));
    }
    let Some(wm) = wm.filter(|w| w.is_sealed() && w.sealed_end < len && header.base_seq == base) else {
        return Ok(Outcome::Skipped("not durably sealed"));
    };
    // An empty segment gains nothing, and it is the one kind the writer
    // replaces by a new file of the same name (which the exchange below
    // would then swap out of the log).
    if wm.sealed_next == header.base_seq {
        return Ok(Outcome::Skipped("empty"));
    }
    let id = crate::segment::FileId::of(&file).ctx("stat data file", &path)?;
    let map = Mapping::map(&file, len, false, &path).ctx("map data file", &path)?;
    let tmp = dir.join(format!(".ls-tmp-compress-{base}"));
    let result = write_compressed(&map, len, header, wm, &tmp, &stop);
    let written = match result {
        Ok(Some(n)) => n,
        Ok(None) | Err(_) => {
            let _ = crate::storage::file::remove_file(&tmp);
            return result.map(|_| Outcome::Skipped("does not compress, damaged, or stopped"));
        }
    };
    drop(map);
    // The name must still hold the file compressed (defence in depth: only
    // empty segments are replaced, and those were skipped above).
    let still = open_ro(&path).and_then(|f| crate::segment::FileId::of(&f)).is_ok_and(|now| now == id);
    if !still {
        let _ = crate::storage::file::remove_file(&tmp);
        return Ok(Outcome::Skipped("replaced"));
    }
    match exchange(&tmp, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let _ = crate::storage::file::remove_file(&tmp);
            return Ok(Outcome::Skipped("deleted"));
        }
        Err(e) => {
            let _ = crate::storage::file::remove_file(&tmp);
            return Err(e).ctx("swap in compressed segment", &path);
        }
    }
    // Both names hold a complete segment now; the sync makes the swap
    // durable before the plain copy goes.
    sync_dir(dir).ctx("sync topic directory", dir)?;
    crate::storage::file::remove_file(&tmp).ctx("remove plain segment after compressing", &tmp)?;
    Ok(Outcome::Compressed { before, after: written })
}

/// Writes the compressed copy of a sealed segment to `tmp` and syncs it.
/// `None` when it is not worth it, the frames are damaged, or `stop` said so.
fn write_compressed(
    map: &Mapping,
    len: u64,
    header: DataHeader,
    wm: Watermark,
    tmp: &PathBuf,
    stop: &impl Fn() -> bool,
) -> Result<Option<u64>> {
    let out = crate::storage::file::create_file(tmp).ctx("create compressed segment", tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, &out);
    w.write_all(&vec![0u8; DATA_START as usize]).ctx("write compressed segment", tmp)?;
    let (mut written, mut raw) = (DATA_START as usize, 0usize);
    let (mut start, mut first_seq, mut records) = (DATA_START, header.base_seq, 0u32);
    let (mut off, mut seq) = (DATA_START, header.base_seq);
    loop {
        let (next, sealed) = match step(map, off, len) {
            Step::Record { seq: s, next, .. } if s == seq => (next, false),
            Step::Seal { next_seq } if next_seq == seq && off == wm.sealed_end => (off + frame_len_at(map, off), true),
            // Damage in a sealed segment: verify reports it; leave it alone.
            _ => return Ok(None),
        };
        // Close the block before this frame would take it past the target.
        if next - start > BLOCK_TARGET as u64 && off > start {
            let b = block::compress(map.bytes(start as usize, (off - start) as usize), first_seq, records, start);
            w.write_all(&b).ctx("write compressed segment", tmp)?;
            (written, raw) = (written + b.len(), raw + (off - start) as usize);
            // The first block tells whether the data compresses at all.
            if written - DATA_START as usize > raw * WORTH_IT_TENTHS / 10 || stop() {
                return Ok(None);
            }
            (start, first_seq, records) = (off, seq, 0);
        }
        off = next;
        if sealed {
            break;
        }
        seq += 1;
        records += 1;
    }
    let b = block::compress(map.bytes(start as usize, (off - start) as usize), first_seq, records, start);
    w.write_all(&b).ctx("write compressed segment", tmp)?;
    (written, raw) = (written + b.len(), raw + (off - start) as usize);
    if written - DATA_START as usize > raw * WORTH_IT_TENTHS / 10 {
        return Ok(None);
    }
    w.flush().ctx("write compressed segment", tmp)?;
    drop(w);
    // The header page: the plain one's, flagged, with the file's length as
    // the size to map; the sealed watermark is carried over as it is.
    let mut page = map.bytes(0, DATA_START as usize).to_vec();
    let h = DataHeader { flags: header.flags | COMPRESSED, reserve: written as u64, ..header };
    page[..64].copy_from_slice(&h.encode());
    page[128..136].fill(0);
    out.write_all_at(&page, 0).ctx("write compressed segment header", tmp)?;
    sync_file(&out, tmp).ctx("sync compressed segment", tmp)?;
    Ok(Some(written as u64))
}

fn frame_len_at(map: &Mapping, off: u64) -> u64 {
    let word = map.atomic_u64(off as usize).load(Ordering::Acquire);
    match crate::format::frame::classify(word) {
        crate::format::frame::Word::Record { len, .. } => crate::format::frame::frame_len(len) as u64,
        _ => crate::format::frame::SEAL_LEN as u64,
    }
}
