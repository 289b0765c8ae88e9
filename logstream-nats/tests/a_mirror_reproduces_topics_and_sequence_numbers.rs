//! A leader's log shipped into JetStream and mirrored into a second
//! directory: the copy holds the same topics, sequence numbers and bytes,
//! and a restarted mirror continues where it stopped without duplicating.

mod common;

use std::time::Duration;

use common::*;
use logstream_nats::{NatsForwarder, NatsOptions, StreamSpec};

const PER_TOPIC: u64 = 2_000;

fn forward_all(cfg: &logstream::Config, fwd: &NatsForwarder, topics: &[String]) {
    let reader = logstream::Reader::builder(cfg).group("shipper").start(fwd.clone().into_forwarder()).unwrap();
    let w = logstream::Writer::open(cfg).unwrap();
    let ends: Vec<u64> = topics.iter().map(|t| w.next_seq(t).unwrap()).collect();
    w.close().unwrap();
    wait_for("every record confirmed", Duration::from_secs(60), || {
        let p = reader.positions();
        topics.iter().zip(&ends).all(|(t, end)| p.iter().any(|p| &p.topic == t && p.confirmed == *end))
    });
    reader.stop().unwrap();
}

#[test]
fn a_mirror_reproduces_topics_and_sequence_numbers() {
    let server = NatsServer::start();
    let leader = tempfile::tempdir().unwrap();
    let cfg = config(leader.path());
    let mut topics = topic_names(10);
    write_log(&cfg, &topics, PER_TOPIC);
    // A topic that starts at 1000 (itself a mirror), and one whose name is not a subject token.
    let w = logstream::Writer::open(&cfg).unwrap();
    for seq in 1000..1100 {
        w.write_at("late start", seq, &payload("late start", seq)).unwrap();
        w.write("orders.eu", &payload("orders.eu", seq - 1000)).unwrap();
    }
    w.close().unwrap();
    topics.extend(["late start".to_owned(), "orders.eu".to_owned()]);
    let total = 10 * PER_TOPIC + 200;

    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap();
    let fwd = NatsForwarder::connect(&opts).unwrap();
    let conn = fwd.connection().clone();
    conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap();
    forward_all(&cfg, &fwd, &topics);

    let follower = tempfile::tempdir().unwrap();
    let copy = config(follower.path());
    let m = mirror(&conn, "LOGS", &copy, total);
    assert_eq!((m.written, m.already_present, m.waiting), (total, 0, 0), "{m:?}");
    assert_eq!(read_log(&copy, &topics), read_log(&cfg, &topics));

    // More records on the leader; the restarted mirror copies only those.
    let w = logstream::Writer::open(&cfg).unwrap();
    for seq in PER_TOPIC..PER_TOPIC + 50 {
        w.write("t03", &payload("t03", seq)).unwrap();
    }
    w.close().unwrap();
    forward_all(&cfg, &fwd, &topics);
    let m = mirror(&conn, "LOGS", &copy, 50);
    assert_eq!((m.written, m.already_present), (50, 0), "{m:?}");
    assert_eq!(read_log(&copy, &topics), read_log(&cfg, &topics));
}
