//! `logstream forward --to kafka://…` against librdkafka's mock cluster
//! with injected produce errors and the broker down: failed batches are
//! retried, SIGTERM while the broker is down stops the sidecar cleanly
//! within twice the delivery timeout, and a restarted sidecar delivers
//! every record. Kafka delivery is at least once: duplicates are counted,
//! and there are never more than the records re-sent.
mod common;
mod sidecar;

use std::time::{Duration, Instant};

use common::*;
use logstream_kafka::testing::{Mock, read_kafka};
use logstream_ship::testing::{assert_exactly_once_in_order, config, topic_names, write_log};
use sidecar::{LogArg, Sidecar, assert_positions_at_ends};

const PER_TOPIC: u64 = 2_000;
/// `message.timeout.ms`: a delivery report comes within this.
const DELIVERY_TIMEOUT: Duration = Duration::from_millis(1000);
/// Added to the bound for a loaded machine: not a speed requirement.
const SLACK: Duration = Duration::from_secs(5);

fn forward(tmp: &std::path::Path, url: &str) -> Sidecar {
    let timeout = format!("message.timeout.ms={}", DELIVERY_TIMEOUT.as_millis());
    Sidecar::start(
        LogArg::Config(&tmp.join("meta.json")),
        &[
            "--to",
            url,
            "--subject",
            "logs.{topic}",
            "--group",
            "shipper",
            "--kafka-set",
            "linger.ms=1",
            "--kafka-set",
            &timeout,
            "--stats",
            "--stats-interval",
            "0.2",
            "--json",
        ],
    )
}

/// `(records, sent)` of the final JSON report.
fn final_counts(stopped: &sidecar::Stopped) -> (u64, u64) {
    let last = stopped.reports().pop().expect("a final report");
    assert_eq!(last["last"], true, "{last}");
    (last["records"].as_u64().expect("records"), last["sent"].as_u64().expect("sent"))
}

#[test]
fn forward_to_kafka_rides_out_injected_errors_and_a_broker_failure() {
    let mock = Mock::start();
    let topics = topic_names(2);
    for t in &topics {
        mock.create_topic(&format!("logs.{t}"), 1);
    }
    let tmp = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        tmp.path().join("meta.json"),
        "{\"base_dir\": \"log\", \"retry_initial_ms\": 20, \"retry_max_ms\": 300}\n",
    )
    .expect("write the config file");
    let cfg = config(&tmp.path().join("log"));
    write_log(&cfg, &topics, PER_TOPIC);
    // The first produce requests fail without being stored (not retried
    // by librdkafka: the batches fail and the reader retries them).
    mock.fail_next_produce_requests(3);

    let url = mock.url();
    let fwd = forward(tmp.path(), &url);
    fwd.wait_started();
    fwd.wait_stderr("forwarder failed on topic");
    // Then the broker goes away: deliveries time out.
    mock.broker_down();
    fwd.drain_stderr();
    fwd.wait_stderr("forwarder failed on topic");
    let asked = Instant::now();
    let stopped = fwd.terminate();
    let took = asked.elapsed();
    stopped.assert_stopped_cleanly();
    assert!(took < 2 * DELIVERY_TIMEOUT + SLACK, "SIGTERM with the broker down took {took:?}: {stopped:#?}");
    let (first_records, first_sent) = final_counts(&stopped);

    mock.broker_up();
    let fwd = forward(tmp.path(), &url);
    fwd.wait_started();
    wait_for("the group to confirm every record", || {
        logstream::Group::open(&cfg, "shipper")
            .and_then(|g| g.lag())
            .is_ok_and(|lag| lag.len() == topics.len() && lag.iter().all(|l| l.confirmed == Some(PER_TOPIC)))
    });
    let stopped = fwd.terminate();
    stopped.assert_stopped_cleanly();
    let (records, sent) = final_counts(&stopped);
    assert_positions_at_ends(&cfg, "shipper", &topics);

    let total = 2 * PER_TOPIC;
    assert_eq!(first_records + records, total, "each record is forwarded (confirmed) once over both runs");
    let stored: u64 = topics.iter().map(|t| mock.messages_in(&format!("logs.{t}"), 1)).sum();
    let mut found = read_kafka(&mock.brokers, &[("logs.t00", 1), ("logs.t01", 1)], stored as usize);
    let duplicates = stored - total;
    let resent = (first_sent + sent) - total;
    assert!(duplicates <= resent, "{duplicates} duplicates, but only {resent} records were sent more than once");
    for v in found.values_mut() {
        v.sort_by_key(|r| r.0);
        v.dedup_by_key(|r| r.0);
    }
    assert_exactly_once_in_order(&found, &topics, PER_TOPIC);
    eprintln!("{stored} messages for {total} records: {duplicates} duplicates of {resent} re-sent records");
}
