//! Batches never exceed max_batch_bytes (a larger record comes alone) and
//! never mix topics.
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{config, wait_for};

/// One delivered batch: topic, data bytes, records, whether it mixed topics.
type Seen = (String, u64, usize, bool);

#[test]
fn batches_never_exceed_the_byte_limit_and_never_mix_topics() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    let limit = 64 * 1024u64;
    cfg.set_max_batch_bytes(limit).set_max_record_bytes(1 << 20);
    let w = logstream::Writer::open(&cfg).unwrap();
    let mut total = 0u64;
    for i in 0..3000u64 {
        let topic = ["a", "b", "c"][(i % 3) as usize];
        let len = if i % 500 == 7 { 200 * 1024 } else { (i * 131 % 5000) as usize };
        let mut data = format!("{topic}:").into_bytes();
        data.resize(len.max(data.len()), b'.');
        w.write(topic, &data).unwrap();
        total += 1;
    }
    let batches: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let b2 = batches.clone();
    let reader = logstream::Reader::builder(&cfg)
        .start(move |b: &logstream::Batch| -> Result<(), std::io::Error> {
            let mixed = b.records().any(|r| !r.data().starts_with(format!("{}:", b.topic()).as_bytes()));
            let bytes: u64 = b.records().map(|r| r.data().len() as u64).sum();
            assert_eq!(bytes, b.bytes());
            b2.lock().unwrap().push((b.topic().to_owned(), bytes, b.len(), mixed));
            Ok(())
        })
        .unwrap();
    wait_for("all records", Duration::from_secs(30), || {
        batches.lock().unwrap().iter().map(|b| b.2 as u64).sum::<u64>() >= total
    });
    reader.stop().unwrap();
    let batches = batches.lock().unwrap();
    let mut singles_over = 0;
    for (topic, bytes, len, mixed) in batches.iter() {
        assert!(!mixed, "a batch of {topic} holds another topic's record");
        if *bytes > limit {
            assert_eq!(*len, 1, "a batch over the limit must be one large record");
            singles_over += 1;
        }
    }
    assert_eq!(singles_over, 6, "each 200 KiB record comes alone");
    assert!(batches.len() > 3, "records were split into several batches");
}
