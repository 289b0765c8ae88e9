//! `KafkaForwarder::run`, the sidecar's loop: forwards until shut down,
//! reports progress and lag, and persists positions on the way out.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use logstream_kafka::{KafkaForwarder, KafkaOptions, Shutdown};

#[test]
fn the_run_loop_reports_progress_and_stops_on_shutdown() {
    let mock = Mock::start();
    mock.create_topic("logs", 1);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    write_log(&cfg, &topic_names(3), 1_000);
    let fwd = KafkaForwarder::connect(&KafkaOptions::new(&mock.url(), "logs").unwrap()).unwrap();

    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let (tx, rx) = mpsc::channel();
    let run_cfg = cfg.clone();
    let t = std::thread::spawn(move || {
        fwd.run(&run_cfg, "shipper", &stop, Duration::from_millis(20), |p| {
            let _ = tx.send(p.reader.records);
        })
    });
    while rx.recv_timeout(Duration::from_secs(30)).unwrap() < 3_000 {}
    shutdown.trigger();
    let last = t.join().unwrap().unwrap();
    assert_eq!((last.reader.records, last.forwarder.delivered), (3_000, 3_000));
    assert!(last.lag.iter().all(|l| l.lag_records == 0) && last.lag.len() == 3, "{:?}", last.lag);
}
