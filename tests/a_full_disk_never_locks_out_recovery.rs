//! On a file system with zero free bytes, everything that frees space or
//! recovers must still work — opening a writer, starting a reader of a new
//! group, confirming, deleting a topic — and what fails says how many bytes
//! it needed and leaves no temporary file behind (issue 21, item 5).
//!
//! Runs on a real full file system: a small tmpfs mounted by the test (root
//! is needed to mount; CI runs as root, elsewhere the test says it skipped).
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use logstream::{DeleteMode, Error, Writer};

struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(st.success(), "mount -t tmpfs failed as root");
        Some(Tmpfs(dir))
    }
    fn path(&self) -> PathBuf {
        self.0.path().join("log")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// Fills the file system holding `dir` to its last byte; returns the filler.
fn fill(dir: &Path) -> PathBuf {
    let mut n = 0;
    let p = loop {
        let p = dir.parent().unwrap().join(format!("filler-{n}"));
        if !p.exists() {
            break p;
        }
        n += 1;
    };
    let mut f = std::fs::File::create(&p).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![7u8; chunk];
        while f.write_all(&buf).is_ok() {}
    }
    let _ = f.flush();
    let st = rustix::fs::statvfs(dir).unwrap();
    assert_eq!(st.f_bavail, 0, "the file system is full");
    p
}

fn stray_temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".ls-") || name.starts_with(".join-") {
                out.push(e.path());
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn a_full_disk_lets_a_new_group_consume_a_writer_open_and_a_topic_be_deleted() {
    let Some(fs) = Tmpfs::mount("48m") else { return };
    let dir = fs.path();
    let mut cfg = config(&dir);
    cfg.set_data_file_max_size(1 << 20);
    let w = Writer::open(&cfg).unwrap();
    for i in 0..2000 {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    w.close().unwrap();

    let filler = fill(&dir);

    // A consumer of a new group starts, consumes and confirms.
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("the new group to consume everything", Duration::from_secs(30), || count(&seen) == 2000);
    r.stop().unwrap();
    // (A reader maps the segments it reads: their space is freed once no
    // reader holds them.)
    drop(r);
    let mut expected = std::collections::BTreeMap::new();
    expected.insert("t".to_owned(), 2000);
    assert_dense(&seen, &expected);

    // A writer opens (its identity file is replaced).
    let w = Writer::open(&cfg).unwrap();
    // A new segment cannot be made: the error says what and how much, and
    // nothing half-made stays.
    // (Slices of the reserve were given back: fill them too.)
    let filler2 = fill(&dir);
    match w.write("t", b"x") {
        Err(e @ Error::NoSpace { .. }) => {
            assert!(e.to_string().contains("more bytes needed"), "the error names the bytes: {e}");
            assert!(!e.to_string().contains(" 0 more bytes"), "{e}");
        }
        other => panic!("a write on a full disk: {other:?}"),
    }
    assert_eq!(stray_temporaries(&dir), Vec::<PathBuf>::new(), "no temporary file after a failed write");
    // The consumed topic is deleted, which frees its space.
    w.delete_topic("t", DeleteMode::IfConsumed).unwrap();
    let freed = rustix::fs::statvfs(&dir).unwrap().f_bavail;
    w.close().unwrap();
    let after_close = rustix::fs::statvfs(&dir).unwrap().f_bavail;
    assert!(freed > 0, "deleting the topic freed space (after close: {after_close})");

    std::fs::remove_file(filler).unwrap();
    std::fs::remove_file(filler2).unwrap();
    let w = Writer::open(&cfg).unwrap();
    assert_eq!(w.write("t", b"again").unwrap(), 2000, "the deleted topic's numbering is kept");
    w.close().unwrap();
    assert_eq!(stray_temporaries(&dir), Vec::<PathBuf>::new(), "no temporary file survives the next open");
}

#[test]
fn a_reader_of_an_existing_group_confirms_on_a_full_disk() {
    let Some(fs) = Tmpfs::mount("48m") else { return };
    let dir = fs.path();
    let mut cfg = config(&dir);
    cfg.set_data_file_max_size(1 << 20);
    let w = Writer::open(&cfg).unwrap();
    for i in 0..500 {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("the group to consume the first 500", Duration::from_secs(30), || count(&seen) == 500);
    r.stop().unwrap();
    for i in 500..3000 {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    w.close().unwrap();

    let _filler = fill(&dir);
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("the group to consume the rest", Duration::from_secs(30), || count(&seen) == 2500);
    r.stop().unwrap();
    // The confirmed position was persisted: a restart delivers nothing again.
    let (r, seen) = collecting_reader(&cfg, "g");
    let w = Writer::open(&cfg).unwrap();
    let _ = w.delete_topic("t", DeleteMode::IfConsumed).unwrap();
    r.stop().unwrap();
    assert_eq!(count(&seen), 0, "positions were persisted on the full disk");
    w.close().unwrap();
}

#[test]
fn retention_frees_space_on_a_full_disk() {
    let Some(fs) = Tmpfs::mount("48m") else { return };
    let dir = fs.path();
    let mut cfg = config(&dir);
    cfg.set_data_file_max_size(256 << 10);
    let w = Writer::open(&cfg).unwrap();
    for i in 0..40_000 {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    w.close().unwrap();

    let _filler = fill(&dir);
    cfg.set_retention_max_bytes(Some(1 << 20));
    let w = Writer::open(&cfg).unwrap();
    wait_for("retention to delete the oldest segments", Duration::from_secs(30), || {
        w.topics().unwrap().iter().any(|t| t.topic == "t" && t.first_seq > 0)
    });
    let first = w.topics().unwrap().into_iter().find(|t| t.topic == "t").unwrap().first_seq;
    w.close().unwrap();
    // The deleted range was noted for the groups (on the full disk too).
    let dropped = std::fs::read_to_string(dir.join("topics/t/DROPPED")).unwrap();
    assert!(dropped.contains("\"from\":0"), "the first deleted range is noted: {dropped}");
    assert_eq!(read_all(&cfg, "t").first().map(|r| r.0), Some(first));
}
