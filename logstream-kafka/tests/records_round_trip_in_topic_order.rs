//! Records produced through the mock cluster come back once each, in
//! per-topic order, keyed by topic, with their logstream headers.

mod common;

use std::time::Duration;

use common::*;
use logstream_kafka::{KafkaForwarder, KafkaOptions};

const TOPICS: usize = 20;
const PER_TOPIC: u64 = 1_000;

#[test]
fn records_round_trip_in_topic_order() {
    let mock = Mock::start();
    mock.create_topic("logs", 4);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let topics = topic_names(TOPICS);
    write_log(&cfg, &topics, PER_TOPIC);

    let fwd = KafkaForwarder::connect(&KafkaOptions::new(&mock.url(), "logs").unwrap()).unwrap();
    let stats = fwd.clone();
    let reader = logstream::Reader::builder(&cfg).group("shipper").start(fwd.into_forwarder()).unwrap();
    wait_for("every record confirmed", Duration::from_secs(60), || all_confirmed(&reader, TOPICS, PER_TOPIC));
    reader.stop().unwrap();

    let total = TOPICS * PER_TOPIC as usize;
    let s = stats.stats();
    assert_eq!((s.delivered, s.failed_batches), (total as u64, 0), "{s:?}");
    assert_exactly_once_in_order(&read_kafka(&mock.brokers, &[("logs", 4)], total), &topics, PER_TOPIC);
}

#[test]
fn a_topic_per_logstream_topic_escapes_names_kafka_does_not_allow() {
    let mock = Mock::start();
    mock.create_topic("logs.a_20b", 1);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let topics = vec!["a b".to_owned()];
    write_log(&cfg, &topics, 10);
    let fwd = KafkaForwarder::connect(&KafkaOptions::new(&mock.url(), "logs.{topic}").unwrap()).unwrap();
    forward_all(&cfg, "shipper", &fwd, &topics);
    assert_exactly_once_in_order(&read_kafka(&mock.brokers, &[("logs.a_20b", 1)], 10), &topics, 10);
}
