//! Group state on disk, below the writer and the reader: a consumer
//! group's saved positions (`checkpoint.rs`: snapshot, journal, leases),
//! its members and the topics they own (`members.rs`), and the registry of
//! groups with retention across them (`registry.rs`). The writer reads it
//! (`delete_topic` and `verify` need every group's position), the reader
//! keeps it, the admin tools inspect and repair it.
//!
//! A group's dead letters are a log of their own, written through a
//! `Writer`, so their storage stays above the writer (`reader/dead.rs`).

pub(crate) mod checkpoint;
pub(crate) mod members;
pub(crate) mod registry;

use crate::error::Result;
use crate::layout::Layout;

/// A group, its saved positions (topic, next seq), and what loading them found.
pub(crate) type GroupPositions = (String, Vec<(String, u64)>, checkpoint::LoadReport);

/// Every registered group's saved positions, with what loading them found.
pub(crate) fn group_positions(layout: &Layout) -> Result<Vec<GroupPositions>> {
    let mut out = Vec::new();
    for g in registry::list_groups(layout)? {
        let (pos, rep) = checkpoint::load(&layout.group(&g))?;
        let mut v: Vec<(String, u64)> = pos.into_iter().map(|(t, p)| (t, p.next_seq)).collect();
        v.sort();
        out.push((g, v, rep));
    }
    Ok(out)
}

/// Rewrites a group's checkpoint files with only their valid entries (the
/// newest valid position per topic). Refused while a reader consumes the group.
pub(crate) fn rewrite_checkpoints(layout: &Layout, group: &str) -> Result<()> {
    let dir = layout.group(group);
    registry::refuse_if_active(&dir, group)?;
    let (mut store, _) = checkpoint::CheckpointStore::open(&dir)?;
    store.compact()
}
