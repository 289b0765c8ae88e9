//! A batch confirmed in parts while its closure still runs (a forwarder
//! confirming records as the engine acknowledges them, through
//! `Batch::confirmer` from another thread) has those parts persisted at the
//! checkpoint interval: a reader process killed in the middle of the batch
//! re-delivers, after a restart, only what was not confirmed — not the
//! whole batch (issue 15, item 3).
mod common;

use std::time::Duration;

use common::*;

const DIR: &str = "LOGSTREAM_TEST_DIR";
const RECORDS: u64 = 20_000;
const CONFIRMED: u64 = 7_000;

fn cfg_for(dir: &std::path::Path) -> logstream::Config {
    let mut cfg = config(dir);
    // One batch holds every record; positions are persisted every 100 ms.
    cfg.set_max_batch_bytes(8 << 20).set_checkpoint_interval_ms(100);
    cfg
}

/// Child role: a reader whose closure confirms the first `CONFIRMED`
/// records of its batch from another thread, then never returns.
#[test]
fn child_reader_that_confirms_part_of_a_batch_and_hangs() {
    let Ok(dir) = std::env::var(DIR) else { return };
    let cfg = cfg_for(std::path::Path::new(&dir));
    let _r = logstream::Reader::builder(&cfg)
        .group("g")
        .start(|b: &logstream::Batch| -> Result<(), std::io::Error> {
            let confirmer = b.confirmer();
            let first = b.first_seq();
            std::thread::spawn(move || {
                for seq in first..first + CONFIRMED {
                    confirmer.confirm(seq).unwrap();
                }
            })
            .join()
            .unwrap();
            child_say(&format!("confirmed {first} {}", b.len()));
            loop {
                std::thread::park();
            }
        })
        .unwrap();
    loop {
        std::thread::park();
    }
}

/// The child process, SIGKILLed when dropped (also when the test fails).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_reader_killed_inside_a_big_batch_re_delivers_only_its_unconfirmed_part() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_for(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..RECORDS {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();

    let mut child = Killed(spawn_child(
        "child_reader_that_confirms_part_of_a_batch_and_hangs",
        &[(DIR, dir.path().display().to_string())],
    ));
    let mut lines = child_lines(&mut child.0);
    let line = lines.next().expect("the child reader reports its batch");
    assert_eq!(line, format!("confirmed 0 {RECORDS}"), "one batch of every record");
    // The confirmed part becomes the group's saved position while the
    // closure is still inside the batch.
    let group = logstream::Group::open(&cfg, "g").unwrap();
    wait_for("the confirmed part to be persisted", Duration::from_secs(30), || {
        group.positions().unwrap().iter().any(|p| p.topic == "t" && p.next_seq == CONFIRMED)
    });
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            group.positions().unwrap().iter().any(|p| p.topic == "t" && p.next_seq == CONFIRMED),
            "the saved position stays"
        );
    }
    drop(child);

    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("the rest to be delivered", Duration::from_secs(30), || count(&seen) as u64 == RECORDS - CONFIRMED);
    r.stop().unwrap();
    let got = seen.lock().unwrap()["t"].clone();
    assert_eq!(got.first().map(|r| r.0), Some(CONFIRMED), "delivery resumes after the confirmed part");
    assert_eq!(got.len() as u64, RECORDS - CONFIRMED, "only the unconfirmed part comes again");
    w.close().unwrap();
}
