//! `logstream config check FILE`: the effective configuration as JSON, or
//! the library's error naming the bad key.
mod common;

use common::*;

#[test]
fn config_check_prints_every_key_with_defaults_filled_in_and_sizes_in_bytes() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let file = tmp.path().join("meta.json");
    std::fs::write(&file, "{\n  \"base_dir\": \"data\", // next to the file\n  \"data_file_max_size\": \"64M\",\n}\n")
        .expect("write config");
    let v = json_of(&logstream().args(["config", "check"]).arg(&file).assert().success());
    assert_eq!(v["base_dir"].as_str(), tmp.path().join("data").to_str());
    assert_eq!(v["data_file_max_size"], 64 << 20);
    assert_eq!(v["mem_max_size"], 200 << 20);
    assert_eq!(v["durability"], "async");
    let printed: Vec<&String> = v.as_object().expect("an object").keys().collect();
    for (key, _) in logstream::CONFIG_KEYS {
        let optional =
            matches!(*key, "max_disk_bytes" | "max_topic_bytes" | "retention_max_bytes" | "retention_max_total_bytes");
        assert!(optional || printed.iter().any(|k| k == key), "{key} is printed: {v}");
    }
}

#[test]
fn the_printed_configuration_is_itself_a_valid_config_file() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let file = tmp.path().join("meta.json");
    std::fs::write(&file, r#"{"base_dir": "/srv/log", "full_policy": "error", "max_disk_bytes": "1G"}"#)
        .expect("write config");
    let first = stdout_of(&logstream().args(["config", "check"]).arg(&file).assert().success());
    let again = tmp.path().join("again.json");
    std::fs::write(&again, &first).expect("write printed config");
    let second = stdout_of(&logstream().args(["config", "check"]).arg(&again).assert().success());
    assert_eq!(first, second);
}

#[test]
fn config_check_names_the_bad_key_on_one_line_and_exits_1() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let file = tmp.path().join("meta.json");
    std::fs::write(&file, r#"{"base_dir": "/srv/log", "flush_interval": 5}"#).expect("write config");
    let a = logstream().args(["config", "check"]).arg(&file).assert().code(1).stdout("");
    let err = assert_one_line_error(&a);
    assert!(err.contains("key \"flush_interval\"") && err.contains("did you mean \"flush_interval_ms\"?"), "{err}");
}

#[test]
fn config_check_of_a_file_that_is_not_json_gives_the_line_and_column() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let file = tmp.path().join("meta.json");
    std::fs::write(&file, "{\n  \"base_dir\": \"/srv/log\"\n  \"mem_max_size\": 1\n}\n").expect("write config");
    let a = logstream().args(["config", "check"]).arg(&file).assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("line 3"), "{err}");
}
