//! After `fork()`, the child shares the parent's mappings, lock and file
//! descriptors but not its threads: every use of the parent's `Writer` there
//! must answer `Error::Forked` or do nothing — no panic joining threads that do
//! not exist, no seal frames stored into the parent's live segments, no
//! release of the parent's lock (issue 21, item 4).
mod common;

use std::time::{Duration, Instant};

use common::*;

/// What the child does with the parent's writer; its exit code says how it
/// went (0: every call answered as promised).
fn in_child(w: logstream::Writer) -> i32 {
    let forked = |r: logstream::Result<()>| matches!(r, Err(logstream::Error::Forked { .. }));
    let checks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut bad = 0;
        bad += i32::from(!forked(w.write("t", b"from the child").map(|_| ())));
        bad += i32::from(!forked(w.write_batch("t", &[b"a", b"b"]).map(|_| ())));
        bad += i32::from(!forked(w.flush()));
        bad += i32::from(!forked(w.stop()));
        bad += i32::from(!forked(w.resume()));
        bad += i32::from(!forked(w.delete_topic("t", logstream::DeleteMode::Force).map(|_| ())));
        let clone = w.clone();
        bad += i32::from(!forked(clone.close()));
        drop(clone);
        bad += i32::from(!forked(w.close()));
        drop(w);
        bad
    }));
    match checks {
        Ok(0) => 0,
        Ok(_) => 1,
        Err(_) => 2,
    }
}

#[test]
fn a_forked_child_that_uses_closes_and_drops_the_parents_writer_leaves_the_parents_log_intact() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..100u64 {
        assert_eq!(w.write("t", &payload("t", i)).unwrap(), i);
    }
    // SAFETY: the child only calls the writer's methods, which return at
    // once in a forked process (no lock is taken), then leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = in_child(w.clone());
        // SAFETY: ends the child without running the parent's destructors
        // or atexit handlers a second time.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let mut status = 0;
        // SAFETY: waits for the child forked above, without blocking.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break status;
        }
        assert!(Instant::now() < deadline, "the forked child hung");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(libc::WIFEXITED(status), "the forked child did not exit normally (status {status})");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "in the child: 1 = a call did not answer Error::Forked, 2 = a call panicked"
    );

    // The parent's writer goes on as if nothing happened; its lock still holds.
    assert!(matches!(logstream::Writer::open(&cfg), Err(logstream::Error::Locked { .. })));
    for i in 100..200u64 {
        assert_eq!(w.write("t", &payload("t", i)).unwrap(), i);
    }
    w.close().unwrap();
    let got = read_all(&cfg, "t");
    assert_eq!(got.len(), 200);
    for (seq, data) in &got {
        assert_eq!(data, &payload("t", *seq), "contents of seq {seq}");
    }
    assert!(logstream::verify(&cfg).unwrap().is_clean());
}
