//! `logstream write TOPIC`: each line of standard input or a file becomes one
//! record, and the command says how many it wrote.
mod common;

use common::*;

#[test]
fn write_appends_each_line_of_standard_input_as_one_record() {
    let log = Log::empty();
    log.cmd()
        .args(["write", "login"])
        .write_stdin("alice\nbob\r\n\ncarol")
        .assert()
        .success()
        .stdout("wrote 4 records to topic \"login\" (seq 0..3)\n");
    let data: Vec<Vec<u8>> = log.records("login").into_iter().map(|(_, d)| d).collect();
    assert_eq!(data, [&b"alice"[..], b"bob", b"", b"carol"], "line endings are dropped, empty lines kept");
}

#[test]
fn write_continues_the_sequence_and_reads_a_file_with_json_output() {
    let log = Log::with(&[("login", &["alice"])]);
    let file = log.tmp.path().join("lines.txt");
    std::fs::write(&file, "bob\ncarol\n").expect("write input file");
    let v = json_of(&log.cmd().args(["--json", "write", "login", "--file"]).arg(&file).assert().success());
    assert_eq!(v, serde_json::json!({"topic": "login", "written": 2, "first_seq": 1, "next_seq": 3}));
    assert_eq!(log.records("login").len(), 3);
}

#[test]
fn write_while_another_writer_holds_the_log_exits_with_code_4() {
    let log = Log::with(&[("login", &["alice"])]);
    let w = log.writer();
    let a = log.cmd().args(["write", "login"]).write_stdin("bob\n").assert().code(4);
    let err = assert_one_line_error(&a);
    assert!(err.contains("locked by another writer"), "{err}");
    w.close().expect("close");
    assert_eq!(log.records("login").len(), 1);
}

#[test]
fn write_of_an_invalid_topic_name_is_refused_before_the_log_is_opened() {
    let log = Log::empty();
    let a = log.cmd().args(["write", "a/b"]).write_stdin("x\n").assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("invalid topic name \"a/b\""), "{err}");
    assert!(!log.dir().exists(), "nothing is created for a bad name");
}

#[test]
fn write_of_a_missing_input_file_names_the_file() {
    let log = Log::empty();
    let a = log.cmd().args(["write", "t", "--file", "/nonexistent/lines.txt"]).assert().code(1);
    let err = assert_one_line_error(&a);
    assert!(err.contains("/nonexistent/lines.txt"), "{err}");
    assert!(!log.dir().exists(), "nothing is created when the input is missing");
}
