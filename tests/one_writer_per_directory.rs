//! A second writer on a directory is refused, in this process and in another;
//! reopening after close or crash continues the sequence numbers.
mod common;

use common::*;

const DIR: &str = "LOGSTREAM_TEST_DIR";

#[test]
fn child_tries_to_open() {
    let Ok(dir) = std::env::var(DIR) else { return };
    match logstream::Writer::open(&config(std::path::Path::new(&dir))) {
        Err(logstream::Error::Locked { holder, .. }) => child_say(&format!("locked {holder:?}")),
        Err(e) => child_say(&format!("error {e}")),
        Ok(_) => child_say("opened"),
    }
}

#[test]
fn a_second_writer_on_the_same_directory_is_refused_with_locked_saying_where_the_first_is() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    match logstream::Writer::open(&cfg) {
        Err(e @ logstream::Error::Locked { this_process: true, .. }) => {
            let text = e.to_string();
            assert!(text.contains("already open in this process") && !text.contains("another"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    let mut child = spawn_child("child_tries_to_open", &[(DIR, dir.path().display().to_string())]);
    let lines: Vec<String> = child_lines(&mut child).collect();
    child.wait().unwrap();
    assert_eq!(lines, vec![format!("locked Some({})", std::process::id())]);
    w.close().unwrap();
    let w2 = logstream::Writer::open(&cfg).unwrap();
    w2.close().unwrap();
}

#[test]
fn dropping_the_last_clone_closes_the_writer_and_releases_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    let w2 = w.clone();
    w.write("t", b"a").unwrap();
    drop(w);
    assert!(matches!(logstream::Writer::open(&cfg), Err(logstream::Error::Locked { .. })), "a clone still lives");
    w2.write("t", b"b").unwrap();
    drop(w2);
    let w3 = logstream::Writer::open(&cfg).unwrap();
    assert!(w3.recovery_report().is_clean(), "{:?}", w3.recovery_report());
    assert_eq!(w3.write("t", b"c").unwrap(), 2);
}

#[test]
fn reopening_continues_the_sequence_numbers_of_every_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    for round in 0..4u64 {
        let w = logstream::Writer::open(&cfg).unwrap();
        for t in ["a", "b"] {
            for i in 0..10 {
                assert_eq!(w.write(t, b"x").unwrap(), round * 10 + i);
            }
        }
        assert_eq!(w.session(), round + 1);
        w.close().unwrap();
        assert!(matches!(w.write("a", b"late"), Err(logstream::Error::Closed)));
        assert!(matches!(w.flush(), Err(logstream::Error::Closed)));
        w.close().unwrap(); // closing twice is fine
    }
    assert_eq!(read_all(&cfg, "a").len(), 40);
}
