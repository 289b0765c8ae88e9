//! Where things live under `base_dir`.
//!
//! ```text
//! base_dir/
//!   LOCK               held (flock) by the one Writer; holds its pid
//!   logstream.meta     log id and writer session counter (format/meta.rs)
//!   doorbell           shared mapping through which writers wake readers
//!   topics/<topic>/    NNNNNNNNNNNNNNNNNNNN.dat + .idx per segment
//!   groups/<group>/    checkpoints.snap, checkpoints.log, LOCK
//!   readers/           slot-NN.lock, one per reader process using the doorbell
//!   tmp/               new topic directories are built here, then renamed in;
//!                      deleted ones are renamed here, then removed
//!   deleted/<topic>    where a deleted topic's numbering ended (format/deleted.rs)
//!   logstream.reserve  emergency reserve for a full disk (storage/reserve.rs)
//! ```

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::naming::name_problem;

/// Paths of one log directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub base: PathBuf,
}

impl Layout {
    pub(crate) fn new(base: &Path) -> Layout {
        Layout { base: base.to_path_buf() }
    }
    pub(crate) fn lock(&self) -> PathBuf {
        self.base.join("LOCK")
    }
    pub(crate) fn meta(&self) -> PathBuf {
        self.base.join("logstream.meta")
    }
    pub(crate) fn topics(&self) -> PathBuf {
        self.base.join("topics")
    }
    pub(crate) fn topic(&self, name: &str) -> PathBuf {
        self.topics().join(name)
    }
    pub(crate) fn groups(&self) -> PathBuf {
        self.base.join("groups")
    }
    pub(crate) fn group(&self, name: &str) -> PathBuf {
        self.groups().join(name)
    }
    pub(crate) fn tmp(&self) -> PathBuf {
        self.base.join("tmp")
    }
    pub(crate) fn deleted(&self) -> PathBuf {
        self.base.join("deleted")
    }
    pub(crate) fn tombstone(&self, topic: &str) -> PathBuf {
        self.deleted().join(topic)
    }
}

/// Checks a topic name, as the error users see.
pub(crate) fn check_topic(name: &str) -> Result<()> {
    match name_problem(name) {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidTopic { name: name.to_owned(), reason }),
    }
}

/// Checks a group name, as the error users see.
pub(crate) fn check_group(name: &str) -> Result<()> {
    match name_problem(name) {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidGroup { name: name.to_owned(), reason }),
    }
}

/// Lists the topic directories that exist (names that are valid topics).
pub(crate) fn list_topics(layout: &Layout) -> Result<Vec<String>> {
    use crate::error::IoContext;
    let dir = layout.topics();
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("list topics", &dir, e)),
    };
    for entry in rd {
        let entry = entry.ctx("list topics", &dir)?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if name_problem(&name).is_none() && entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}
