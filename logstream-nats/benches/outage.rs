//! Catching up after a server outage: a writer appends at a fixed rate,
//! the server is stopped (SIGTERM) for `OUTAGE` and started again, and the
//! time from the restart until every record written before it is in the
//! stream is measured, for `NatsForwarder` behind a `Reader` and for a raw
//! client publishing the same rate with retries, one after the other on
//! fresh servers.
//!
//! `cargo bench -p logstream-nats --bench outage [-- OUTAGE_SECS]`
//! (needs `nats-server` on the PATH or in `NATS_SERVER`). Library defaults
//! on both sides (ack timeout 10 s, window 4096, retries from 20 ms
//! doubling to 500 ms).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use common::*;
use logstream_nats::{NatsConnection, NatsForwarder, NatsOptions, StreamSpec};

const RATE: u64 = 20_000;
const TOPICS: usize = 10;
const RECORD: usize = 100;
/// Records flow this long before the outage.
const BEFORE: Duration = Duration::from_secs(3);

/// Records due `elapsed` after the start at `RATE`.
fn due(elapsed: Duration) -> u64 {
    (elapsed.as_secs_f64() * RATE as f64) as u64
}

/// Stops the server after `BEFORE`, restarts it after `outage`; returns
/// the restart instant.
fn outage(server: &mut NatsServer, start: Instant, outage: Duration) -> Instant {
    std::thread::sleep(BEFORE.saturating_sub(start.elapsed()));
    server.terminate();
    std::thread::sleep(outage);
    server.restart();
    Instant::now()
}

/// The forwarder behind a reader; the writer appends at `RATE` until
/// caught up. Returns the catch-up time.
fn sidecar(outage_len: Duration) -> Duration {
    let mut server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.set_max_batch_bytes(2 << 20);
    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap();
    let fwd = NatsForwarder::connect(&opts).unwrap();
    fwd.connection().ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = Instant::now();
    let writer = {
        let (cfg, written, stop) = (cfg.clone(), written.clone(), stop.clone());
        std::thread::spawn(move || {
            let w = logstream::Writer::open(&cfg).unwrap();
            let topics = topic_names(TOPICS);
            let data = vec![b'x'; RECORD];
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                while n < due(start.elapsed()) {
                    w.write(&topics[(n % TOPICS as u64) as usize], &data).unwrap();
                    n += 1;
                }
                written.store(n, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
            w.close().unwrap();
        })
    };
    let reader = logstream::Reader::builder(&cfg).group("bench").start(fwd.into_forwarder()).unwrap();
    let restarted = outage(&mut server, start, outage_len);
    let backlog = written.load(Ordering::Relaxed);
    let confirmed = |r: &logstream::ReaderHandle| r.positions().iter().map(|p| p.confirmed).sum::<u64>();
    wait_for("the forwarder to catch up", Duration::from_secs(300), || confirmed(&reader) >= backlog);
    let took = restarted.elapsed();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    reader.stop().unwrap();
    println!("  sidecar: {backlog} records written by the restart, {:?} failures", reader.stats().failures);
    took
}

/// A raw client generating records at `RATE`: window of 4096 acks, on any
/// error drops what is in flight and re-sends from the first unacknowledged
/// record after a backoff (20 ms doubling to 500 ms), with message ids.
fn raw(outage_len: Duration) -> Duration {
    let mut server = NatsServer::start();
    let opts = NatsOptions::new(&server.url(), "raw.{topic}").unwrap();
    let conn = NatsConnection::connect(&opts).unwrap();
    conn.ensure_stream(&StreamSpec::new("RAW", opts.subject())).unwrap();
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = Instant::now();
    let task = {
        let (conn2, acked, stop) = (conn.clone(), acked.clone(), stop.clone());
        conn.runtime().expect("a connection made with connect has a runtime").spawn(async move {
            let js = conn2.jetstream().clone();
            let data = Bytes::from(vec![b'x'; RECORD]);
            let mut next = 0u64; // next to send
            let mut inflight = VecDeque::new();
            let mut backoff = Duration::from_millis(20);
            while !stop.load(Ordering::Relaxed) {
                let mut failed = false;
                while next < due(start.elapsed()) && inflight.len() < 4096 && !failed {
                    let msg = PublishMessage::build().payload(data.clone()).message_id(format!("raw/{next}"));
                    match js.send_publish(format!("raw.t{}", next % TOPICS as u64), msg).await {
                        Ok(ack) => {
                            inflight.push_back(ack);
                            next += 1;
                        }
                        Err(_) => failed = true,
                    }
                }
                if !failed {
                    match inflight.pop_front() {
                        Some(ack) => match ack.await {
                            Ok(_) => {
                                acked.fetch_add(1, Ordering::Relaxed);
                                backoff = Duration::from_millis(20);
                            }
                            Err(_) => failed = true,
                        },
                        None => tokio::time::sleep(Duration::from_millis(1)).await,
                    }
                }
                if failed {
                    next = acked.load(Ordering::Relaxed);
                    inflight.clear();
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
        })
    };
    let restarted = outage(&mut server, start, outage_len);
    let backlog = due(restarted - start);
    wait_for("the raw client to catch up", Duration::from_secs(300), || acked.load(Ordering::Relaxed) >= backlog);
    let took = restarted.elapsed();
    stop.store(true, Ordering::Relaxed);
    conn.runtime().expect("a connection made with connect has a runtime").block_on(task).unwrap();
    println!("  raw client: {backlog} records generated by the restart");
    took
}

fn main() {
    let secs: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let outage_len = Duration::from_secs(secs);
    println!("{RATE} records/s of {RECORD} bytes on {TOPICS} topics, server stopped {outage_len:?} after {BEFORE:?}");
    let s = sidecar(outage_len);
    println!("NatsForwarder behind a Reader: caught up {:.2} s after the restart", s.as_secs_f64());
    let r = raw(outage_len);
    println!("raw client with retries: caught up {:.2} s after the restart", r.as_secs_f64());
}
