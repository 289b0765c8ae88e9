//! [`Shutdown`]: the flag a signal handler (or a test) triggers to end a
//! run loop; the loops sleep on it, so a trigger ends their wait at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// A flag that ends [`crate::run`] and the engine crates' mirror loops
/// (`NatsSource::run`, `KafkaSource::run`); clone it into a
/// signal-handling thread and call [`Shutdown::trigger`].
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl Shutdown {
    /// A flag not yet triggered.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks every run loop holding a clone to stop.
    pub fn trigger(&self) {
        *self.inner.0.lock() = true;
        self.inner.1.notify_all();
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.inner.0.lock()
    }

    /// Waits until triggered or `timeout` passed; true if triggered.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut done = self.inner.0.lock();
        while !*done {
            if self.inner.1.wait_until(&mut done, deadline).timed_out() {
                break;
            }
        }
        *done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_from_another_thread_ends_the_wait_at_once() {
        let s = Shutdown::new();
        assert!(!s.wait_timeout(Duration::ZERO));
        let t = std::thread::spawn({
            let s = s.clone();
            move || s.wait_timeout(Duration::from_secs(3600))
        });
        s.trigger();
        assert!(t.join().unwrap());
        assert!(s.is_triggered());
    }
}
