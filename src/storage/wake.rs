//! Waiting for and ringing a word in shared memory: a futex on Linux (works
//! across processes when the word lives in a shared file mapping), a short
//! sleep elsewhere.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps until `word` is rung (changes from `seen`) or `timeout` passes.
/// Spurious returns are allowed; callers re-check their condition.
pub(crate) fn wait(word: &AtomicU32, seen: u32, timeout: Duration) {
    #[cfg(target_os = "linux")]
    {
        use rustix::thread::futex;
        let ts = futex::Timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        // EAGAIN (the word changed), EINTR and ETIMEDOUT all mean "look again".
        let _ = futex::wait(word, futex::Flags::empty(), seen, Some(&ts));
    }
    #[cfg(not(target_os = "linux"))]
    {
        if word.load(std::sync::atomic::Ordering::Acquire) == seen {
            std::thread::sleep(timeout.min(Duration::from_millis(1)));
        }
    }
}

/// Wakes every thread (in any process) waiting on `word`. The caller changes
/// the word first.
pub(crate) fn wake_all(word: &AtomicU32) {
    #[cfg(target_os = "linux")]
    {
        use rustix::thread::futex;
        let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = word;
    }
}
