//! Bad config files and bad topic names give the documented errors, never a
//! panic, and write nothing.
mod common;

use logstream::{Config, Error};

#[test]
fn bad_topic_names_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let w = logstream::Writer::open(&common::config(dir.path())).unwrap();
    for bad in ["", ".", "..", "../etc", "a/b", "a\\b", "nul\0byte", "line\nbreak", &"x".repeat(201)] {
        match w.write(bad, b"x") {
            Err(Error::InvalidTopic { name, reason }) => {
                assert_eq!(name, bad);
                assert!(!reason.is_empty());
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // Nothing escaped the directory or was created for them.
    let topics: Vec<_> = std::fs::read_dir(dir.path().join("topics")).unwrap().collect();
    assert!(topics.is_empty());
    assert!(!dir.path().parent().unwrap().join("etc").join("00000000000000000000.dat").exists());
    // Unicode and dots inside names are fine.
    for good in ["事件", "a.b", "..hidden", "ünïcødé 🎮"] {
        w.write(good, b"ok").unwrap();
    }
}

#[test]
fn bad_group_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path());
    let r = logstream::Reader::builder(&cfg).group("../x").start(|_: &logstream::Batch| Ok::<(), std::io::Error>(()));
    assert!(matches!(r, Err(Error::InvalidGroup { .. })), "{r:?}");
}

#[test]
fn bad_config_files_name_the_file_the_key_and_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.json");
    let cases: &[(&str, &str)] = &[
        ("{\"base_dir\": \"/x\", \"mem_max_size\": \"12Q\"}", "mem_max_size"),
        ("{\"base_dir\": \"/x\", \"max_concurrent_forward\": 0}", "max_concurrent_forward"),
        ("{\"base_dir\": \"/x\", \"black_topics\": [1]}", "black_topics"),
        ("{\"base_dir\": \"/x\", \"idx_file_max_item_num\": \"many\"}", "idx_file_max_item_num"),
        ("{\"base_dir\": \"/x\", \"unknown\": true}", "unknown"),
        ("{\"base_dir\": 5}", "base_dir"),
        ("[]", "(top level)"),
    ];
    for (text, key) in cases {
        std::fs::write(&path, text).unwrap();
        match Config::from_file(&path) {
            Err(e @ Error::Config { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                assert!(msg.contains(key), "{msg}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    for text in ["", "{", "{\"base_dir\": \"/x\",,}", "// just a comment", "\u{feff}{}"] {
        std::fs::write(&path, text).unwrap();
        match Config::from_file(&path) {
            Err(Error::ConfigSyntax { path: p, line, .. }) => {
                assert_eq!(p, path);
                assert!(line >= 1);
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    match Config::from_file(dir.path().join("missing.json")) {
        Err(e @ Error::Io { .. }) => assert!(e.to_string().contains("missing.json"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn config_load_reads_the_file_named_by_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf.json");
    std::fs::write(&path, "{\"base_dir\": \"data\", \"flush_interval_ms\": 7}").unwrap();
    // SAFETY: set_var: this test binary runs no other test that reads the variable.
    unsafe { std::env::set_var(logstream::CONFIG_ENV, &path) };
    let cfg = Config::load().unwrap();
    // SAFETY: as above, no other test of this binary reads the variable.
    unsafe { std::env::remove_var(logstream::CONFIG_ENV) };
    assert_eq!(cfg.base_dir(), dir.path().join("data"));
    assert_eq!(cfg.flush_interval(), std::time::Duration::from_millis(7));
}

#[test]
fn records_over_max_record_bytes_are_refused_and_empty_records_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path());
    cfg.set_max_record_bytes(1000);
    let w = logstream::Writer::open(&cfg).unwrap();
    assert_eq!(w.write("t", &[]).unwrap(), 0);
    assert_eq!(w.write("t", &[7; 1000]).unwrap(), 1);
    match w.write("t", &[7; 1001]) {
        Err(Error::RecordTooLarge { topic, len: 1001, max: 1000 }) => assert_eq!(topic, "t"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.write("t", b"after").unwrap(), 2, "a refused record takes no sequence number");
    let recs = common::read_all(&cfg, "t");
    assert_eq!(recs, vec![(0, vec![]), (1, vec![7; 1000]), (2, b"after".to_vec())]);
}
