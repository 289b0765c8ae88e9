//! Forwarding throughput against the client's own best pipelined produce
//! rate, measured in the same run on librdkafka's mock cluster (no Kafka
//! broker can run here, so this measures the client side only).
//!
//! `cargo bench -p logstream-kafka --bench throughput [-- RECORDS]`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::VecDeque;
use std::time::Instant;

use common::*;
use logstream_kafka::{KafkaForwarder, KafkaOptions};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

const TOPICS: usize = 10;
const RECORD: usize = 100;

/// Produces `n` records with an idempotent producer, awaiting reports with
/// `window` in flight; returns records/s.
fn raw_rate(brokers: &str, n: u64, window: usize) -> f64 {
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let data = vec![b'x'; RECORD];
    let start = Instant::now();
    let mut pending = VecDeque::with_capacity(window);
    for i in 0..n {
        if pending.len() == window {
            let f: rdkafka::producer::DeliveryFuture = pending.pop_front().unwrap();
            futures_executor::block_on(f).unwrap().unwrap();
        }
        let key = format!("t{}", i % TOPICS as u64);
        pending.push_back(p.send_result(FutureRecord::to("raw").payload(&data).key(&key)).map_err(|e| e.0).unwrap());
    }
    for f in pending {
        futures_executor::block_on(f).unwrap().unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn forward_rate(brokers: &str, n: u64) -> f64 {
    let fwd = KafkaForwarder::connect(&KafkaOptions::new(brokers, "logs").unwrap()).unwrap();
    logstream_ship::testing::forward_rate(fwd, n, TOPICS, RECORD)
}

fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000);
    let mock = Mock::start();
    mock.create_topic("raw", 4);
    mock.create_topic("logs", 4);
    println!("{n} records of {RECORD} bytes on {TOPICS} topics, librdkafka mock cluster");
    // Best of three rounds each, interleaved: the machine is shared.
    let (mut best_raw, mut best_fwd) = (0.0f64, 0.0f64);
    for round in 1..=3 {
        for window in [10_000, 100_000] {
            let r = raw_rate(&mock.brokers, n, window);
            println!("round {round}: raw idempotent produce, {window} reports in flight: {r:>10.0} records/s");
            best_raw = best_raw.max(r);
        }
        let f = forward_rate(&mock.brokers, n);
        println!("round {round}: KafkaForwarder (reader + headers): {f:>10.0} records/s");
        best_fwd = best_fwd.max(f);
    }
    println!(
        "best: raw {best_raw:.0}/s, forwarder {best_fwd:.0}/s: {:.2} x the raw rate (goal >= 0.80)",
        best_fwd / best_raw
    );
}
