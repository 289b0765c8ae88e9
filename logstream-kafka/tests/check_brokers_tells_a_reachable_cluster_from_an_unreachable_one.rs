//! `KafkaForwarder::check_brokers`: librdkafka connects in the background,
//! so a service asks for metadata to find out at start whether the brokers
//! answer.

mod common;

use std::time::{Duration, Instant};

use common::*;
use logstream_kafka::{KafkaError, KafkaForwarder, KafkaOptions};

#[test]
fn check_brokers_counts_the_brokers_of_a_reachable_cluster() {
    let mock = Mock::start();
    let fwd = KafkaForwarder::connect(&KafkaOptions::new(&mock.url(), "logs").unwrap()).unwrap();
    assert_eq!(fwd.check_brokers(Duration::from_secs(30)).unwrap(), 1);
}

#[test]
fn check_brokers_fails_within_the_timeout_naming_the_brokers_when_none_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fwd =
        KafkaForwarder::connect(&KafkaOptions::new(&format!("kafka://127.0.0.1:{port}"), "logs").unwrap()).unwrap();
    let start = Instant::now();
    let e = fwd.check_brokers(Duration::from_millis(500)).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
    assert!(matches!(e, KafkaError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("cannot reach the Kafka brokers 127.0.0.1:{port}")), "{e}");
}
