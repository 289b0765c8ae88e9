//! With the broker down, deliveries time out, batches fail with a clear
//! error and are retried; once the broker is back everything arrives.

mod common;

use std::time::Duration;

use common::*;
use logstream_kafka::{KafkaForwarder, KafkaOptions};

const TOPICS: usize = 5;
const PER_TOPIC: u64 = 1_000;

#[test]
fn delivery_failures_are_retried_until_everything_arrives() {
    let mock = Mock::start();
    mock.create_topic("logs", 2);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let topics = topic_names(TOPICS);
    write_log(&cfg, &topics, PER_TOPIC);
    let opts = KafkaOptions::new(&mock.url(), "logs").unwrap().delivery_timeout(Duration::from_millis(300));
    let fwd = KafkaForwarder::connect(&opts).unwrap();

    // A failed batch says which record of which topic failed, and why.
    mock.broker_down();
    let mut cursor = logstream::TopicReader::open(&cfg, "t00", 0).unwrap();
    let batch = cursor.next_batch(1 << 20).unwrap().unwrap();
    let e = fwd.forward(&batch).unwrap_err().to_string();
    assert!(e.contains("delivering record 0 of topic \"t00\" to Kafka topic \"logs\" failed"), "{e}");

    let stats = fwd.clone();
    let reader = logstream::Reader::builder(&cfg).group("shipper").start(fwd.into_forwarder()).unwrap();
    wait_for("batches failing while the broker is down", Duration::from_secs(30), || reader.stats().failures >= 3);
    mock.broker_up();
    wait_for("every record confirmed", Duration::from_secs(60), || all_confirmed(&reader, TOPICS, PER_TOPIC));
    reader.stop().unwrap();

    // At-least-once: each record is there; a timed-out record that reached
    // the broker may be there twice, and is then dropped by its id.
    let delivered = stats.stats().delivered as usize;
    let mut found = read_kafka(&mock.brokers, &[("logs", 2)], delivered);
    for v in found.values_mut() {
        v.sort_by_key(|r| r.0);
        v.dedup_by_key(|r| r.0);
    }
    assert_exactly_once_in_order(&found, &topics, PER_TOPIC);
    eprintln!("{:?}, reader failures {}", stats.stats(), reader.stats().failures);
}
