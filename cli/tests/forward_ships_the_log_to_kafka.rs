//! `logstream forward --to kafka://…` against librdkafka's mock cluster
//! (it listens on loopback, so the binary reaches it while this test keeps
//! it alive): every record arrives, and SIGTERM stops it cleanly.
mod common;
mod sidecar;

use logstream_kafka::testing::{Mock, read_kafka};
use logstream_ship::testing::{assert_exactly_once_in_order, config, topic_names, write_log};
use sidecar::{LogArg, Sidecar, assert_positions_at_ends};

#[test]
fn forward_ships_every_record_to_kafka_and_exits_0_on_sigterm() {
    let mock = Mock::start();
    mock.create_topic("logs.t00", 1);
    mock.create_topic("logs.t01", 1);
    let tmp = tempfile::tempdir().expect("temporary directory");
    let cfg = config(tmp.path());
    let topics = topic_names(2);
    write_log(&cfg, &topics, 300);

    let url = mock.url();
    let fwd = Sidecar::start(
        LogArg::Dir(tmp.path()),
        &["--to", &url, "--subject", "logs.{topic}", "--group", "shipper", "--kafka-set", "linger.ms=1"],
    );
    let (warnings, started) = fwd.wait_started();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(started.contains("(topic logs.{topic}, 1 broker)"), "{started}");
    let found = read_kafka(&mock.brokers, &[("logs.t00", 1), ("logs.t01", 1)], 600);
    assert_exactly_once_in_order(&found, &topics, 300);
    fwd.terminate().assert_clean_stop(600);
    assert_positions_at_ends(&cfg, "shipper", &topics);
}
