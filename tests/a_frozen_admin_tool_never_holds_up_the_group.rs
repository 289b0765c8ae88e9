//! An operator's tool reading a group (`logstream lag`, `top`: here a
//! process calling `Group::lag()` in a loop) that is frozen at a random
//! moment — Ctrl-Z, a stopped container — never holds up the group: its
//! members go on persisting positions while it is stopped. (Tools read the
//! checkpoint files without the group's lock; they used to take it shared,
//! and a tool stopped inside that read blocked every member's persist until
//! it was resumed.)

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;

const ROLE: &str = "lag_looper";
const ROUNDS: usize = 12;

fn cfg(dir: &Path) -> logstream::Config {
    let mut c = config(dir);
    c.set_checkpoint_interval_ms(0).set_max_batch_bytes(1024);
    c
}

/// Reads the group's lag over and over, saying so every 50 reads.
#[test]
fn lag_looper() {
    let Ok(dir) = std::env::var("LOGSTREAM_LOOP_DIR") else { return };
    let cfg = cfg(Path::new(&dir));
    let mut n = 0u64;
    loop {
        let g = logstream::Group::open(&cfg, "g").unwrap();
        let _ = g.lag().unwrap();
        n += 1;
        if n.is_multiple_of(200) {
            child_say(&format!("looked {n}"));
        }
    }
}

/// Kills the looper when the test ends (a stopped one would stay forever
/// and keep the test's output open).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn persisted(g: &logstream::Group) -> u64 {
    g.positions().unwrap().iter().find(|p| p.topic == "t").map_or(0, |p| p.next_seq)
}

#[test]
fn a_frozen_admin_tool_never_holds_up_the_group() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let cfg = cfg(&dir);
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("t", &payload("t", 0)).unwrap();
    let (reader, _seen) = collecting_reader(&cfg, "g");
    let g = logstream::Group::open(&cfg, "g").unwrap();
    wait_for("the first position", Duration::from_secs(30), || persisted(&g) >= 1);

    // A steady producer, so that there is always something to persist.
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (w, stop) = (w.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 1;
            while !stop.load(Ordering::Relaxed) {
                w.write("t", &payload("t", i)).unwrap();
                i += 1;
                std::thread::sleep(Duration::from_micros(500));
            }
        })
    };

    let mut child = Killed(spawn_child(ROLE, &[("LOGSTREAM_LOOP_DIR", dir.display().to_string())]));
    let child = &mut child.0;
    let mut lines = child_lines(child);
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    for round in 0..ROUNDS {
        // Let it read a while, then stop it wherever it is.
        let line = lines.next().expect("the looper reads");
        assert!(line.starts_with("looked "), "{line}");
        std::thread::sleep(Duration::from_micros(137 * (round as u64 + 1)));
        rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
        let at = persisted(&g);
        // Generous: a member persists after every batch, a few per ms.
        wait_for(
            &format!("round {round}: the member to persist past {at} while the tool is stopped"),
            Duration::from_secs(20),
            || persisted(&g) > at + 20,
        );
        rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    reader.stop().unwrap();
    w.close().unwrap();
}
