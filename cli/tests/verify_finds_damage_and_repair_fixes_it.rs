//! `logstream verify`: a clean log exits 0, a flipped bit in a sealed
//! segment is found (exit 3), and `--repair` cuts a torn tail after saying
//! it would.
mod common;

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use common::*;
use logstream::format::frame::{Frame, decode_bytes};
use logstream::format::segment::DATA_START;

fn log_of(n: usize) -> Log {
    let recs: Vec<String> = (0..n).map(|i| format!("record-{i:04}-payload")).collect();
    Log::with(&[("t", &recs.iter().map(String::as_str).collect::<Vec<_>>())])
}

/// Flips one bit in the payload of `needle`, found in `file`.
fn flip_bit_in(file: &Path, needle: &[u8]) {
    let bytes = std::fs::read(file).expect("read segment");
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the payload is in the file");
    let f = std::fs::OpenOptions::new().write(true).open(file).expect("open segment");
    f.write_all_at(&[bytes[at + 3] ^ 0x04], (at + 3) as u64).expect("flip a bit");
}

#[test]
fn verify_of_a_clean_log_says_clean_and_exits_0() {
    let log = log_of(25);
    let out = stdout_of(&log.cmd().arg("verify").assert().code(0));
    assert!(out.starts_with("TOPIC  SEGMENTS  RECORDS  NEXT  STATUS\nt             3       25    25  ok\n"), "{out}");
    assert!(out.ends_with("clean: 1 topic, 3 segments, 25 records, 0 groups\n"), "{out}");
}

#[test]
fn verify_finds_a_flipped_bit_in_a_sealed_segment_and_exits_3() {
    let log = log_of(25);
    flip_bit_in(&log.segment("t", 0), b"record-0003-payload");
    let out = stdout_of(&log.cmd().arg("verify").assert().code(3));
    assert!(out.contains("t             3       24    25  1 damaged span, 1 record lost"), "{out}");
    assert!(out.contains("t/00000000000000000000.dat: bytes "), "{out}");
    assert!(out.contains("damaged: 1 record lost from seq 3"), "{out}");
    assert!(out.ends_with("DAMAGED: 1 record lost; checked 1 topic, 3 segments, 24 records, 0 groups\n"), "{out}");

    let v = json_of(&log.cmd().args(["verify", "--json"]).assert().code(3));
    assert_eq!((v["clean"].as_bool(), v["records_lost"].as_u64()), (Some(false), Some(1)));
    let seg = &v["topics"][0]["segments"][0];
    assert_eq!(seg["sealed"], true);
    assert_eq!(seg["damage"][0]["first_seq"], 3);
    assert_eq!(seg["damage"][0]["skipped"], 1);
    assert!(v["topics"][0]["segments"][1]["damage"].as_array().is_some_and(Vec::is_empty));
}

#[test]
fn damage_that_no_repair_can_undo_keeps_exit_code_3_and_changes_nothing() {
    let log = log_of(25);
    flip_bit_in(&log.segment("t", 10), b"record-0012-payload");
    let before = std::fs::read(log.segment("t", 10)).expect("read segment");
    let out = stdout_of(&log.cmd().args(["verify", "--repair", "--yes"]).assert().code(3));
    assert!(
        out.contains("nothing to repair\ncannot be repaired:\n  t/00000000000000000010.dat: 1 damaged record"),
        "{out}"
    );
    assert_eq!(std::fs::read(log.segment("t", 10)).expect("read segment"), before);
}

/// A log whose writer was killed (SIGKILL) after `n` records of topic `t`,
/// then garbage written after its last record: a torn tail.
fn torn_log(n: usize) -> (Log, u64) {
    let log = Log::empty();
    let file = log.config_file();
    let mut child = spawn(&[OsStr::new("--config"), file.as_os_str(), OsStr::new("write"), OsStr::new("t")]);
    let mut stdin = child.stdin.take().expect("stdin");
    for i in 0..n {
        writeln!(stdin, "record-{i:04}-payload").expect("feed the writer");
    }
    stdin.flush().expect("flush");
    wait_for("the writer to write every line", || {
        logstream::topics(&log.cfg).is_ok_and(|t| t.first().is_some_and(|t| t.next_seq == n as u64))
    });
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
    drop(stdin);
    let seg = log.segment("t", (n as u64 - 1) / RECORDS_PER_SEGMENT * RECORDS_PER_SEGMENT);
    let bytes = std::fs::read(&seg).expect("read segment");
    let mut end = DATA_START as usize;
    while let Ok(Frame::Record { len, .. }) = decode_bytes(&bytes[end..]) {
        end += len;
    }
    let garbage: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1).collect();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).expect("open segment");
    f.write_all_at(&garbage, end as u64).expect("write a torn tail");
    (log, end as u64)
}

#[test]
fn a_torn_tail_is_reported_but_is_not_damage() {
    let (log, end) = torn_log(15);
    let out = stdout_of(&log.cmd().arg("verify").assert().code(0));
    assert!(out.contains("torn tail (cut when a writer opens)"), "{out}");
    assert!(out.contains(&format!("t/00000000000000000010.dat: torn tail at byte {end}, after seq 14")), "{out}");
}

#[test]
fn verify_repair_yes_cuts_a_torn_tail_after_saying_it_will() {
    let (log, end) = torn_log(15);
    let out = stdout_of(&log.cmd().args(["verify", "--repair", "--yes"]).assert().code(0));
    let plan = format!("--repair will:\n  cut t/00000000000000000010.dat at byte {end}, after seq 14, and seal it\n");
    assert!(out.contains(&plan), "{out}");
    assert!(out.contains(&format!("repaired:\n  cut t/00000000000000000010.dat at byte {end}")), "{out}");
    assert!(out.ends_with("after the repair: clean: 1 topic, 2 segments, 15 records, 0 groups\n"), "{out}");

    let again = stdout_of(&log.cmd().arg("verify").assert().code(0));
    assert!(!again.contains("torn"), "{again}");
    let seqs: Vec<u64> = log.records("t").into_iter().map(|(s, _)| s).collect();
    assert_eq!(seqs, (0..15).collect::<Vec<_>>());
}

#[test]
fn verify_repair_asks_first_and_a_no_changes_nothing() {
    let (log, end) = torn_log(5);
    let seg = log.segment("t", 0);
    let before = std::fs::read(&seg).expect("read segment");
    let a = log.cmd().args(["verify", "--repair"]).write_stdin("n\n").assert().code(0);
    let out = stdout_of(&a);
    assert!(out.contains(&format!("cut t/00000000000000000000.dat at byte {end}")), "{out}");
    assert!(out.ends_with("nothing changed\n"), "{out}");
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert_eq!(err, format!("repair {}? [y/N] n\n", log.dir().display()), "the question goes to stderr");
    assert_eq!(std::fs::read(&seg).expect("read segment"), before, "nothing changed");

    log.cmd().args(["verify", "--repair"]).write_stdin("y\n").assert().code(0);
    assert!(!stdout_of(&log.cmd().arg("verify").assert().code(0)).contains("torn"));
}

#[test]
fn verify_repair_json_gives_the_plan_the_changes_and_the_report_after() {
    let (log, end) = torn_log(5);
    let v = json_of(&log.cmd().args(["--json", "verify", "--repair", "--yes"]).assert().code(0));
    assert_eq!(v["applied"], true);
    assert_eq!(v["before"]["topics"][0]["segments"][0]["torn_tail_at"], end);
    assert!(v["plan"][0].as_str().is_some_and(|p| p.starts_with("cut t/00000000000000000000.dat")), "{v}");
    assert_eq!(v["changes"]["recovery"][0]["cut"]["offset"], end);
    assert_eq!(v["after"]["clean"], true);
    assert!(v["after"]["topics"][0]["segments"][0]["torn_tail_at"].is_null());
}

#[test]
fn verify_repair_while_a_writer_runs_exits_with_code_4() {
    let log = log_of(5);
    let w = log.writer();
    w.write("t", b"one more").expect("write");
    let a = log.cmd().args(["verify", "--repair", "--yes"]).assert().code(4);
    let err = assert_one_line_error(&a);
    assert!(err.contains("locked by another writer"), "{err}");
    w.close().expect("close");
}
