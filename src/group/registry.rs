//! Groups on disk: the registry (one directory per group under `groups/`),
//! the lock a group's reader holds, and retention across groups.

use std::collections::HashMap;
use std::path::Path;

use super::checkpoint::{Position, load_within};
use crate::error::{Error, IoContext, Result};
use crate::format::naming::{data_file_name, index_file_name, name_problem};
use crate::layout::Layout;
use crate::segment::read_header;
use crate::segment::recovery::list_segments;

/// Lists the registered groups.
pub(crate) fn list_groups(layout: &Layout) -> Result<Vec<String>> {
    let dir = layout.groups();
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("list groups", &dir, e)),
    };
    for entry in rd {
        let entry = entry.ctx("list groups", &dir)?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if name_problem(&name).is_none() && entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// The saved positions of every group except `me`.
pub(crate) fn other_positions(layout: &Layout, me: &str) -> Result<Vec<HashMap<String, Position>>> {
    let mut out = Vec::new();
    for g in list_groups(layout)? {
        if g != me {
            // Retention runs on a member's ckpt thread: do not wait long
            // for another group whose member froze holding its lock.
            out.push(load_within(&layout.group(&g), std::time::Duration::from_millis(100))?.0);
        }
    }
    Ok(out)
}

/// Deletes the sealed segments of a topic whose records all lie before
/// `min_next` (the lowest position of every registered group). The newest
/// segment is always kept: it carries the topic's next sequence number.
pub(crate) fn delete_consumed(topic_dir: &Path, min_next: u64) -> Result<u64> {
    let segs = list_segments(topic_dir)?;
    let mut deleted = 0;
    for pair in segs.windows(2) {
        let (base, next_base) = (pair[0], pair[1]);
        if next_base > min_next {
            break;
        }
        let data = topic_dir.join(data_file_name(base));
        let sealed_before = match read_header(&data) {
            Ok((_, Some(w), _)) => w.is_sealed() && w.sealed_next <= min_next,
            _ => false,
        };
        if !sealed_before {
            break;
        }
        // Another deleter (the writer's retention) may have come first.
        if crate::segment::remove::remove(topic_dir, base)?.is_some() {
            log::debug!("deleted consumed segment {} and its {}", data.display(), index_file_name(base));
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Fails with [`Error::GroupBusy`] while a reader consumes the group.
pub(crate) fn refuse_if_active(dir: &Path, group: &str) -> Result<()> {
    let live = super::members::live_members(dir, None, None)?;
    if let Some(m) = live.first() {
        return Err(Error::GroupBusy {
            group: group.to_owned(),
            path: dir.join(super::members::MEMBERS_DIR),
            pid: m.pid,
        });
    }
    Ok(())
}
