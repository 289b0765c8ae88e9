//! `NatsForwarder::run`, the sidecar's loop: forwards until shut down,
//! reports progress, and persists positions on the way out.

mod common;

use common::*;
use logstream_nats::{NatsForwarder, NatsOptions, StreamSpec};

#[test]
fn the_run_loop_reports_progress_and_stops_on_shutdown() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    write_log(&cfg, &topic_names(3), 1_000);
    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap();
    let fwd = NatsForwarder::connect(&opts).unwrap();
    let conn = fwd.connection().clone();
    conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap();

    let last = run_until_confirmed(fwd, &cfg, "shipper", 3_000);
    assert_eq!((last.reader.records, last.forwarder.acked), (3_000, 3_000));
    assert!(last.positions.iter().all(|p| p.confirmed == 1_000 && p.persisted == 1_000));
    assert_eq!(
        last.lag.iter().map(|l| (l.topic.as_str(), l.lag_records)).collect::<Vec<_>>(),
        [("t00", 0), ("t01", 0), ("t02", 0)]
    );
    assert_eq!(stream_len(&conn, "LOGS"), 3_000);
}
