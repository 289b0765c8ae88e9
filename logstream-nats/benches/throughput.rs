//! Forwarding throughput against the client's own best pipelined publish
//! rate, measured in the same run on the same server.
//!
//! `cargo bench -p logstream-nats --bench throughput [-- RECORDS]`
//! (needs `nats-server` on the PATH or in `NATS_SERVER`). Prints records/s
//! of each and the ratio; the goal is forwarding ≥ 0.8 × the best raw rate.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::VecDeque;
use std::time::Instant;

use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use common::*;
use logstream_nats::{HeaderSet, NatsConnection, NatsForwarder, NatsOptions, StreamSpec};

const TOPICS: usize = 10;
const RECORD: usize = 100;

/// Publishes `n` messages with `window` acks in flight; returns records/s.
fn raw_rate(conn: &NatsConnection, n: u64, window: usize, with_id: bool) -> f64 {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data = Bytes::from(vec![b'x'; RECORD]);
    conn.runtime().expect("a connection made with connect has a runtime").block_on(async {
        let js = conn.jetstream();
        let start = Instant::now();
        let mut acks = VecDeque::with_capacity(window);
        for i in 0..n {
            if acks.len() == window {
                let a: async_nats::jetstream::context::PublishAckFuture = acks.pop_front().unwrap();
                a.await.unwrap();
            }
            let mut msg = PublishMessage::build().payload(data.clone());
            if with_id {
                // Unique across rounds: a repeated id would be dropped as a duplicate.
                msg = msg.message_id(format!("raw/{run}/{i}"));
            }
            acks.push_back(js.send_publish(format!("raw.t{}", i % TOPICS as u64), msg).await.unwrap());
        }
        for a in acks {
            a.await.unwrap();
        }
        n as f64 / start.elapsed().as_secs_f64()
    })
}

fn forward_rate(server: &NatsServer, n: u64, headers: HeaderSet) -> f64 {
    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap().headers(headers);
    let fwd = NatsForwarder::connect(&opts).unwrap();
    fwd.connection().ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap();
    logstream_ship::testing::forward_rate(fwd, n, TOPICS, RECORD)
}

fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000);
    let server = NatsServer::start();
    let opts = NatsOptions::new(&server.url(), "raw.{topic}").unwrap();
    let conn = NatsConnection::connect(&opts).unwrap();
    conn.ensure_stream(&StreamSpec::new("RAW", opts.subject())).unwrap();
    println!("{n} records of {RECORD} bytes on {TOPICS} topics, nats-server on loopback");
    // Best of three rounds each, interleaved: the machine is shared.
    let (mut best_raw, mut best_id) = (0.0f64, 0.0f64);
    let mut best_fwd = [0.0f64; 2];
    for round in 1..=3 {
        for (window, with_id) in [(1000, false), (4000, false), (4000, true)] {
            let r = raw_rate(&conn, n, window, with_id);
            let id = if with_id { ", Nats-Msg-Id" } else { "" };
            println!("round {round}: raw publish, {window} acks in flight{id}: {r:>10.0} records/s");
            if with_id { best_id = best_id.max(r) } else { best_raw = best_raw.max(r) }
        }
        for (i, set) in [HeaderSet::Full, HeaderSet::IdOnly].into_iter().enumerate() {
            let f = forward_rate(&server, n, set);
            println!("round {round}: NatsForwarder, {set:?} headers: {f:>10.0} records/s");
            best_fwd[i] = best_fwd[i].max(f);
        }
    }
    println!("best raw publish {best_raw:.0}/s, with Nats-Msg-Id {best_id:.0}/s");
    for (f, set) in best_fwd.iter().zip(["Full", "IdOnly"]) {
        println!(
            "best NatsForwarder, {set} headers: {f:.0}/s = {:.2} x raw, {:.2} x raw with Nats-Msg-Id (goal >= 0.80)",
            f / best_raw,
            f / best_id
        );
    }
}
