//! A writer killed at any durability step of `delete_topic` — and killed
//! again at any step of the recovery that follows — leaves a log whose topic
//! either still holds every record or is deleted with its numbering kept:
//! the next record written to the name gets the seq after the deleted ones,
//! never one already used (issue 21, item 3, crash side).
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use logstream::testing::{StorageHook, SyncedRange, add_hook};

const DIR: &str = "LOGSTREAM_TEST_DIR";
const AT: &str = "LOGSTREAM_TEST_CRASH_AT";
const N: u64 = 30;

/// Kills the process at the `at`-th durability step under the log's own
/// directories (the flush thread's syncs of segment files do not count).
struct KillAt {
    base: PathBuf,
    at: u64,
    seen: AtomicU64,
}

impl KillAt {
    fn step(&self, path: &Path) -> std::io::Result<()> {
        let counted = [self.base.clone(), self.base.join("tmp"), self.base.join("topics"), self.base.join("deleted")];
        if counted.iter().any(|d| path == d) || path.starts_with(self.base.join("deleted")) {
            let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
            if n == self.at {
                // SAFETY: kill(2) on our own pid; no memory is touched.
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            }
        }
        Ok(())
    }
}

impl StorageHook for KillAt {
    fn before_sync(&self, range: &SyncedRange<'_>) -> std::io::Result<()> {
        self.step(range.path)
    }
    fn before_dir_sync(&self, dir: &Path) -> std::io::Result<()> {
        self.step(dir)
    }
}

fn arm(dir: &Path) {
    let at = std::env::var(AT).unwrap().parse().unwrap();
    add_hook(dir, Arc::new(KillAt { base: dir.to_path_buf(), at, seen: AtomicU64::new(0) }));
}

/// Child role: writes `N` records, then deletes the topic with a crash armed.
#[test]
fn child_deletes_a_topic() {
    let Ok(dir) = std::env::var(DIR) else { return };
    let dir = PathBuf::from(dir);
    let w = logstream::Writer::open(&config(&dir)).unwrap();
    for i in 0..N {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    arm(&dir);
    w.delete_topic("t", logstream::DeleteMode::Force).unwrap();
    child_say("survived");
    w.close().unwrap();
}

/// Child role: opens the log (recovery) with a crash armed.
#[test]
fn child_reopens() {
    let Ok(dir) = std::env::var(DIR) else { return };
    let dir = PathBuf::from(dir);
    arm(&dir);
    let w = logstream::Writer::open(&config(&dir)).unwrap();
    child_say("survived");
    w.close().unwrap();
}

/// Runs a child role; true if it got through without being killed.
fn run(role: &str, dir: &Path, at: u64) -> bool {
    let mut child = spawn_child(role, &[(DIR, dir.display().to_string()), (AT, at.to_string())]);
    let said: Vec<String> = child_lines(&mut child).collect();
    let status = child.wait().unwrap();
    let survived = said.iter().any(|l| l == "survived");
    assert!(survived || !status.success(), "{role} at step {at}: exited cleanly without finishing");
    survived
}

/// What the log must hold after a crash at any point of the deletion.
fn check(dir: &Path, what: &str) {
    let cfg = config(dir);
    let w = logstream::Writer::open(&cfg).unwrap();
    assert_eq!(w.write("t", b"after").unwrap(), N, "{what}: the first seq written after the crash");
    w.close().unwrap();
    let got = read_all(&cfg, "t");
    let last = got.last().cloned();
    assert_eq!(last, Some((N, b"after".to_vec())), "{what}: the new record is there");
    let before = &got[..got.len() - 1];
    assert!(
        before.is_empty() || before.len() as u64 == N,
        "{what}: the topic is either deleted or whole, not {} records",
        before.len()
    );
    for (seq, data) in before {
        assert_eq!(data, &payload("t", *seq), "{what}: contents of seq {seq}");
    }
    assert!(std::fs::read_dir(dir.join("tmp")).unwrap().next().is_none(), "{what}: nothing is left in tmp/");
}

#[test]
fn a_crash_at_every_step_of_a_deletion_and_of_its_recovery_keeps_the_numbering() {
    let mut explored = 0;
    for at in 1.. {
        let dir = tempfile::tempdir().unwrap();
        let survived = run("child_deletes_a_topic", dir.path(), at);
        explored += 1;
        if survived {
            assert!(at > 3, "a deletion syncs at least its rename, the tmp directory and the tombstone");
            check(dir.path(), &format!("deletion completed (step {at} not reached)"));
            break;
        }
        // Crash again at each step of the recovery, then check.
        let image = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), image.path());
        for again in 1.. {
            let twice = tempfile::tempdir().unwrap();
            copy_dir(image.path(), twice.path());
            let ok = run("child_reopens", twice.path(), again);
            explored += 1;
            check(twice.path(), &format!("killed at deletion step {at}, then at recovery step {again}"));
            if ok {
                break;
            }
        }
        check(dir.path(), &format!("killed at deletion step {at}"));
    }
    println!("explored {explored} crash points");
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_dir(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), &dst).unwrap();
        }
    }
}
