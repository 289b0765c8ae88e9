//! Helpers shared by the scenario tests: librdkafka's mock cluster and
//! topics read back (`logstream_kafka::testing`), logs and the exactly-once
//! check (`logstream_ship::testing`).
#![allow(dead_code)]

use std::time::Duration;

pub use logstream_kafka::testing::*;
pub use logstream_ship::testing::*;

/// Forwards the whole log of `cfg` as `group`, until every record is confirmed.
pub fn forward_all(cfg: &logstream::Config, group: &str, fwd: &logstream_kafka::KafkaForwarder, topics: &[String]) {
    let w = logstream::Writer::open(cfg).unwrap();
    let ends: Vec<u64> = topics.iter().map(|t| w.next_seq(t).unwrap()).collect();
    w.close().unwrap();
    let reader = logstream::Reader::builder(cfg).group(group).start(fwd.clone().into_forwarder()).unwrap();
    wait_for("every record confirmed", Duration::from_secs(60), || {
        let p = reader.positions();
        topics.iter().zip(&ends).all(|(t, end)| p.iter().any(|p| &p.topic == t && p.confirmed == *end))
    });
    reader.stop().unwrap();
}
