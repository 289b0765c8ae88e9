//! `logstream stat`: a table of topics by default, JSON with `--json`.
mod common;

use common::*;

#[test]
fn stat_prints_a_table_of_every_topic_with_its_records_segments_and_disk_use() {
    let billing = numbered("billing", 25);
    let billing: Vec<&str> = billing.iter().map(String::as_str).collect();
    let log = Log::with(&[("login", &["alice", "bob", "carol"]), ("billing", &billing)]);
    let out = stdout_of(&log.cmd().arg("stat").assert().success());
    let lines: Vec<&str> = out.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["TOPIC", "FIRST", "NEXT", "RECORDS", "SEGMENTS", "DISK", "OLDEST", "NEWEST"]);
    let billing_row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(billing_row[..5], ["billing", "0", "25", "25", "3"], "{out}");
    let login_row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(login_row[..5], ["login", "0", "3", "3", "1"], "{out}");
    assert!(login_row[5..7].iter().all(|s| !s.is_empty()), "a disk size with its unit: {out}");
    assert!(login_row[7].ends_with('Z') && login_row[8].ends_with('Z'), "times in UTC: {out}");
    assert!(out.contains("2 topics, 28 records in 4 segments; disk use "), "{out}");
}

#[test]
fn stat_json_gives_sequence_numbers_times_and_bytes_of_each_topic() {
    let log = Log::with(&[("login", &["alice", "bob"])]);
    let v = json_of(&log.cmd().args(["stat", "--json"]).assert().success());
    let t = &v["topics"][0];
    assert_eq!(t["topic"], "login");
    assert_eq!((t["first_seq"].as_u64(), t["next_seq"].as_u64(), t["records"].as_u64()), (Some(0), Some(2), Some(2)));
    assert_eq!(t["segments"], 1);
    assert!(t["disk_bytes"].as_u64().is_some_and(|b| b > 0), "{v}");
    let oldest = t["oldest_time_ns"].as_u64().expect("oldest time");
    assert!(t["newest_time_ns"].as_u64().is_some_and(|n| n >= oldest), "{v}");
    assert!(t["oldest_time"].as_str().is_some_and(|s| s.ends_with('Z')), "{v}");
    assert_eq!(v["total"]["records"], 2);
    assert!(v["total"]["dir_disk_bytes"].as_u64() >= t["disk_bytes"].as_u64(), "{v}");
    assert_eq!(v["dir"].as_str(), log.dir().to_str());
}

#[test]
fn stat_of_a_log_without_topics_says_so() {
    let log = Log::empty();
    log.writer().close().expect("close");
    log.cmd().arg("stat").assert().success().stdout(predicates::str::starts_with("no topics in "));
    let v = json_of(&log.cmd().args(["--json", "stat"]).assert().success());
    assert_eq!(v["topics"], serde_json::json!([]));
}

#[test]
fn the_config_option_finds_the_log_through_the_files_base_dir() {
    let log = Log::with(&[("login", &["alice"])]);
    let file = log.config_file();
    let v = json_of(&logstream().arg("--config").arg(&file).args(["stat", "--json"]).assert().success());
    assert_eq!(v["topics"][0]["topic"], "login");
}

#[test]
fn the_config_file_named_by_the_environment_is_used_without_options() {
    let log = Log::with(&[("login", &["alice"])]);
    let file = log.config_file();
    let v = json_of(&logstream().env(logstream::CONFIG_ENV, &file).args(["stat", "--json"]).assert().success());
    assert_eq!(v["topics"][0]["topic"], "login");
}
