//! A `Reader` started on a `base_dir` that does not exist is an error naming
//! the path (a mistyped path used to be created and waited on forever),
//! unless it asks to create the directory and wait for a writer.
mod common;

use std::time::Duration;

use common::*;

#[test]
fn a_reader_on_a_directory_that_does_not_exist_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no/such/log");
    let started = logstream::Reader::builder(&config(&missing))
        .start(|_: &logstream::Batch| -> Result<(), std::io::Error> { Ok(()) });
    let Err(e) = started else { panic!("a reader started on a missing directory") };
    assert!(matches!(e, logstream::Error::NoSuchLog { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(&missing.display().to_string()) && text.contains("does not exist"), "{text}");
    assert!(!tmp.path().join("no").exists(), "nothing was created");
}

#[test]
fn create_missing_dir_makes_the_directory_and_waits_for_a_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(&tmp.path().join("log"));
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = logstream::Reader::builder(&cfg)
        .create_missing_dir()
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let _ = tx.send(b.records().map(|r| r.data().to_vec()).collect::<Vec<_>>());
            Ok(())
        })
        .unwrap();
    let w = logstream::Writer::open(&cfg).unwrap();
    w.write("t", b"hello").unwrap();
    w.flush().unwrap();
    let got = rx.recv_timeout(Duration::from_secs(30)).expect("the record within the patience");
    assert_eq!(got, [b"hello".to_vec()]);
    reader.stop().unwrap();
    w.close().unwrap();
}
