//! A topic whose batches are larger than the in-flight window and whose
//! every ack fails (no stream captures its subject): each batch fails at
//! once, gives its share of the window back and is retried with backoff,
//! while the other topic, shipped through the same window, keeps flowing;
//! once a stream captures the subject, the retried batches deliver every
//! record exactly once.
//!
//! Before the window was released on failure, the first failed ack left
//! the rest of the batch queued with its permits: the publisher waited for
//! a permit forever, the batch never ended (no failure, no retry) and the
//! other topic stalled with it.

mod common;

use std::time::Duration;

use common::*;
use logstream_nats::{NatsForwarder, NatsOptions, StreamSpec};

/// Records per topic: batches of up to 16 KiB hold about 500 of them.
const PER_TOPIC: u64 = 3_000;
/// Far smaller than a batch.
const WINDOW: usize = 64;

#[test]
fn a_failing_batch_larger_than_the_window_is_retried_and_then_delivered() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let topics = ["good".to_owned(), "late".to_owned()];
    write_log(&cfg, &topics, PER_TOPIC);

    let opts =
        NatsOptions::new(&server.url(), "logs.{topic}").unwrap().window(WINDOW).ack_timeout(Duration::from_secs(2));
    let fwd = NatsForwarder::connect(&opts).unwrap();
    let conn = fwd.connection().clone();
    // Only the good topic has a stream; every ack of the late one fails.
    let mut good = StreamSpec::new("GOOD", opts.subject());
    good.subjects = vec!["logs.good".into()];
    conn.ensure_stream(&good).unwrap();

    let stats = fwd.clone();
    let reader = logstream::Reader::builder(&cfg).group("shipper").start(fwd.into_forwarder()).unwrap();
    let confirmed = |topic: &str| reader.positions().iter().find(|p| p.topic == topic).map_or(0, |p| p.confirmed);
    wait_for("the good topic confirmed and the late one's batches retried", Duration::from_secs(60), || {
        confirmed("good") == PER_TOPIC && reader.stats().retries >= 3
    });
    assert_eq!(confirmed("late"), 0, "no stream captured the late topic, yet records were confirmed");
    assert!(stats.stats().failed_batches >= 3, "{:?}", stats.stats());

    let mut late = StreamSpec::new("LATE", opts.subject());
    late.subjects = vec!["logs.late".into()];
    conn.ensure_stream(&late).unwrap();
    wait_for("every record confirmed once the late topic has a stream", Duration::from_secs(60), || {
        all_confirmed(&reader, topics.len(), PER_TOPIC)
    });
    reader.stop().unwrap();

    let mut found = read_stream(&conn, "GOOD");
    found.extend(read_stream(&conn, "LATE"));
    // The stream may have appeared in the middle of a batch, whose later
    // records were then stored before the retry stored the earlier ones
    // (the crate docs on ordering): once each, in order by sequence number.
    found.values_mut().for_each(|records| records.sort());
    assert_exactly_once_in_order(&found, &topics, PER_TOPIC);
    assert_eq!(stream_len(&conn, "LATE"), PER_TOPIC, "server log:\n{}", server.log());
}
