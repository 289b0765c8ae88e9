//! The writer's lifecycle, one state for every clone: running, stopped
//! (`Writer::stop` until `resume`), closed, or poisoned by a failure.
//!
//! The state lives in one atomic, the single source of truth. A poisoned
//! writer's cause is stored once, before the state flips, so whoever loads
//! [`State::Poisoned`] finds the cause there.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot::{Condvar, Mutex};

/// Where a writer is in its life.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Takes writes.
    Running = 0,
    /// Writes wait for `resume`.
    Stopped = 1,
    /// Writes fail with `Error::Closed`.
    Closed = 2,
    /// A failure (a sync, say) ended it: writes and flushes fail with
    /// `Error::Poisoned`, for good.
    Poisoned = 3,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            0 => State::Running,
            1 => State::Stopped,
            2 => State::Closed,
            _ => State::Poisoned,
        }
    }
}

/// What poisoned a writer: the first failure.
pub(crate) struct Poison {
    pub(crate) op: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) source: std::sync::Arc<std::io::Error>,
}

/// The state, the poison's cause, and the wait for a stopped writer to run.
pub(crate) struct Lifecycle {
    state: AtomicU8,
    cause: OnceLock<Poison>,
    /// Taken by every change of state, so that a waiter never misses one.
    lock: Mutex<()>,
    changed: Condvar,
}

impl Lifecycle {
    pub(crate) fn new() -> Lifecycle {
        Lifecycle {
            state: AtomicU8::new(State::Running as u8),
            cause: OnceLock::new(),
            lock: Mutex::new(()),
            changed: Condvar::new(),
        }
    }

    pub(crate) fn get(&self) -> State {
        State::from_u8(self.state.load(Ordering::SeqCst))
    }

    /// The write path's check: a relaxed load (the topic lock orders what
    /// matters), falling back to [`Lifecycle::wait_running`] when false.
    #[inline]
    pub(crate) fn is_running(&self) -> bool {
        self.state.load(Ordering::Relaxed) == State::Running as u8
    }

    /// Running becomes stopped; any other state stays.
    pub(crate) fn stop(&self) {
        let _g = self.lock.lock();
        let _ =
            self.state.compare_exchange(State::Running as u8, State::Stopped as u8, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Stopped (or running) becomes running; the closed or poisoned state it
    /// is in otherwise is the error.
    pub(crate) fn resume(&self) -> std::result::Result<(), State> {
        let _g = self.lock.lock();
        let r = self.state.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
            matches!(State::from_u8(s), State::Running | State::Stopped).then_some(State::Running as u8)
        });
        self.changed.notify_all();
        r.map(|_| ()).map_err(State::from_u8)
    }

    /// Closed, unless poisoned (a poisoned writer stays poisoned); wakes the
    /// callers waiting on a stopped writer. Returns the state it was in.
    pub(crate) fn close(&self) -> State {
        let _g = self.lock.lock();
        let prev = self.state.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
            (State::from_u8(s) != State::Poisoned).then_some(State::Closed as u8)
        });
        self.changed.notify_all();
        State::from_u8(prev.unwrap_or_else(|s| s))
    }

    /// Poisons the writer with `p`, unless it is poisoned already (the first
    /// cause is kept). The cause is stored before the state says poisoned.
    /// Returns whether this call poisoned it.
    pub(crate) fn poison(&self, p: Poison) -> bool {
        let _g = self.lock.lock();
        let first = self.cause.set(p).is_ok();
        self.state.store(State::Poisoned as u8, Ordering::SeqCst);
        self.changed.notify_all();
        first
    }

    /// The poison's cause, once poisoned.
    pub(crate) fn cause(&self) -> Option<&Poison> {
        self.cause.get()
    }

    /// Waits while stopped; returns the state that ended the wait (running,
    /// closed or poisoned).
    #[cold]
    pub(crate) fn wait_running(&self) -> State {
        let mut g = self.lock.lock();
        loop {
            match self.get() {
                State::Stopped => self.changed.wait(&mut g),
                s => return s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poison(cause: &str) -> Poison {
        Poison { op: "sync", path: PathBuf::from("/x"), source: std::sync::Arc::new(std::io::Error::other(cause)) }
    }

    #[test]
    fn a_poisoned_state_always_has_its_first_cause() {
        let l = Lifecycle::new();
        assert!(l.cause().is_none());
        assert!(l.poison(poison("first")));
        assert_eq!(l.get(), State::Poisoned);
        assert!(!l.poison(poison("second")));
        assert_eq!(l.cause().map(|p| p.source.to_string()).as_deref(), Some("first"));
    }

    #[test]
    fn close_keeps_poisoned_and_resume_refuses_both() {
        let l = Lifecycle::new();
        l.stop();
        assert_eq!(l.get(), State::Stopped);
        assert_eq!(l.resume(), Ok(()));
        assert_eq!(l.close(), State::Running);
        assert_eq!(l.resume(), Err(State::Closed));
        l.poison(poison("p"));
        assert_eq!(l.close(), State::Poisoned);
        assert_eq!(l.get(), State::Poisoned);
        assert_eq!(l.resume(), Err(State::Poisoned));
    }

    #[test]
    fn a_waiter_on_a_stopped_writer_wakes_on_resume_and_close() {
        let l = std::sync::Arc::new(Lifecycle::new());
        l.stop();
        let l2 = l.clone();
        let h = std::thread::spawn(move || l2.wait_running());
        std::thread::sleep(std::time::Duration::from_millis(20));
        l.close();
        assert_eq!(h.join().ok(), Some(State::Closed));
    }
}
