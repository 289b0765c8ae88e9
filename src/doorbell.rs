//! Waking readers in any process without a syscall per record.
//!
//! A reader that has caught up with a topic sets its slot's bit in the
//! `waiting` word of that topic's active data file, then looks once more for a
//! new frame before it sleeps on its slot's futex word in the `doorbell`
//! file. A writer, after publishing a frame (`SeqCst` store), loads `waiting`
//! (`SeqCst`); only if it is non-zero does it *ring*: clear the word, mark the
//! topic's bucket in each waiting slot's dirty bitmap, bump the slot's futex
//! word and wake it. The two `SeqCst` pairs make a lost wake-up impossible:
//! either the writer sees the bit, or the reader sees the frame.
//!
//! With no reader waiting, a write costs one load of a cache line nobody
//! writes. Readers without a slot (more than 64 reader processes) fall back to
//! file events and polling; the flush thread pokes the doorbell file with a
//! real `pwrite` after publishing, which inotify reports.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::{IoContext, Result};
use crate::format::meta::{
    DOORBELL_DIRTY_AT, DOORBELL_DIRTY_BITS, DOORBELL_LEN, DOORBELL_SLOT_LEN, DOORBELL_SLOT0, DOORBELL_SLOTS,
};
use crate::storage::file::{allocate, open_rw, try_lock};
use crate::storage::{Mapping, wake};

/// Name of the doorbell file in `base_dir`.
pub(crate) const DOORBELL_FILE: &str = "doorbell";
/// Directory of reader slot locks in `base_dir`.
pub(crate) const READERS_DIR: &str = "readers";

/// The shared doorbell of one log directory.
pub(crate) struct Doorbell {
    map: Mapping,
    file: File,
    path: PathBuf,
}

impl std::fmt::Debug for Doorbell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doorbell").field("path", &self.path).finish()
    }
}

impl Doorbell {
    /// Opens (creating if needed) the doorbell of `base_dir`.
    pub(crate) fn open(base_dir: &Path) -> Result<Doorbell> {
        let path = base_dir.join(DOORBELL_FILE);
        let file = open_rw(&path, true).ctx("open doorbell", &path)?;
        let len = file.metadata().ctx("stat doorbell", &path)?.len();
        if len < DOORBELL_LEN as u64 {
            allocate(&file, &path, 0, DOORBELL_LEN as u64).ctx("size doorbell", &path)?;
        }
        let map = Mapping::map(&file, DOORBELL_LEN as u64, true, &path).ctx("map doorbell", &path)?;
        Ok(Doorbell { map, file, path })
    }

    fn futex(&self, slot: usize) -> &AtomicU32 {
        self.map.atomic_u32(DOORBELL_SLOT0 + slot * DOORBELL_SLOT_LEN)
    }

    fn dirty_word(&self, slot: usize, word: usize) -> &AtomicU64 {
        self.map.atomic_u64(DOORBELL_SLOT0 + slot * DOORBELL_SLOT_LEN + DOORBELL_DIRTY_AT + word * 8)
    }

    /// Rings the readers whose bits are in `mask` for the topic in `bucket`.
    pub(crate) fn ring(&self, mask: u64, bucket: usize) {
        let mut m = mask;
        while m != 0 {
            let slot = m.trailing_zeros() as usize;
            m &= m - 1;
            if slot >= DOORBELL_SLOTS {
                break;
            }
            self.dirty_word(slot, bucket / 64).fetch_or(1 << (bucket % 64), Ordering::SeqCst);
            self.bump(slot);
        }
    }

    /// Wakes the reader in `slot` without marking a topic (local events).
    pub(crate) fn bump(&self, slot: usize) {
        let f = self.futex(slot);
        f.fetch_add(1, Ordering::SeqCst);
        wake::wake_all(f);
    }

    /// The current value of a slot's futex word (read before looking for work).
    pub(crate) fn seen(&self, slot: usize) -> u32 {
        self.futex(slot).load(Ordering::SeqCst)
    }

    /// Sleeps until the slot is rung after `seen` or `timeout` passes.
    pub(crate) fn wait(&self, slot: usize, seen: u32, timeout: std::time::Duration) {
        wake::wait(self.futex(slot), seen, timeout);
    }

    /// Takes (and clears) the buckets marked dirty for `slot`.
    pub(crate) fn take_dirty(&self, slot: usize, out: &mut Vec<usize>) {
        for w in 0..DOORBELL_DIRTY_BITS / 64 {
            let word = self.dirty_word(slot, w);
            if word.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut bits = word.swap(0, Ordering::SeqCst);
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                out.push(w * 64 + b);
            }
        }
    }

    /// A real write to the doorbell file, so readers watching it with inotify
    /// wake up (stores through a mapping raise no file event).
    pub(crate) fn poke_file(&self) {
        let counter = self.map.atomic_u64(16).fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if let Err(e) = self.file.write_all_at(&counter.to_le_bytes(), 16) {
            log::debug!("poking {} failed: {e}", self.path.display());
        }
    }

    /// Path of the doorbell file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// A reader slot held through a file lock (released when the process dies).
#[derive(Debug)]
pub(crate) struct Slot {
    pub index: usize,
    _lock: File,
}

/// Claims a free reader slot, or `None` when all are taken.
pub(crate) fn claim_slot(base_dir: &Path, bell: &Doorbell) -> Result<Option<Slot>> {
    let dir = base_dir.join(READERS_DIR);
    crate::storage::file::create_dir_durable(&dir).ctx("create reader slot directory", &dir)?;
    for i in 0..DOORBELL_SLOTS {
        let p = dir.join(format!("slot-{i:02}.lock"));
        let f = open_rw(&p, true).ctx("open reader slot lock", &p)?;
        if try_lock(&f).ctx("lock reader slot", &p)? {
            // A dead reader may have left marks; start clean.
            let mut scratch = Vec::new();
            bell.take_dirty(i, &mut scratch);
            return Ok(Some(Slot { index: i, _lock: f }));
        }
    }
    Ok(None)
}
