//! Deleting one whole segment: the one way every deleter (a group's
//! consumed-segment retention, the writer's caps and age retention,
//! `drop_oldest`) removes a segment's files.
//!
//! The order, and why:
//! 1. **The data file first.** An index file without its data file is an
//!    orphan that recovery removes; a data file without its index would be
//!    recovered, its index rebuilt: the segment would come back.
//! 2. **Then the index file**; one already gone is fine (recovery may have
//!    removed it as an orphan, between the two steps of another deleter).
//! 3. **No directory sync.** A deletion that a power loss undoes brings back
//!    a sealed segment whose range is consumed or noted in `DROPPED`
//!    already: it is deleted again. Syncing the topic directory here would be
//!    wrong, not only slow: the writer syncs a topic directory only after
//!    the files whose names it makes durable (see `writer/flusher.rs`), and
//!    a sync from here could make the name of a new segment durable before
//!    its header, so that a power loss left the topic without the segment
//!    saying where it continues (found by the crash-point test).
//!
//! What must be durable before the deletion (a `DROPPED` note, say) is the
//! caller's to write first. The files are removed by name: the caller checks,
//! under whatever lock keeps the name from being reused (the topic lock on
//! the writer's side), that the name still holds the segment it means
//! (DESIGN-NOTES §11).

use std::path::Path;

use crate::error::{Error, Result};
use crate::format::naming::{data_file_name, index_file_name};
use crate::segment::budget::disk_bytes;
use crate::storage::file::remove_file;

/// Removes segment `base` of the topic directory `topic_dir` (data file,
/// then index file; the directory is not synced). Returns the bytes the files
/// occupied, or `None` if the data file was gone already (another deleter,
/// maybe in another process, came first).
///
/// # Errors
/// [`Error::Io`] naming the step (`delete segment data file`, `delete
/// segment index file`) and its path.
pub(crate) fn remove(topic_dir: &Path, base: u64) -> Result<Option<u64>> {
    let data = topic_dir.join(data_file_name(base));
    let index = topic_dir.join(index_file_name(base));
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| disk_bytes(&m));
    let freed = size(&data) + size(&index);
    match remove_file(&data) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("delete segment data file", &data, e)),
    }
    match remove_file(&index) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("delete segment index file", &index, e)),
    }
    Ok(Some(freed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_both_files_and_tolerates_a_segment_already_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join(data_file_name(7)), [1u8; 100]).expect("write data");
        std::fs::write(d.join(index_file_name(7)), [1u8; 10]).expect("write index");
        assert!(remove(d, 7).expect("remove").is_some());
        assert!(!d.join(data_file_name(7)).exists());
        assert!(!d.join(index_file_name(7)).exists());
        assert_eq!(remove(d, 7).expect("remove again"), None);
    }

    #[test]
    fn a_missing_index_is_fine_and_errors_name_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join(data_file_name(3)), [1u8; 100]).expect("write data");
        assert!(remove(d, 3).expect("remove").is_some());
        // A data "file" that is a directory cannot be unlinked.
        std::fs::create_dir(d.join(data_file_name(4))).expect("mkdir");
        let e = remove(d, 4).expect_err("a directory is not a segment file");
        let text = e.to_string();
        assert!(text.contains("delete segment data file") && text.contains(&data_file_name(4)), "{text}");
    }
}
