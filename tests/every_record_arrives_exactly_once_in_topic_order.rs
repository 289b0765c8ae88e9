//! Every record written on many topics from many threads arrives exactly once,
//! in per-topic order, with the bytes that were written.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;

#[test]
fn every_record_written_on_many_topics_from_many_threads_arrives_exactly_once_in_per_topic_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // Small segments so the reader follows many rolls.
    cfg.set_idx_file_max_item_num(997).set_data_file_max_size(256 * 1024).set_max_batch_bytes(16 * 1024);
    let w = logstream::Writer::open(&cfg).unwrap();
    let (reader, seen) = collecting_reader(&cfg, "g");

    let topics: Vec<String> = (0..12).map(|i| format!("topic-{i}")).collect();
    let per_thread = 3000u64;
    let threads = 4;
    // Two threads share each topic pair, so the per-topic sequence interleaves writers.
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let w = w.clone();
            let topics = topics.clone();
            std::thread::spawn(move || {
                let mut mine: BTreeMap<String, Vec<u64>> = BTreeMap::new();
                for i in 0..per_thread {
                    let topic = &topics[((i as usize) + t * 3) % topics.len()];
                    let data = format!("{topic}|{t}|{i}");
                    let seq = w.write(topic, data.as_bytes()).unwrap();
                    mine.entry(topic.clone()).or_default().push(seq);
                    let _ = data;
                }
                mine
            })
        })
        .collect();
    let mut written: BTreeMap<String, u64> = BTreeMap::new();
    for h in handles {
        for (t, seqs) in h.join().unwrap() {
            *written.entry(t).or_default() += seqs.len() as u64;
        }
    }
    let total: u64 = written.values().sum();
    assert_eq!(total, per_thread * threads as u64);
    wait_for("every record to be delivered", Duration::from_secs(60), || count(&seen) as u64 >= total);
    reader.stop().unwrap();
    assert_dense(&seen, &written);
    // The bytes are the ones written: each record names its own topic.
    for (topic, recs) in seen.lock().unwrap().iter() {
        for (_, data) in recs {
            let s = std::str::from_utf8(data).unwrap();
            assert!(s.starts_with(&format!("{topic}|")), "{s} delivered under {topic}");
        }
    }
    assert_eq!(count(&seen) as u64, total, "no record twice");
    w.close().unwrap();
}
