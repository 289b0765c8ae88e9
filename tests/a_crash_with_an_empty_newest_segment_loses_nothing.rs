//! A writer killed while its newest segment is empty (an age roll left it so)
//! must not lose what the next session writes: recovery seals the empty
//! segment, the next session's first segment takes its name, and nothing may
//! then act on "the old segment" by path (issue 21, item 1).
mod common;

use std::time::Duration;

use common::*;

const DIR: &str = "LOGSTREAM_TEST_DIR";
const COMPRESS: &str = "LOGSTREAM_TEST_COMPRESS";

fn cfg_for(dir: &std::path::Path, compress: bool) -> logstream::Config {
    let mut cfg = config(dir);
    cfg.set_segment_max_age_ms(50);
    if compress {
        cfg.set_compress_topics(vec!["t".to_owned()]);
    }
    cfg
}

fn dat_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("topics").join("t"))
        .map(|rd| rd.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "dat")).count())
        .unwrap_or(0)
}

/// Child role: writes 5 records, waits until the age roll has started an
/// empty segment after them, says so and waits to be killed.
#[test]
fn child_writer_left_with_an_empty_segment() {
    let Ok(dir) = std::env::var(DIR) else { return };
    let dir = std::path::PathBuf::from(dir);
    let cfg = cfg_for(&dir, std::env::var(COMPRESS).is_ok());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..5u64 {
        assert_eq!(w.write("t", &payload("t", i)).unwrap(), i);
    }
    w.flush().unwrap();
    wait_for("the age roll to start an empty segment", Duration::from_secs(30), || dat_files(&dir) >= 2);
    child_say("rolled");
    loop {
        std::thread::park();
    }
}

fn run(compress: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![(DIR, dir.path().display().to_string())];
    if compress {
        env.push((COMPRESS, "1".into()));
    }
    let mut child = spawn_child("child_writer_left_with_an_empty_segment", &env);
    let mut lines = child_lines(&mut child);
    assert_eq!(lines.next().as_deref(), Some("rolled"), "the child did not reach the empty segment");
    child.kill().unwrap();
    child.wait().unwrap();

    let cfg = cfg_for(dir.path(), compress);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 5..305u64 {
        let mut data = payload("t", i);
        data.resize(150, b'.');
        assert_eq!(w.write("t", &data).unwrap(), i);
    }
    w.flush().unwrap();
    w.wait_compressed().unwrap();
    w.close().unwrap();

    let got = read_all(&cfg, "t");
    assert_eq!(got.len(), 305, "records read back after the second session");
    for (i, (seq, data)) in got.iter().enumerate() {
        assert_eq!(*seq, i as u64);
        let mut want = payload("t", *seq);
        if *seq >= 5 {
            want.resize(150, b'.');
        }
        assert_eq!(data, &want, "contents of seq {seq}");
    }
    let report = logstream::verify(&cfg).unwrap();
    assert!(report.is_clean(), "verify found damage: {report:?}");
}

#[test]
fn a_writer_killed_with_an_empty_newest_segment_loses_nothing_the_next_session_writes() {
    run(false);
}

#[test]
fn a_compressed_topic_killed_with_an_empty_newest_segment_loses_nothing_the_next_session_writes() {
    run(true);
}
