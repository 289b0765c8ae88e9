//! A stopped reader persists its positions; a new reader of the same group
//! resumes after the last confirmed record, while another group starts over.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;

#[test]
fn stop_and_restart_resumes_after_the_last_confirmed_record() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..500 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let (r1, seen1) = collecting_reader(&cfg, "g");
    wait_for("first 500", Duration::from_secs(20), || count(&seen1) == 500);
    r1.stop().unwrap();
    drop(r1);
    for i in 500..800 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let (r2, seen2) = collecting_reader(&cfg, "g");
    wait_for("the 300 new records", Duration::from_secs(20), || count(&seen2) == 300);
    let (r3, seen3) = collecting_reader(&cfg, "other");
    wait_for("everything for a new group", Duration::from_secs(20), || count(&seen3) == 800);
    r2.stop().unwrap();
    r3.stop().unwrap();
    let got: Vec<u64> = seen2.lock().unwrap()["t"].iter().map(|r| r.0).collect();
    assert_eq!(got, (500..800).collect::<Vec<_>>(), "resumed exactly after the last confirmed record");
    for (s, d) in &seen2.lock().unwrap()["t"] {
        assert_eq!(d, &payload("t", *s));
    }
    assert_dense(&seen3, &BTreeMap::from([("t".to_owned(), 800)]));
}

#[test]
fn a_second_reader_of_a_group_waits_and_takes_over_when_the_first_stops() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..300 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let (r1, seen1) = collecting_reader(&cfg, "g");
    wait_for("first 300", Duration::from_secs(20), || count(&seen1) == 300);
    // One topic, two members: the first keeps it, the second gets nothing.
    let (r2, seen2) = collecting_reader(&cfg, "g");
    assert_eq!(r2.stats().topics_owned, 0);
    for i in 300..500 {
        w.write("t", &payload("t", i)).unwrap();
    }
    wait_for("the next 200 for the owner", Duration::from_secs(20), || count(&seen1) == 500);
    assert_eq!(r2.stats().topics_owned, 0);
    r1.stop().unwrap();
    for i in 500..600 {
        w.write("t", &payload("t", i)).unwrap();
    }
    wait_for("the second member to deliver the rest", Duration::from_secs(20), || count(&seen2) == 100);
    r2.stop().unwrap();
    let got: Vec<u64> = seen2.lock().unwrap()["t"].iter().map(|r| r.0).collect();
    assert_eq!(got, (500..600).collect::<Vec<_>>(), "taken over exactly after the last confirmed record");
    assert_eq!(count(&seen1), 500);
}
