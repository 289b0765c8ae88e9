//! `KafkaForwarder::run`, the sidecar's loop: forwards until shut down,
//! reports progress and lag, and persists positions on the way out.

mod common;

use common::*;
use logstream_kafka::{KafkaForwarder, KafkaOptions};

#[test]
fn the_run_loop_reports_progress_and_stops_on_shutdown() {
    let mock = Mock::start();
    mock.create_topic("logs", 1);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    write_log(&cfg, &topic_names(3), 1_000);
    let fwd = KafkaForwarder::connect(&KafkaOptions::new(&mock.url(), "logs").unwrap()).unwrap();

    let last = run_until_confirmed(fwd, &cfg, "shipper", 3_000);
    assert_eq!((last.reader.records, last.forwarder.delivered), (3_000, 3_000));
    assert!(last.lag.iter().all(|l| l.lag_records == 0) && last.lag.len() == 3, "{:?}", last.lag);
}
