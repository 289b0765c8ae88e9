//! 100 000 records on 20 topics arrive in JetStream once each, in per-topic
//! order, and the reader confirms them only then.

mod common;

use std::time::Duration;

use common::*;
use logstream_nats::{Ensured, NatsForwarder, NatsOptions, StreamSpec};

const TOPICS: usize = 20;
const PER_TOPIC: u64 = 5_000;

#[test]
fn every_record_arrives_once_in_topic_order() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let topics = topic_names(TOPICS);
    write_log(&cfg, &topics, PER_TOPIC);

    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap();
    let fwd = NatsForwarder::connect(&opts).unwrap();
    let conn = fwd.connection().clone();
    assert_eq!(conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap(), Ensured::Created);
    assert_eq!(conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap(), Ensured::Existing);
    let stats = fwd.clone();

    let reader = logstream::Reader::builder(&cfg).group("shipper").start(fwd.into_forwarder()).unwrap();
    wait_for("every record confirmed", Duration::from_secs(60), || all_confirmed(&reader, TOPICS, PER_TOPIC));
    reader.stop().unwrap();

    let total = TOPICS as u64 * PER_TOPIC;
    assert_eq!(stream_len(&conn, "LOGS"), total, "server log:\n{}", server.log());
    assert_exactly_once_in_order(&read_stream(&conn, "LOGS"), &topics, PER_TOPIC);
    let s = stats.stats();
    assert_eq!((s.acked, s.duplicates, s.failed_batches), (total, 0, 0), "{s:?}");
}

#[test]
fn a_subject_no_stream_captures_fails_the_batch_with_a_clear_error() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    write_log(&cfg, &topic_names(1), 3);
    let opts = NatsOptions::new(&server.url(), "nowhere.{topic}").unwrap().ack_timeout(Duration::from_secs(2));
    let fwd = NatsForwarder::connect(&opts).unwrap();
    let mut cursor = logstream::TopicReader::open(&cfg, "t00", 0).unwrap();
    let batch = cursor.next_batch(1 << 20).unwrap().unwrap();
    let e = fwd.forward(&batch).unwrap_err().to_string();
    assert!(e.contains("record 0 of topic \"t00\"") && e.contains("nowhere.t00"), "{e}");
    assert!(e.contains("no JetStream stream captures the subject"), "{e}");
}

#[test]
fn an_existing_stream_with_a_shorter_duplicate_window_is_refused() {
    let server = NatsServer::start();
    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap();
    let conn = logstream_nats::NatsConnection::connect(&opts).unwrap();
    let short = StreamSpec::new("LOGS", opts.subject()).duplicate_window(Duration::from_secs(10));
    conn.ensure_stream(&short).unwrap();
    let e = conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap_err().to_string();
    assert!(e.contains("duplicate_window") && e.contains("LOGS"), "{e}");
}

#[test]
fn connecting_to_a_port_nobody_listens_on_names_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("nats://127.0.0.1:{port}");
    let opts = NatsOptions::new(&url, "logs.{topic}").unwrap().connect_timeout(Duration::from_secs(2));
    let e = NatsForwarder::connect(&opts).unwrap_err().to_string();
    assert!(e.contains("cannot connect to NATS") && e.contains(&url), "{e}");
}

#[test]
fn the_stream_capturing_the_subjects_is_found_by_their_filter_and_none_before_it_exists() {
    let server = NatsServer::start();
    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap();
    let conn = logstream_nats::NatsConnection::connect(&opts).unwrap();
    let filter = opts.subject().filter();
    assert_eq!(conn.stream_capturing(&filter).unwrap(), None);
    conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap();
    assert_eq!(conn.stream_capturing(&filter).unwrap().as_deref(), Some("LOGS"));
    assert_eq!(conn.stream_capturing("other.*").unwrap(), None);
}
