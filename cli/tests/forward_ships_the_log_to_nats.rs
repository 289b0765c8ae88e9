//! `logstream forward --to nats://…` against a real nats-server: every
//! record arrives, SIGTERM stops it cleanly with the positions saved, a
//! restart sends only what is new, a missing stream is waited for, the
//! config file's black list holds and is reloaded, and `--stats --json`
//! reports.
mod common;
mod sidecar;

use std::path::PathBuf;

use common::*;
use logstream_nats::testing::{NatsServer, delete_stream, read_stream, stream_len};
use logstream_nats::{NatsConnection, NatsOptions, StreamSpec};
use logstream_ship::testing::{assert_exactly_once_in_order, config, topic_names, write_log, write_range};
use sidecar::{LogArg, Sidecar, assert_positions_at_ends};

const SUBJECT: &str = "logs.{topic}";

/// A nats-server, and a log in `tmp/log` described by `tmp/meta.json`.
struct Fixture {
    server: NatsServer,
    tmp: tempfile::TempDir,
    /// The tests' writer's config on the log.
    cfg: logstream::Config,
}

impl Fixture {
    /// A server, and a config file with `extra` keys (JSON members, each
    /// led by a comma).
    fn new(extra: &str) -> Fixture {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let cfg = config(&tmp.path().join("log"));
        let f = Fixture { server: NatsServer::start(), tmp, cfg };
        f.config_file(extra);
        f
    }

    /// Rewrites the config file, replacing it at once as editors and
    /// config management do.
    fn config_file(&self, extra: &str) -> PathBuf {
        let path = self.tmp.path().join("meta.json");
        let new = self.tmp.path().join("meta.json.new");
        std::fs::write(&new, format!("{{\"base_dir\": \"log\"{extra}}}\n")).expect("write the config file");
        std::fs::rename(&new, &path).expect("replace the config file");
        path
    }

    /// `logstream --config meta.json forward --to <server> --subject
    /// logs.{topic} --group shipper <more>`.
    fn forward(&self, more: &[&str]) -> Sidecar {
        let url = self.server.url();
        let mut args = vec!["--to", &url, "--subject", SUBJECT, "--group", "shipper"];
        args.extend(more);
        Sidecar::start(LogArg::Config(&self.tmp.path().join("meta.json")), &args)
    }

    /// The test's own client, to look at the stream.
    fn client(&self) -> NatsConnection {
        NatsConnection::connect(&NatsOptions::new(&self.server.url(), SUBJECT).expect("options")).expect("connect")
    }
}

#[test]
fn forward_ships_every_record_stops_cleanly_on_sigterm_and_a_restart_sends_only_new_records() {
    let f = Fixture::new("");
    let topics = topic_names(2);
    write_log(&f.cfg, &topics, 500);

    let fwd = f.forward(&["--ensure-stream", "LOGS"]);
    let (warnings, started) = fwd.wait_started();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(started.contains("stream LOGS created"), "{started}");
    let conn = f.client();
    wait_for("the stream to hold every record", || stream_len(&conn, "LOGS") == 1_000);
    fwd.terminate().assert_clean_stop(1_000);
    assert_positions_at_ends(&f.cfg, "shipper", &topics);

    write_range(&f.cfg, &topics, 500, 800);
    let fwd = f.forward(&["--ensure-stream", "LOGS", "--stats", "--stats-interval", "0.2", "--json"]);
    let (_, started) = fwd.wait_started();
    assert!(started.contains("stream LOGS)"), "the stream exists now: {started}");
    wait_for("the stream to hold the new records too", || stream_len(&conn, "LOGS") == 1_600);
    let stopped = fwd.terminate();
    stopped.assert_clean_stop(600);
    let reports = stopped.reports();
    let last = reports.last().expect("a final report");
    assert_eq!(last["last"], true, "{last}");
    // Sent once each: the positions saved at the first stop were exact.
    assert_eq!(
        (last["records"].as_u64(), last["sent"].as_u64(), last["duplicates"].as_u64()),
        (Some(600), Some(600), Some(0))
    );
    assert_positions_at_ends(&f.cfg, "shipper", &topics);
    assert_exactly_once_in_order(&read_stream(&conn, "LOGS"), &topics, 800);
}

#[test]
fn without_a_stream_for_the_subjects_forward_warns_and_ships_once_one_exists() {
    let f = Fixture::new(", \"retry_initial_ms\": 20, \"retry_max_ms\": 200");
    let topics = topic_names(2);
    write_log(&f.cfg, &topics, 100);

    let fwd = f.forward(&[]);
    let (warnings, started) = fwd.wait_started();
    assert!(
        warnings.len() == 1
            && warnings[0].starts_with("logstream: warning: no JetStream stream")
            && warnings[0].contains("logs.*"),
        "{warnings:?}"
    );
    assert!(started.contains("no stream yet"), "{started}");
    let conn = f.client();
    let opts = NatsOptions::new(&f.server.url(), SUBJECT).expect("options");
    conn.ensure_stream(&StreamSpec::new("LATE", opts.subject())).expect("create the stream");
    wait_for("the retried batches to fill the stream", || stream_len(&conn, "LATE") == 200);
    fwd.terminate().assert_clean_stop(200);
    // Once: a record the stream took while the batch around it failed is
    // dropped as a duplicate on the retry. In order only by sequence
    // number: the records after it in that batch were stored before the
    // retry stored the ones before it (logstream-nats' "Ordering").
    let mut found = read_stream(&conn, "LATE");
    found.values_mut().for_each(|records| records.sort());
    assert_exactly_once_in_order(&found, &topics, 100);
}

#[test]
fn a_topic_on_the_config_files_black_list_is_not_shipped() {
    let f = Fixture::new(", \"black_topics\": [\"secret\"]");
    write_log(&f.cfg, &["public".to_owned(), "secret".to_owned()], 300);

    let fwd = f.forward(&["--ensure-stream", "LOGS", "--stats", "--json"]);
    fwd.wait_started();
    let conn = f.client();
    wait_for("the public topic to be shipped and its position saved", || {
        stream_len(&conn, "LOGS") == 300
            && logstream::Group::open(&f.cfg, "shipper")
                .and_then(|g| g.lag())
                .is_ok_and(|lag| lag.iter().any(|l| l.topic == "public" && l.confirmed == Some(300)))
    });
    let stopped = fwd.terminate();
    stopped.assert_clean_stop(300);
    let last = stopped.reports().pop().expect("the final report");
    assert_eq!(last["lag"].as_array().map(Vec::len), Some(1), "only the public topic can be behind: {last}");
    assert_eq!(last["lag"][0]["topic"], "public");
    let found = read_stream(&conn, "LOGS");
    assert_eq!(found.keys().collect::<Vec<_>>(), ["public"]);
    assert_exactly_once_in_order(&found, &["public".to_owned()], 300);
    let lag = logstream::Group::open(&f.cfg, "shipper").and_then(|g| g.lag()).expect("the group's lag");
    assert!(lag.iter().all(|l| l.topic != "secret" || l.confirmed.is_none()), "{lag:?}");
}

#[test]
fn a_topic_taken_off_the_black_list_is_shipped_without_a_restart() {
    let f = Fixture::new(", \"black_topics\": [\"secret\"]");
    let topics = ["public".to_owned(), "secret".to_owned()];
    write_log(&f.cfg, &topics, 300);

    let fwd = f.forward(&["--ensure-stream", "LOGS"]);
    fwd.wait_started();
    let conn = f.client();
    wait_for("the public topic to be shipped", || stream_len(&conn, "LOGS") == 300);
    f.config_file("");
    wait_for("the secret topic to be shipped too", || stream_len(&conn, "LOGS") == 600);
    let stopped = fwd.terminate();
    stopped.assert_clean_stop(600);
    assert!(stopped.stderr.iter().any(|l| l.contains("black/white lists reloaded")), "{stopped:#?}");
    assert_exactly_once_in_order(&read_stream(&conn, "LOGS"), &topics, 300);
}

#[test]
fn stats_json_prints_one_object_per_report_with_the_documented_fields() {
    let f = Fixture::new("");
    let topics = topic_names(2);
    write_log(&f.cfg, &topics, 200);

    let fwd = f.forward(&["--ensure-stream", "LOGS", "--stats", "--stats-interval", "0.1", "--json"]);
    fwd.wait_started();
    let mut during = Vec::new();
    loop {
        let line = fwd.stdout.next("a report");
        let report: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let done = report["records"] == 400 && report["lag_records"] == 0;
        during.push(report);
        if done {
            break;
        }
    }
    let stopped = fwd.terminate();
    stopped.assert_clean_stop(400);
    assert!(
        !stopped.stderr.iter().any(|l| l.ends_with("retries; lag 0")),
        "with --json the reports go to stdout only: {stopped:#?}"
    );
    let reports: Vec<serde_json::Value> = during.into_iter().chain(stopped.reports()).collect();
    for r in &reports {
        for number in [
            "elapsed_s",
            "records",
            "bytes",
            "rate",
            "batches",
            "sent",
            "duplicates",
            "failures",
            "retries",
            "dead_letters",
            "topics_owned",
            "config_reloads",
            "lag_records",
            "lag_bytes",
        ] {
            assert!(r[number].is_number(), "{number} in {r}");
        }
        assert!(r["last"].is_boolean() && r["lag"].is_array(), "{r}");
    }
    let last = reports.last().expect("reports");
    assert_eq!((last["last"].as_bool(), last["records"].as_u64()), (Some(true), Some(400)), "{last}");
    assert_eq!(reports.iter().filter(|r| r["last"] == true).count(), 1);
    let lag = last["lag"].as_array().expect("lag");
    assert_eq!(lag.len(), 2, "{last}");
    for (l, topic) in lag.iter().zip(&topics) {
        assert_eq!(l["topic"], topic.as_str());
        assert_eq!(
            (l["next_seq"].as_u64(), l["confirmed"].as_u64(), l["lag_records"].as_u64()),
            (Some(200), Some(200), Some(0))
        );
        assert!(l["lag_bytes"].is_number(), "{l}");
    }
}

#[test]
fn a_batch_larger_than_the_window_that_no_stream_takes_is_retried_and_sigterm_stops_within_the_bound() {
    // The reproduction: one batch of 10 000 records (more than the
    // 4 096 acks in flight) whose every ack fails. Before the fix the batch
    // never ended: `0 failures, 0 retries; lag 10000` forever, and SIGTERM
    // waited for it forever.
    let log = Log::empty();
    let lines: String = (1..=10_000).map(|i| format!("{i}\n")).collect();
    log.cmd().args(["write", "t00"]).write_stdin(lines).timeout(PATIENCE).assert().success();
    let server = NatsServer::start();
    let url = server.url();
    let ack_timeout = std::time::Duration::from_secs(1);
    let fwd = Sidecar::start(
        LogArg::Dir(log.dir()),
        &[
            "--to",
            &url,
            "--subject",
            "nostream.{topic}",
            "--group",
            "g",
            "--ack-timeout",
            "1",
            "--stats",
            "--stats-interval",
            "0.2",
            "--json",
        ],
    );
    fwd.wait_started();
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        assert!(std::time::Instant::now() < deadline, "no failed and retried batch within {PATIENCE:?}");
        let line = fwd.stdout.next("a report with failed and retried batches");
        let report: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(report["records"], 0, "no stream captures the subject, yet records were forwarded: {report}");
        if report["failures"].as_u64() >= Some(3) && report["retries"].as_u64() >= Some(3) {
            assert_eq!(report["lag_records"], 10_000, "{report}");
            break;
        }
    }
    let asked = std::time::Instant::now();
    let stopped = fwd.terminate();
    let took = asked.elapsed();
    stopped.assert_clean_stop(0);
    // The documented bound is twice the ack timeout; the rest is slack
    // for a loaded machine, not a speed requirement.
    assert!(took < 2 * ack_timeout + std::time::Duration::from_secs(5), "SIGTERM took {took:?}: {stopped:#?}");
}

#[test]
fn a_stream_whose_duplicate_window_is_shorter_than_the_ride_out_is_warned_about_at_start_and_in_every_report() {
    let f = Fixture::new("");
    let topics = topic_names(1);
    write_log(&f.cfg, &topics, 10);
    let conn = f.client();
    let opts = NatsOptions::new(&f.server.url(), SUBJECT).expect("options");
    let short = StreamSpec::new("SHORT", opts.subject()).duplicate_window(std::time::Duration::from_secs(10));
    conn.ensure_stream(&short).expect("create the stream");

    // The default ride-out (2 minutes) is longer than the window.
    let fwd = f.forward(&["--stats", "--stats-interval", "0.2", "--json"]);
    let (warnings, _) = fwd.wait_started();
    assert!(
        warnings.len() == 1 && warnings[0].contains("stream SHORT de-duplicates re-sent records for 10s only"),
        "{warnings:?}"
    );
    let report: serde_json::Value = serde_json::from_str(&fwd.stdout.next("a report")).expect("JSON");
    assert_eq!(report["dedup_window_s"], 10.0, "{report}");
    assert!(report["warning"].as_str().is_some_and(|w| w.contains("--ride-out 120s")), "{report}");
    fwd.terminate().assert_stopped_cleanly();

    // Told to ride out 5 s only: the window covers it.
    let fwd = f.forward(&["--ride-out", "5", "--stats", "--stats-interval", "0.2", "--json"]);
    let (warnings, _) = fwd.wait_started();
    assert!(warnings.is_empty(), "{warnings:?}");
    let report: serde_json::Value = serde_json::from_str(&fwd.stdout.next("a report")).expect("JSON");
    assert_eq!((report["dedup_window_s"].as_f64(), report["warning"].is_null()), (Some(10.0), true), "{report}");
    fwd.terminate().assert_stopped_cleanly();

    // --ensure-stream refuses the stream, and creates a new one with a
    // window as long as the ride-out.
    let refused = f.forward(&["--ensure-stream", "SHORT", "--ride-out", "600"]).exited();
    assert_eq!(refused.status.code(), Some(1), "{refused:#?}");
    assert!(refused.stderr.iter().any(|l| l.contains("duplicate_window is 10s")), "{refused:#?}");
    delete_stream(&conn, "SHORT");
    let fwd = f.forward(&["--ensure-stream", "LONG", "--ride-out", "600"]);
    let (warnings, started) = fwd.wait_started();
    assert!(warnings.is_empty() && started.contains("stream LONG created"), "{warnings:?} {started}");
    assert_eq!(conn.duplicate_window("LONG").expect("the window"), std::time::Duration::from_secs(600));
    fwd.terminate().assert_stopped_cleanly();
}
