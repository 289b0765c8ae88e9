//! Wake-ups: how the one idle worker that waits for new records sleeps,
//! on its slot of the cross-process doorbell or, without one, on a local
//! word and condition variable; and who wakes it (the writer's publish
//! through the doorbell, the pool itself when work is waiting).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::doorbell::{Doorbell, Slot};

/// How the idle worker sleeps: on its doorbell slot, or locally (no slot).
pub(crate) enum Wake {
    Slot { bell: Arc<Doorbell>, slot: Slot },
    Local { bell: Option<Arc<Doorbell>>, word: Mutex<u32>, cv: Condvar },
}

impl Wake {
    pub(super) fn seen(&self) -> u32 {
        match self {
            Wake::Slot { bell, slot } => bell.seen(slot.index),
            Wake::Local { word, .. } => *word.lock(),
        }
    }

    pub(super) fn wait(&self, seen: u32, timeout: Duration) {
        match self {
            Wake::Slot { bell, slot } => bell.wait(slot.index, seen, timeout),
            Wake::Local { word, cv, .. } => {
                let mut w = word.lock();
                if *w == seen {
                    cv.wait_for(&mut w, timeout);
                }
            }
        }
    }

    pub(crate) fn wake(&self) {
        match self {
            Wake::Slot { bell, slot } => bell.bump(slot.index),
            Wake::Local { word, cv, .. } => {
                let mut w = word.lock();
                *w = w.wrapping_add(1);
                cv.notify_all();
            }
        }
    }

    pub(super) fn slot(&self) -> Option<usize> {
        match self {
            Wake::Slot { slot, .. } => Some(slot.index),
            Wake::Local { .. } => None,
        }
    }

    pub(super) fn take_dirty(&self, out: &mut Vec<usize>) {
        if let Wake::Slot { bell, slot } = self {
            bell.take_dirty(slot.index, out);
        }
    }

    pub(crate) fn doorbell_path(&self) -> Option<PathBuf> {
        match self {
            Wake::Slot { .. } => None,
            Wake::Local { bell, .. } => bell.as_ref().map(|b| b.path().to_path_buf()),
        }
    }
}
