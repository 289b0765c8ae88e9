//! Opening a log directory for writing: the lock, the directory's identity,
//! and recovery of every topic.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::format::meta::DirMeta;
use crate::layout::{Layout, list_topics};
use crate::segment::Limits;
use crate::segment::recovery::{TopicRecovery, recover_topic};
use crate::storage::file::{create_dir_durable, now_ns, open_rw, random_u64, try_lock, write_atomic};

/// What recovery did when a writer opened a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RecoveryReport {
    /// One entry per topic directory found.
    pub topics: Vec<TopicRecovery>,
    /// The writer session this open started (the epoch of new segments).
    pub session: u64,
}

impl RecoveryReport {
    /// True when no topic needed any change (the last writer closed cleanly,
    /// or its crash left nothing to cut).
    pub fn is_clean(&self) -> bool {
        self.topics.iter().all(TopicRecovery::is_clean)
    }

    /// Topics whose log was cut after a torn or lost tail.
    pub fn cut_topics(&self) -> impl Iterator<Item = &TopicRecovery> {
        self.topics.iter().filter(|t| t.cut.is_some() || !t.quarantined.is_empty())
    }
}

/// The opened directory: its lock, identity and recovered topics.
pub(crate) struct Opened {
    pub lock_file: File,
    pub log_id: u64,
    pub session: u64,
    pub report: RecoveryReport,
    /// Per topic (same order as `report.topics`): segments recovery sealed,
    /// for the flush thread to make durable.
    pub pending: Vec<Vec<crate::segment::appender::Progress>>,
}

/// Takes the writer lock of `layout.base`, reads or creates its identity,
/// recovers every topic and starts a new session.
pub(crate) fn open_dir(layout: &Layout, limits: Limits) -> Result<Opened> {
    create_dir_durable(&layout.base).ctx("create log directory", &layout.base)?;
    let lock_path = layout.lock();
    let mut lock_file = open_rw(&lock_path, true).ctx("open lock file", &lock_path)?;
    if !try_lock(&lock_file).ctx("lock", &lock_path)? {
        let mut s = String::new();
        let _ = lock_file.read_to_string(&mut s);
        let holder: Option<u32> = s.trim().parse().ok();
        // A pid is only reused once its process is gone, and the holder lives.
        let this_process = holder == Some(std::process::id());
        return Err(Error::Locked { path: lock_path, holder, this_process });
    }
    // The pid over the old one, then cut to length: no new block is needed
    // when the file has one already (a full disk must not stop the open).
    let pid = std::process::id().to_string();
    crate::storage::reserve::with_reserve(&layout.base, 4096, || {
        lock_file.seek(SeekFrom::Start(0)).ctx("write lock file", &lock_path)?;
        lock_file.write_all(pid.as_bytes()).ctx("write lock file", &lock_path)?;
        lock_file.set_len(pid.len() as u64).ctx("write lock file", &lock_path)
    })?;

    for d in [layout.topics(), layout.groups(), layout.tmp()] {
        create_dir_durable(&d).ctx("create directory", &d)?;
    }
    // Deletions a crash interrupted are finished first: their directory
    // names carry where the topics' numbering resumes.
    super::tombstone::finish_pending(layout)?;
    clean_tmp(&layout.tmp())?;

    let meta = read_meta(&layout.meta());
    let boot_id = current_boot_id();
    let same_boot = !boot_id.is_empty() && meta.as_ref().is_some_and(|m| m.boot_id == boot_id);
    let mut report = RecoveryReport::default();
    let mut pending = Vec::new();
    let mut max_epoch = 0;
    for name in list_topics(layout)? {
        let (rep, epoch, sealed) = recover_topic(&layout.topic(&name), &name, limits, same_boot)?;
        if !rep.is_clean() {
            log::info!("recovered topic {name:?}: {rep:?}");
        }
        max_epoch = max_epoch.max(epoch);
        report.topics.push(rep);
        pending.push(sealed);
    }
    let (log_id, created, last_session) = match &meta {
        Some(m) => (m.log_id_u64().unwrap_or_else(random_u64), m.created, m.session),
        None => (random_u64(), now_ns(), 0),
    };
    let session = last_session.max(max_epoch) + 1;
    let new_meta = DirMeta { format: 1, log_id: format!("{log_id:016x}"), session, created, boot_id };
    let bytes = serde_json::to_vec_pretty(&new_meta).map_err(|e| Error::io("encode", layout.meta(), e.into()))?;
    // A new file replaces the old: on a full disk it takes a slice of the
    // emergency reserve (storage/reserve.rs).
    let meta_path = layout.meta();
    crate::storage::reserve::with_reserve(&layout.base, bytes.len() as u64, || {
        write_atomic(&meta_path, &bytes).map_err(|e| match Error::io("write", &meta_path, e) {
            Error::NoSpace { path, .. } => Error::NoSpace { op: "replace", path, needed: bytes.len().max(4096) as u64 },
            e => e,
        })
    })?;
    crate::storage::reserve::refill(&layout.base);
    report.session = session;
    Ok(Opened { lock_file, log_id, session, report, pending })
}

/// The kernel's id of this boot (empty where there is none).
fn current_boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// Reads `logstream.meta`; a missing or damaged file is `None` (the session
/// counter is then rebuilt from the epochs found in the segments).
pub(crate) fn read_meta(path: &Path) -> Option<DirMeta> {
    let text = std::fs::read(path).ok()?;
    match serde_json::from_slice::<DirMeta>(&text) {
        Ok(m) if m.log_id_u64().is_some() => Some(m),
        _ => {
            log::warn!("{} is damaged; rebuilding it from the segments", path.display());
            None
        }
    }
}

fn clean_tmp(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let p = entry.path();
        let r = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            crate::storage::file::remove_dir_all(&p)
        } else {
            crate::storage::file::remove_file(&p)
        };
        r.ctx("remove leftover temporary file", &p)?;
    }
    Ok(())
}
