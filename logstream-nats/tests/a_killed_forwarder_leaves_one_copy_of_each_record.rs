//! SIGKILL of the forwarding process mid-stream, then a restart: the
//! restarted reader re-sends what it had not persisted as confirmed, the
//! server de-duplicates it by `Nats-Msg-Id`, and the stream holds each
//! record exactly once.

mod common;

use std::time::Duration;

use common::*;
use logstream_nats::{NatsConnection, NatsForwarder, NatsOptions, StreamSpec};

const TOPICS: usize = 20;
const PER_TOPIC: u64 = 5_000;
const TOTAL: u64 = TOPICS as u64 * PER_TOPIC;
const ROLE: &str = "forwarder_child_process";

#[test]
fn a_killed_forwarder_leaves_one_copy_of_each_record() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let topics = topic_names(TOPICS);
    write_log(&cfg, &topics, PER_TOPIC);
    let opts = NatsOptions::new(&server.url(), "logs.{topic}").unwrap();
    let conn = NatsConnection::connect(&opts).unwrap();
    conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).unwrap();
    let envs = [("LS_NATS_URL", server.url()), ("LS_DIR", dir.path().display().to_string())];

    // First run: killed once a good part of the log is in the stream.
    let mut held = envs.to_vec();
    held.push(("LS_HOLD", "1".into()));
    let mut child = spawn_child(ROLE, &held);
    let mut lines = child_lines(&mut child);
    assert_eq!(lines.next().as_deref(), Some("started"));
    wait_for("a third of the records in the stream", Duration::from_secs(60), || {
        stream_len(&conn, "LOGS") >= TOTAL / 3 + 1000
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = stream_len(&conn, "LOGS");
    assert!(at_kill < TOTAL, "the forwarder finished before it was killed; nothing was tested");

    // Second run: resumes from the persisted positions and finishes.
    let mut child = spawn_child(ROLE, &envs);
    let lines: Vec<String> = child_lines(&mut child).collect();
    assert!(child.wait().unwrap().success(), "the restarted forwarder failed: {lines:?}");
    let dups: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("done duplicates="))
        .unwrap_or_else(|| panic!("no summary from the child: {lines:?}"))
        .parse()
        .unwrap();

    assert!(dups > 0, "the restart re-sent nothing, so de-duplication was not exercised");
    assert_eq!(stream_len(&conn, "LOGS"), TOTAL);
    assert_exactly_once_in_order(&read_stream(&conn, "LOGS"), &topics, PER_TOPIC);
    eprintln!("killed at {at_kill} of {TOTAL} messages; the restart re-sent {dups} the server dropped as duplicates");
}

/// The forwarding process: forwards the log until every record is confirmed.
#[test]
fn forwarder_child_process() {
    let (Ok(url), Ok(dir)) = (std::env::var("LS_NATS_URL"), std::env::var("LS_DIR")) else {
        return; // run as part of the suite: only the parent test does something
    };
    let mut cfg = config(std::path::Path::new(&dir));
    // Positions are persisted rarely, so a kill leaves confirmed batches to re-send.
    cfg.set_checkpoint_interval_ms(2_000);
    let opts = NatsOptions::new(&url, "logs.{topic}").unwrap().window(512);
    let fwd = NatsForwarder::connect(&opts).unwrap();
    let stats = fwd.clone();
    // In the run that gets killed, batches after the first third of the log
    // are published and acknowledged but never confirmed, so the kill
    // surely leaves stored records the restart sends again.
    let hold = std::env::var("LS_HOLD").is_ok();
    let sent = std::sync::atomic::AtomicU64::new(0);
    let forward = fwd.into_forwarder();
    let reader = logstream::Reader::builder(&cfg)
        .group("shipper")
        .start(move |b: &logstream::Batch| {
            forward(b)?;
            if hold && sent.fetch_add(b.len() as u64, std::sync::atomic::Ordering::SeqCst) >= TOTAL / 3 {
                Gate::default().wait_open(); // until killed
            }
            Ok::<(), logstream_nats::NatsError>(())
        })
        .unwrap();
    child_say("started");
    wait_for("every record confirmed", Duration::from_secs(120), || all_confirmed(&reader, TOPICS, PER_TOPIC));
    reader.stop().unwrap();
    child_say(&format!("done duplicates={}", stats.stats().duplicates));
}
