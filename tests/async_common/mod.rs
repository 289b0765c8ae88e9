//! Helpers of the async scenario tests: a record of what async forwarders
//! delivered that tests await (no sleeping on a runtime thread).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// A safety net only: every wait is on a real event.
pub const SAFETY: Duration = Duration::from_secs(30);

/// What a group's forwarders delivered: per topic, the seqs in order.
#[derive(Clone)]
pub struct Delivered {
    seen: Arc<Mutex<BTreeMap<String, Vec<u64>>>>,
    changed: Arc<watch::Sender<u64>>,
}

impl Default for Delivered {
    fn default() -> Delivered {
        Delivered { seen: Arc::default(), changed: Arc::new(watch::channel(0).0) }
    }
}

impl Delivered {
    /// Records every record of `b` as delivered.
    pub fn record(&self, b: &logstream::Batch) {
        let mut m = self.seen.lock().unwrap();
        m.entry(b.topic().to_owned()).or_default().extend(b.records().map(|r| r.seq()));
        drop(m);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Total records delivered.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().values().map(Vec::len).sum()
    }

    /// The seqs delivered for `topic`.
    pub fn of(&self, topic: &str) -> Vec<u64> {
        self.seen.lock().unwrap().get(topic).cloned().unwrap_or_default()
    }

    /// Everything delivered.
    pub fn all(&self) -> BTreeMap<String, Vec<u64>> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `cond` holds (checked after each delivery).
    pub async fn until(&self, what: &str, cond: impl Fn(&Delivered) -> bool) {
        let mut rx = self.changed.subscribe();
        let waited = tokio::time::timeout(SAFETY, rx.wait_for(|_| cond(self))).await;
        assert!(waited.is_ok(), "timed out after {SAFETY:?} waiting for {what}");
    }
}

/// Runs `body` on a current-thread and then on a multi-thread runtime.
pub fn on_both_runtimes<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(body());
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(body());
}

/// Checks `cond` until it holds, sleeping on the runtime's timer between
/// looks (for states that raise no event, such as a rebalance); panics
/// after [`SAFETY`].
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + SAFETY;
    let mut pause = Duration::from_millis(1);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {SAFETY:?} waiting for {what}");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
