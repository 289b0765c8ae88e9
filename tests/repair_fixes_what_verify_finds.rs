//! `repair` rebuilds damaged indexes from the data, rewrites damaged headers
//! and checkpoint journals, and leaves a log that `verify` finds clean, with
//! every record still readable. Damaged records stay reported, not invented.
mod common;

use std::os::unix::fs::FileExt;
use std::time::Duration;

use common::*;

fn flip(path: &std::path::Path, at: u64) {
    let f = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8];
    f.read_at(&mut b, at).unwrap();
    b[0] ^= 0x20;
    f.write_at(&b, at).unwrap();
}

fn log(dir: &std::path::Path) -> logstream::Config {
    let mut cfg = config(dir);
    cfg.set_idx_file_max_item_num(50).set_index_interval_bytes(128).set_checkpoint_interval_ms(0);
    let w = logstream::Writer::open(&cfg).unwrap();
    for i in 0..200 {
        w.write("t", &payload("t", i)).unwrap();
    }
    let (r, seen) = collecting_reader(&cfg, "g");
    wait_for("delivery", Duration::from_secs(20), || count(&seen) == 200);
    r.stop().unwrap();
    w.close().unwrap();
    cfg
}

#[test]
fn repair_rebuilds_damaged_indexes_headers_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = log(dir.path());
    let t = dir.path().join("topics/t");
    flip(&t.join("00000000000000000000.idx"), 64 + 32 * 2 + 9); // an index entry
    std::fs::remove_file(t.join("00000000000000000100.idx")).unwrap(); // a whole index
    flip(&t.join("00000000000000000050.dat"), 20); // the header of a sealed segment
    let journal = dir.path().join("groups/g/checkpoints.log");
    let len = std::fs::metadata(&journal).unwrap().len();
    flip(&journal, len - 300); // a checkpoint entry
    let before = logstream::verify(&cfg).unwrap();
    assert!(!before.is_clean());
    assert_eq!(before.records_lost(), 0);

    let rep = logstream::repair(&cfg).unwrap();
    assert_eq!(rep.indexes_rebuilt.len(), 3, "{rep:?}");
    assert_eq!(rep.headers_rewritten.len(), 1);
    assert_eq!(rep.checkpoints_rewritten, vec!["g".to_owned()]);
    assert!(rep.after.is_clean(), "{:?}", rep.after);
    let recs = read_all(&cfg, "t");
    assert_eq!(recs.len(), 200);
    for (s, d) in &recs {
        assert_eq!(d, &payload("t", *s));
    }
    // Seeks use the rebuilt indexes.
    let mut r = logstream::TopicReader::open(&cfg, "t", 123).unwrap();
    assert_eq!(r.next_batch(1 << 20).unwrap().unwrap().first_seq(), 123);
}

#[test]
fn repair_is_refused_while_a_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let w = logstream::Writer::open(&cfg).unwrap();
    assert!(matches!(logstream::repair(&cfg), Err(logstream::Error::Locked { .. })));
    w.close().unwrap();
}

#[test]
fn damaged_records_stay_reported_after_repair() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = log(dir.path());
    // Damage a record in the middle of a sealed segment.
    flip(&dir.path().join("topics/t/00000000000000000050.dat"), 4096 + 200);
    let rep = logstream::repair(&cfg).unwrap();
    assert!(!rep.after.is_clean());
    assert!(rep.after.records_lost() >= 1);
    let recs = read_all(&cfg, "t");
    assert_eq!(recs.len() as u64, 200 - rep.after.records_lost());
    for (s, d) in &recs {
        assert_eq!(d, &payload("t", *s), "a damaged record was delivered");
    }
}
