//! Helpers shared by the scenario tests: a real `nats-server` and the
//! stream read back (`logstream_nats::testing`), logs and the exactly-once
//! check (`logstream_ship::testing`), and child processes.
#![allow(dead_code)]

use std::time::Duration;

use logstream_nats::NatsConnection;
pub use logstream_nats::testing::*;
pub use logstream_ship::testing::*;

// Not every scenario runs a child process.
#[allow(unused_imports)]
pub use logstream::testing::{child_lines, child_say, spawn_child};

/// Runs a [`logstream_nats::NatsSource`] of `stream` into `local` until it
/// has written `expect_written` records, then stops it; returns its final counters.
pub fn mirror(
    conn: &NatsConnection,
    stream: &str,
    local: &logstream::Config,
    expect_written: u64,
) -> logstream_nats::MirrorStats {
    let source =
        logstream_nats::NatsSource::new(conn, local, logstream_nats::SourceOptions::new(stream, "mirror")).unwrap();
    let monitor = source.monitor();
    let shutdown = logstream_nats::Shutdown::new();
    let stop = shutdown.clone();
    let t = std::thread::Builder::new()
        .name("test-mirror".into())
        .spawn(move || source.run(&stop, Duration::from_secs(3600), |_| {}))
        .unwrap();
    wait_for("the mirror to write every record", Duration::from_secs(60), || {
        monitor.stats().written >= expect_written || t.is_finished()
    });
    shutdown.trigger();
    if let Err(e) = t.join().unwrap() {
        panic!("the mirror failed: {e}; counters {:?}", monitor.stats());
    }
    monitor.stats()
}

/// A latch: closures wait at it until a test opens it.
#[derive(Clone, Default)]
pub struct Gate(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    pub fn wait_open(&self) {
        let mut open = self.0.0.lock().unwrap();
        while !*open {
            open = self.0.1.wait(open).unwrap();
        }
    }

    pub fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }
}
