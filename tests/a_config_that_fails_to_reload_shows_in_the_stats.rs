//! A config file that no longer parses when it changes is not only a log
//! line: the reader counts the failure and keeps the error in its stats
//! (and the metrics), so it is visible with no logger installed; the lists
//! in force stay.
mod common;

use std::time::Duration;

use common::*;

/// Replaces the file at once, as editors and config management do.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_config_that_fails_to_parse_on_reload_is_counted_and_its_error_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("meta.json");
    replace(&file, "{\"base_dir\": \"log\", \"black_topics\": [\"noisy\"]}");
    let cfg = logstream::Config::from_file(&file).unwrap();
    let w = logstream::Writer::open(&cfg).unwrap();
    let reader = logstream::Reader::builder(&cfg)
        .start(|_: &logstream::Batch| -> Result<(), std::io::Error> { Ok(()) })
        .unwrap();
    assert_eq!((reader.stats().config_reload_failures, reader.stats().last_config_error), (0, None));
    replace(&file, "{\"base_dir\": \"log\", \"black_topics\": [\"noisy\"");
    wait_for("the failed reload to be counted", Duration::from_secs(30), || reader.stats().config_reload_failures >= 1);
    let err = reader.stats().last_config_error.expect("the error is kept");
    assert!(err.contains("meta.json") && err.contains("line 1"), "{err}");
    // Fixed again: the error is gone, the count stays.
    replace(&file, "{\"base_dir\": \"log\", \"black_topics\": []}");
    wait_for("the good reload", Duration::from_secs(30), || reader.stats().config_reloads >= 1);
    let s = reader.stats();
    assert!(s.config_reload_failures >= 1 && s.last_config_error.is_none(), "{s:?}");
    reader.stop().unwrap();
    w.close().unwrap();
}
