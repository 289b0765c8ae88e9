//! A failed sync poisons the writer: write() and flush() fail from then on
//! and it never reports success after the failure. A full disk makes write()
//! return NoSpace without losing anything; once space is back, writing
//! continues where it stopped.
mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use logstream::testing::{Faults, add_hook, remove_hook};

#[test]
fn a_failed_sync_poisons_the_writer_and_every_later_call_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let faults = Arc::new(Faults::new());
    add_hook(dir.path(), faults.clone());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..100 {
        w.write("t", &payload("t", i)).unwrap();
    }
    w.flush().unwrap();
    w.write("t", &payload("t", 100)).unwrap();
    faults.syncs_left.store(0, Ordering::SeqCst); // the disk starts failing
    match w.flush() {
        Err(e @ logstream::Error::Poisoned { .. }) => assert!(e.to_string().contains("Input/output error"), "{e}"),
        other => panic!("flush after EIO returned {other:?}"),
    }
    faults.syncs_left.store(u64::MAX, Ordering::SeqCst); // the disk "recovers"...
    assert!(matches!(w.flush(), Err(logstream::Error::Poisoned { .. })), "no retry reported as success");
    match w.write("t", b"x") {
        // The poison keeps the OS error itself, not only its text.
        Err(logstream::Error::Poisoned { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::EIO), "{source}")
        }
        other => panic!("write after EIO returned {other:?}"),
    }
    assert!(matches!(w.close(), Err(logstream::Error::Poisoned { .. })));
    remove_hook(dir.path());
    // A new writer recovers what the page cache holds and continues.
    let w = logstream::Writer::open(&cfg).unwrap();
    assert_eq!(w.write("t", b"after").unwrap(), 101);
    w.close().unwrap();
    let recs = read_all(&cfg, "t");
    assert_eq!(recs.len(), 102);
    for (s, d) in &recs[..101] {
        assert_eq!(d, &payload("t", *s));
    }
}

#[test]
fn a_full_disk_fails_writes_with_no_space_and_writing_resumes_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_data_file_max_size(256 * 1024);
    let faults = Arc::new(Faults::new());
    add_hook(dir.path(), faults.clone());
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("t", b"first").unwrap();
    faults.disk_full.store(true, Ordering::SeqCst);
    let mut ok = 1u64;
    let err = loop {
        match w.write("t", &[1u8; 1000]) {
            Ok(s) => {
                assert_eq!(s, ok);
                ok += 1;
            }
            Err(e) => break e,
        }
        assert!(ok < 10_000, "writes never hit the full disk");
    };
    assert!(err.is_no_space(), "{err}");
    assert!(err.to_string().contains("no space"), "{err}");
    // A refused record takes no sequence number; more refusals are fine.
    assert!(w.write("t", &[1u8; 1000]).unwrap_err().is_no_space());
    faults.disk_full.store(false, Ordering::SeqCst);
    assert_eq!(w.write("t", b"after").unwrap(), ok, "the sequence continues with no gap");
    w.close().unwrap();
    remove_hook(dir.path());
    let recs = read_all(&cfg, "t");
    assert_eq!(recs.len() as u64, ok + 1);
    assert_eq!(recs.last().unwrap().1, b"after");
}

/// A real small file system: the process never dies of SIGBUS when it fills.
#[test]
fn filling_a_real_tmpfs_gives_no_space_and_no_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        println!("SKIPPED: cannot mount a tmpfs here (needs root and mount permission)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let ballast = mnt.join("ballast");
    std::fs::write(&ballast, vec![0u8; 1 << 20]).unwrap();
    let log = mnt.join("log");
    let mut cfg = config(&log);
    cfg.set_data_file_max_size(8 << 20);
    let w = logstream::Writer::open(&cfg).unwrap();
    let mut ok = 0u64;
    let err = loop {
        match w.write("t", &[7u8; 4000]) {
            Ok(_) => ok += 1,
            Err(e) => break e,
        }
        assert!(ok < 100_000);
    };
    assert!(err.is_no_space(), "{err}");
    assert!(ok > 100, "only {ok} records fit");
    // Free space; a new writer continues after the last accepted record.
    let _ = w.close();
    drop(w);
    std::fs::remove_file(&ballast).unwrap();
    let w = logstream::Writer::open(&cfg).unwrap();
    assert_eq!(w.write("t", b"after").unwrap(), ok);
    w.close().unwrap();
    assert_eq!(read_all(&cfg, "t").len() as u64, ok + 1);
}
