//! The `logstream-prefault` thread: reserves and pre-faults space ahead of
//! writers, so that `write()` neither waits for `fallocate` nor takes page
//! faults; and, for writers whose user flushes, starts the writeback of the
//! pages they finished, so that the next flush has less left to write.
//! Separate from the flush thread because a long sync must not delay it: a
//! writer that outruns it faults pages in itself, which costs it far more
//! than the work costs here.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::{Condvar, Mutex};

use crate::format::segment::{DATA_START, index_entry_at};
use crate::segment::Segment;

/// Segments whose writers asked for room.
#[derive(Default)]
pub(crate) struct GrowQueue {
    state: Mutex<(VecDeque<Arc<Segment>>, bool)>,
    cv: Condvar,
    /// Bytes whose writeback the thread started early (a statistic).
    pub(crate) written_back: std::sync::atomic::AtomicU64,
}

impl GrowQueue {
    /// Hands `seg` to the thread: its writer asked for more room
    /// (`grow_requested`) or for writeback (`writeback_wanted`).
    pub(crate) fn ask(&self, seg: &Arc<Segment>) {
        let mut s = self.state.lock();
        s.0.push_back(seg.clone());
        self.cv.notify_one();
    }

    /// Tells the thread to exit.
    pub(crate) fn shutdown(&self) {
        self.state.lock().1 = true;
        self.cv.notify_all();
    }
}

/// Body of the `logstream-prefault` thread.
pub(crate) fn run(queue: Arc<GrowQueue>, index_interval: u64) {
    loop {
        let batch: Vec<Arc<Segment>> = {
            let mut s = queue.state.lock();
            loop {
                if s.1 {
                    return;
                }
                if !s.0.is_empty() {
                    break s.0.drain(..).collect();
                }
                queue.cv.wait(&mut s);
            }
        };
        // Reserving is quick and is what a writer waits for: do it for every
        // waiting segment first, then pre-fault them one after the other.
        for seg in &batch {
            if !seg.grow_requested.swap(false, Ordering::AcqRel) {
                continue;
            }
            if let Err(e) = seg.reserve(0) {
                // The writer reserves synchronously when it needs to, and
                // reports NoSpace itself.
                log::warn!("growing {} ahead of the writer failed: {e}", seg.data_path.display());
            }
            let allocated = seg.data_allocated.load(Ordering::Acquire);
            let need_index = index_entry_at((allocated - DATA_START) / index_interval + 2);
            if let Err(e) = seg.grow_index(need_index.min(seg.index_reserve)) {
                log::warn!("growing {} ahead of the writer failed: {e}", seg.index_path.display());
            }
        }
        for seg in &batch {
            seg.prefault(seg.data_allocated.load(Ordering::Acquire));
        }
        // Last, as it matters least to the writer: writeback of the pages
        // it finished (see `Segment::start_writeback`), a step at a time,
        // giving way to any writer that asks for room meanwhile (what is
        // left is started at the writer's next request).
        for seg in &batch {
            loop {
                let (bytes, more) = seg.start_writeback();
                queue.written_back.fetch_add(bytes, Ordering::Relaxed);
                if !more || !queue.state.lock().0.is_empty() {
                    break;
                }
            }
        }
    }
}
