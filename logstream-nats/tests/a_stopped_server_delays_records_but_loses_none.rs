//! The server stops mid-stream for a few seconds: batches fail and are
//! retried with backoff, the client reconnects when the server is back, and
//! every record ends up in the stream exactly once.

mod common;

use std::time::{Duration, Instant};

use common::*;
use logstream_nats::{NatsForwarder, NatsOptions, StreamSpec};

const TOPICS: usize = 20;
const PER_TOPIC: u64 = 5_000;

#[test]
fn a_stopped_server_delays_records_but_loses_none() {
    let mut server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let topics = topic_names(TOPICS);
    write_log(&cfg, &topics, PER_TOPIC);
    let total = TOPICS as u64 * PER_TOPIC;

    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap().ack_timeout(Duration::from_secs(1));
    let fwd = NatsForwarder::connect(&opts).unwrap();
    let conn = fwd.connection().clone();
    conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap();
    let stats = fwd.clone();
    // Once a fifth of the log is in the stream, batches wait for the server
    // to be down, so that the outage surely hits the middle of the stream.
    let stopped = Gate::default();
    let gate = stopped.clone();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sent2 = sent.clone();
    let forward = fwd.into_forwarder();
    let reader = logstream::Reader::builder(&cfg)
        .group("shipper")
        .start(move |b: &logstream::Batch| {
            if sent2.load(std::sync::atomic::Ordering::SeqCst) >= total / 5 {
                gate.wait_open();
            }
            forward(b)?;
            sent2.fetch_add(b.len() as u64, std::sync::atomic::Ordering::SeqCst);
            Ok::<(), logstream_nats::NatsError>(())
        })
        .unwrap();

    let confirmed = |r: &logstream::ReaderHandle| r.positions().iter().map(|p| p.confirmed).sum::<u64>();
    wait_for("a fifth of the records sent", Duration::from_secs(60), || {
        sent.load(std::sync::atomic::Ordering::SeqCst) >= total / 5
    });
    server.stop();
    stopped.open();
    let stopped = Instant::now();
    wait_for("batches failing while the server is down", Duration::from_secs(30), || reader.stats().failures >= 3);
    // The outage is the scenario: keep the server down a few seconds.
    let outage = Duration::from_secs(3);
    std::thread::sleep(outage.saturating_sub(stopped.elapsed()));
    let during = confirmed(&reader);
    server.restart();

    wait_for("every record confirmed after the restart", Duration::from_secs(90), || {
        all_confirmed(&reader, TOPICS, PER_TOPIC)
    });
    reader.stop().unwrap();
    assert!(during < total, "everything was confirmed before the outage; nothing was tested");
    assert_eq!(stream_len(&conn, "LOGS"), total, "server log:\n{}", server.log());
    // Records published just before the outage can be stored after their
    // re-sent predecessors (see the crate docs on ordering): each is there
    // exactly once, and `logstream-seq` gives the order back.
    let mut found = read_stream(&conn, "LOGS");
    let out_of_order: usize = found.values().map(|v| v.windows(2).filter(|w| w[0].0 > w[1].0).count()).sum();
    found.values_mut().for_each(|v| v.sort_by_key(|r| r.0));
    assert_exactly_once_in_order(&found, &topics, PER_TOPIC);
    eprintln!("{:?} failures={} out-of-order={out_of_order}", stats.stats(), reader.stats().failures);

    // A mirror puts the records back in order with their sequence numbers.
    let copy = tempfile::tempdir().unwrap();
    let copy_cfg = config(copy.path());
    let m = mirror(&conn, "LOGS", &copy_cfg, total);
    assert_eq!((m.written, m.waiting), (total, 0), "{m:?}");
    assert_eq!(read_log(&copy_cfg, &topics), read_log(&cfg, &topics));
}
