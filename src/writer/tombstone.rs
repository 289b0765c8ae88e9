//! Deleting a topic so that its numbering survives it (format/deleted.rs):
//! the directory is renamed into `tmp/` under a name that carries the next
//! sequence number, its files are removed (freeing the space first, which a
//! full disk needs), the tombstone `deleted/<topic>` is written, and the
//! renamed directory goes. A crash anywhere leaves either the topic, or a
//! pending directory the next open finishes, or the tombstone.

use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::format::deleted::{self, Tombstone};
use crate::layout::Layout;
use crate::storage::file::{now_ns, random_u64, sync_dir, write_atomic};

/// The first sequence number a topic without a directory may use: where its
/// last deletion ended, or 0.
///
/// # Errors
/// The tombstone exists but cannot be read or is damaged (the error names
/// it): guessing would reuse sequence numbers that groups already count.
pub(crate) fn next_seq(layout: &Layout, topic: &str) -> Result<u64> {
    let path = layout.tombstone(topic);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io("read the tombstone of a deleted topic", path, e)),
    };
    match deleted::decode(&bytes) {
        Ok(t) => Ok(t.next_seq),
        Err(deleted::Problem::Version(found)) => {
            Err(Error::UnsupportedVersion { path, found, supported: deleted::VERSION })
        }
        Err(p) => Err(Error::Corrupt {
            path,
            offset: 0,
            reason: format!(
                "the tombstone of deleted topic {topic:?} is unreadable: {p}; it holds where the \
                 topic's numbering resumes, so writing to {topic:?} waits until it is repaired or removed \
                 (removing it restarts the topic at seq 0)"
            ),
        }),
    }
}

/// Moves a topic's directory out of sight (one rename, made durable) under a
/// name that carries `next`; returns the new path.
pub(crate) fn begin(layout: &Layout, topic: &str, next: u64) -> Result<std::path::PathBuf> {
    let dir = layout.topic(topic);
    let gone = layout.tmp().join(deleted::pending_name(topic, next, random_u64()));
    crate::storage::file::rename(&dir, &gone).ctx("delete topic directory", &dir)?;
    let topics = layout.topics();
    sync_dir(&topics).ctx("sync topics directory", &topics)?;
    let tmp = layout.tmp();
    sync_dir(&tmp).ctx("sync directory", &tmp)?;
    Ok(gone)
}

/// Finishes a deletion `begin` started (in this session or, after a crash,
/// in an earlier one): frees the files, writes the tombstone, removes the
/// directory.
pub(crate) fn finish(layout: &Layout, gone: &Path, topic: &str, next: u64) -> Result<()> {
    if gone.is_dir() {
        for entry in std::fs::read_dir(gone).ctx("list deleted topic's files", gone)? {
            let p = entry.ctx("list deleted topic's files", gone)?.path();
            crate::storage::file::remove_file(&p).ctx("remove deleted topic's file", &p)?;
        }
    }
    write(layout, topic, next)?;
    match std::fs::remove_dir(gone) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove deleted topic's directory", gone, e)),
    }
}

/// Writes (durably) that `topic` resumes at `next`, unless its tombstone
/// already says later.
fn write(layout: &Layout, topic: &str, next: u64) -> Result<()> {
    let path = layout.tombstone(topic);
    if let Ok(b) = std::fs::read(&path)
        && let Ok(t) = deleted::decode(&b)
        && t.next_seq >= next
    {
        return Ok(());
    }
    let dir = layout.deleted();
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir).ctx("create directory", &dir)?;
        sync_dir(&layout.base).ctx("sync log directory", &layout.base)?;
    }
    let bytes = deleted::encode(&Tombstone { next_seq: next, time: now_ns() });
    write_atomic(&path, &bytes).ctx("write the tombstone of a deleted topic", &path)
}

/// Finishes every deletion an earlier session left under way (called by
/// `Writer::open` before any topic is written).
pub(crate) fn finish_pending(layout: &Layout) -> Result<()> {
    let tmp = layout.tmp();
    let rd = match std::fs::read_dir(&tmp) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list", tmp, e)),
    };
    for entry in rd {
        let entry = entry.ctx("list", &tmp)?;
        let name = entry.file_name();
        let Some((topic, next)) = name.to_str().and_then(deleted::parse_pending_name) else { continue };
        if crate::format::naming::name_problem(topic).is_some() {
            continue;
        }
        log::info!("finishing the deletion of topic {topic:?} an earlier session began");
        finish(layout, &entry.path(), topic, next)?;
    }
    Ok(())
}
