//! Black-listing a topic at runtime stops its delivery; un-black-listing it
//! resumes from its last confirmed record, losing nothing.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;

fn write_config(path: &std::path::Path, base: &std::path::Path, black: &[&str]) {
    let list: Vec<String> = black.iter().map(|t| format!("\"{t}\"")).collect();
    let text = format!(
        "{{\n  // test config\n  \"base_dir\": {:?},\n  \"flush_interval_ms\": 10,\n  \"poll_interval_ms\": 200,\n  \"black_topics\": [{}]\n}}\n",
        base,
        list.join(", ")
    );
    // Replace atomically, as editors and deploy tools do.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn black_listing_then_unblack_listing_a_topic_at_runtime_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("log");
    let cfg_path = dir.path().join("meta.json");
    write_config(&cfg_path, &base, &[]);
    let cfg = logstream::Config::from_file(&cfg_path).unwrap();
    let w = logstream::Writer::open(&cfg).unwrap();
    let (reader, seen) = collecting_reader(&cfg, "g");
    for i in 0..100 {
        w.write("a", &payload("a", i)).unwrap();
        w.write("b", &payload("b", i)).unwrap();
    }
    wait_for("the first 200", Duration::from_secs(20), || count(&seen) == 200);

    write_config(&cfg_path, &base, &["b"]);
    wait_for("the reload", Duration::from_secs(20), || reader.stats().config_reloads == 1);
    for i in 100..200 {
        w.write("b", &payload("b", i)).unwrap();
        w.write("a", &payload("a", i)).unwrap();
    }
    wait_for("a's records", Duration::from_secs(20), || seen.lock().unwrap()["a"].len() == 200);
    assert_eq!(seen.lock().unwrap()["b"].len(), 100, "b is black-listed: nothing after the reload");

    write_config(&cfg_path, &base, &[]);
    wait_for("b's records after un-black-listing", Duration::from_secs(20), || seen.lock().unwrap()["b"].len() >= 200);
    reader.stop().unwrap();
    assert_eq!(reader.stats().config_reloads, 2);
    assert_dense(&seen, &BTreeMap::from([("a".to_owned(), 200), ("b".to_owned(), 200)]));
}

#[test]
fn a_broken_config_edit_keeps_the_current_lists() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("log");
    let cfg_path = dir.path().join("meta.json");
    write_config(&cfg_path, &base, &["b"]);
    let cfg = logstream::Config::from_file(&cfg_path).unwrap();
    let w = logstream::Writer::open(&cfg).unwrap();
    let (reader, seen) = collecting_reader(&cfg, "g");
    std::fs::write(&cfg_path, "{ \"base_dir\": ").unwrap();
    write_config(&cfg_path, &base, &["b", "c"]);
    wait_for("the valid edit", Duration::from_secs(20), || reader.stats().config_reloads == 1);
    w.write("b", b"x").unwrap();
    w.write("a", b"y").unwrap();
    wait_for("a", Duration::from_secs(20), || count(&seen) == 1);
    reader.stop().unwrap();
    assert!(!seen.lock().unwrap().contains_key("b"));
}
