//! stop() flushes and makes writes wait; resume() lets them continue; close()
//! fails them; flush() makes records durable (the watermark moves).
mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;

#[test]
fn writes_wait_while_stopped_and_continue_after_resume() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    assert_eq!(w.write("t", b"before").unwrap(), 0);
    w.stop().unwrap();
    let (tx, rx) = mpsc::channel();
    let w2 = w.clone();
    let h = std::thread::spawn(move || {
        let r = w2.write("t", b"during");
        tx.send(r.map_err(|e| e.to_string())).unwrap();
    });
    // Bounded check that the write has not happened while stopped.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "a write returned while the writer was stopped");
    w.resume().unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), Ok(1));
    h.join().unwrap();
    assert_eq!(w.write("t", b"after").unwrap(), 2);
    w.close().unwrap();
    let recs: Vec<Vec<u8>> = read_all(&cfg, "t").into_iter().map(|r| r.1).collect();
    assert_eq!(recs, vec![b"before".to_vec(), b"during".to_vec(), b"after".to_vec()]);
}

#[test]
fn close_fails_the_writes_waiting_on_a_stopped_writer() {
    let dir = tempfile::tempdir().unwrap();
    let w = logstream::Writer::open(&config(dir.path())).unwrap();
    w.stop().unwrap();
    let w2 = w.clone();
    let h = std::thread::spawn(move || w2.write("t", b"x"));
    // Give the thread a chance to block (if it has not, close() fails it anyway).
    std::thread::sleep(Duration::from_millis(20));
    w.close().unwrap();
    assert!(matches!(h.join().unwrap(), Err(logstream::Error::Closed)));
    assert!(matches!(w.resume(), Err(logstream::Error::Closed)));
}

#[test]
fn flush_returns_after_the_records_are_marked_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_flush_interval_ms(60_000); // only explicit flushes
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..100u64 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let seg = dir.path().join("topics/t/00000000000000000000.dat");
    let durable_next = |p: &std::path::Path| {
        let b = std::fs::read(p).unwrap();
        u64::from_le_bytes(b[72..80].try_into().unwrap())
    };
    assert_eq!(durable_next(&seg), 0, "nothing is marked durable before a flush");
    w.flush().unwrap();
    assert_eq!(durable_next(&seg), 100, "flush() returned: every record before it is durable");
    // A writer used after fork() refuses; in-process clones share the flush.
    let w2 = w.clone();
    w2.write("t", b"x").unwrap();
    w.flush().unwrap();
    assert_eq!(durable_next(&seg), 101);
}
