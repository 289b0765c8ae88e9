//! A tokio service ships its log with `NatsConnection::connect_async` and
//! `ReaderBuilder::start_async`: every record arrives once, in topic order,
//! and while it runs the process has no thread of this crate (the client
//! and the forwarder run on the service's runtime, of either flavour).
//! Blocking calls on such a connection fail with a clear error instead of
//! driving a runtime they do not own.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use logstream_nats::{NatsConnection, NatsForwarder, NatsOptions, StreamSpec};

const TOPICS: usize = 4;
const PER_TOPIC: u64 = 2_000;

/// Names of this process's threads (`/proc/self/task/*/comm`).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .map(|s| s.trim().to_owned())
        .collect()
}

fn ships_on(rt: tokio::runtime::Runtime) {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let topics = topic_names(TOPICS);
    write_log(&cfg, &topics, PER_TOPIC);
    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap();

    let fwd = rt.block_on(async {
        let conn = NatsConnection::connect_async(&opts).await.unwrap();
        assert!(conn.runtime().is_none(), "connect_async starts no runtime of its own");
        conn.ensure_stream_async(&StreamSpec::new("LOGS", opts.subject())).await.unwrap();
        let fwd = NatsForwarder::with_connection(&conn);
        let f = fwd.clone();
        let reader = logstream::Reader::builder(&cfg)
            .group("shipper")
            .start_async(move |batch: Arc<logstream::Batch>| {
                let f = f.clone();
                async move { f.forward_async(&batch).await }
            })
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let p = reader.positions();
            if p.len() == TOPICS && p.iter().all(|p| p.confirmed == PER_TOPIC) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "not every record confirmed in 60 s: {p:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let names = thread_names();
        assert!(
            !names.iter().any(|n| n.starts_with("logstream-nats")),
            "a thread of logstream-nats runs beside the service's runtime: {names:?}"
        );
        // Blocking calls need a runtime of their own: a clear error, not a hang.
        let e = conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap_err().to_string();
        assert!(e.contains("inside a tokio runtime"), "{e}");
        reader.stop_async().await.unwrap();
        fwd
    });
    // Outside the runtime too: this connection has no runtime to block on.
    let mut cursor = logstream::TopicReader::open(&cfg, "t00", 0).unwrap();
    let batch = cursor.next_batch(1 << 20).unwrap().unwrap();
    let e = fwd.forward(&batch).unwrap_err().to_string();
    assert!(e.contains("connect_async") && e.contains("forward_async"), "{e}");

    let s = fwd.stats();
    let total = TOPICS as u64 * PER_TOPIC;
    assert_eq!((s.acked, s.failed_batches), (total, 0), "{s:?}");
    drop(fwd);
    drop(rt);
    // Read the stream back over a connection of the usual kind.
    let conn = NatsConnection::connect(&opts).unwrap();
    // The thread check above does see this crate's threads when they run.
    assert!(thread_names().iter().any(|n| n.starts_with("logstream-nats")), "{:?}", thread_names());
    assert_eq!(stream_len(&conn, "LOGS"), total, "server log:\n{}", server.log());
    assert_exactly_once_in_order(&read_stream(&conn, "LOGS"), &topics, PER_TOPIC);
}

/// Both flavours in one test: threads are per process, and a test running
/// beside it with a connection of the usual kind would show its threads.
#[test]
fn a_tokio_service_ships_every_record_once_with_no_thread_of_ours_on_either_runtime() {
    ships_on(tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());
    ships_on(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());
}
