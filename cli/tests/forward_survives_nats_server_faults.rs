//! `logstream forward` against a real nats-server that the test kills
//! (SIGKILL), stops (SIGTERM), pauses (SIGSTOP, so acks time out) and
//! resumes, or whose stream it deletes and re-creates, while a writer
//! appends to the log: every record ends up in the stream once (JetStream
//! de-duplicates re-sends by `Nats-Msg-Id` within the stream's duplicate
//! window), and the sidecar stops cleanly on SIGTERM within twice its ack
//! timeout, even while the server is down or paused.
mod common;
mod sidecar;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use logstream_nats::testing::{NatsServer, delete_stream, read_stream, stream_len};
use logstream_nats::{NatsConnection, NatsOptions, StreamSpec};
use logstream_ship::testing::{Topics, assert_exactly_once_in_order, payload, topic_names};
use sidecar::{LogArg, Sidecar};

const SUBJECT: &str = "logs.{topic}";
const TOPICS: usize = 4;
const PER_TOPIC: u64 = 5_000;
const TOTAL: u64 = TOPICS as u64 * PER_TOPIC;
/// `--ack-timeout`: the documented stop bound is twice this.
const ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// Added to the bound for a loaded machine: not a speed requirement.
const SLACK: Duration = Duration::from_secs(5);
/// `--window`: smaller than most batches (the paced writer makes batches
/// of about 50 to 200 records, more after an outage), so that a fault hits
/// batches larger than the window, which used to hang the sidecar for good.
const WINDOW: &str = "64";
/// The warning the reader prints for each failed batch.
const FAILED: &str = "forwarder failed on topic";

/// A server, a log a writer appends to for a few seconds, and a sidecar
/// shipping it into the stream LOGS.
struct Scenario {
    server: NatsServer,
    tmp: tempfile::TempDir,
    topics: Vec<String>,
    writer: Option<JoinHandle<()>>,
    written: Arc<AtomicBool>,
}

impl Scenario {
    fn start() -> (Scenario, Sidecar) {
        let tmp = tempfile::tempdir().expect("temporary directory");
        // Quick retries, so that the stream fills again soon after a fault.
        std::fs::write(
            tmp.path().join("meta.json"),
            "{\"base_dir\": \"log\", \"retry_initial_ms\": 20, \"retry_max_ms\": 300}\n",
        )
        .expect("write the config file");
        let mut s = Scenario {
            server: NatsServer::start(),
            tmp,
            topics: topic_names(TOPICS),
            writer: None,
            written: Arc::default(),
        };
        let fwd = s.forward();
        let (_, started) = fwd.wait_started();
        assert!(started.contains("stream LOGS"), "{started}");
        s.writer = Some(s.spawn_writer());
        (s, fwd)
    }

    /// Appends the records over about four seconds (paced, so that faults
    /// land while records flow; the pace shapes the load, nothing waits on it).
    fn spawn_writer(&self) -> JoinHandle<()> {
        let mut cfg = logstream::Config::new(self.tmp.path().join("log"));
        cfg.set_flush_interval_ms(10);
        let topics = self.topics.clone();
        let written = self.written.clone();
        std::thread::Builder::new()
            .name("test-writer".into())
            .spawn(move || {
                let w = logstream::Writer::open(&cfg).expect("open the writer");
                for seq in 0..PER_TOPIC {
                    for t in &topics {
                        assert_eq!(w.write(t, &payload(t, seq)).expect("write"), seq);
                    }
                    if seq.is_multiple_of(50) {
                        std::thread::sleep(Duration::from_millis(40));
                    }
                }
                w.close().expect("close the writer");
                written.store(true, Ordering::SeqCst);
            })
            .expect("spawn the writer")
    }

    /// `logstream --config meta.json forward … --ensure-stream LOGS`.
    fn forward(&self) -> Sidecar {
        let url = self.server.url();
        let args = [
            "--to",
            &url,
            "--subject",
            SUBJECT,
            "--group",
            "shipper",
            "--ensure-stream",
            "LOGS",
            "--ack-timeout",
            "1",
            "--window",
            WINDOW,
            // A final JSON report on stdout with the count of re-sends the
            // server answered as duplicates.
            "--stats",
            "--json",
            "--stats-interval",
            "60",
        ];
        Sidecar::start(LogArg::Config(&self.tmp.path().join("meta.json")), &args)
    }

    /// The test's own client.
    fn client(&self) -> NatsConnection {
        let opts = NatsOptions::new(&self.server.url(), SUBJECT).expect("options");
        NatsConnection::connect(&opts).expect("connect")
    }

    /// Waits until the stream holds at least `n` messages; returns how many.
    fn wait_stream(&self, n: u64) -> u64 {
        let mut len = 0;
        wait_for(&format!("{n} messages in the stream"), || {
            len = self.client_len();
            len >= n
        });
        len
    }

    fn client_len(&self) -> u64 {
        stream_len(&self.client(), "LOGS")
    }

    /// Waits for the writer, then for the group to confirm every record;
    /// stops the sidecar and returns the stream's records by sequence
    /// number, and how many of the sidecar's publishes the server answered
    /// as duplicates.
    fn finish(mut self, fwd: Sidecar) -> (Topics, u64, NatsServer, tempfile::TempDir) {
        self.writer.take().expect("the writer").join().expect("the writer thread");
        assert!(self.written.load(Ordering::SeqCst));
        let cfg = logstream::Config::new(self.tmp.path().join("log"));
        wait_for("the group to confirm every record", || {
            logstream::Group::open(&cfg, "shipper")
                .and_then(|g| g.lag())
                .is_ok_and(|lag| lag.len() == TOPICS && lag.iter().all(|l| l.confirmed == Some(PER_TOPIC)))
        });
        let stopped = stop_within_the_bound(fwd);
        let reports = stopped.reports();
        let last = reports.last().expect("the final report");
        assert_eq!(last["last"], true, "{last}");
        let duplicates = last["duplicates"].as_u64().expect("a duplicate count");
        let mut found = read_stream(&self.client(), "LOGS");
        // Around a reconnect a batch's later records can be stored before
        // the retry stores its earlier ones (logstream-nats' "Ordering"):
        // each record once, in order by sequence number.
        found.values_mut().for_each(|records| records.sort());
        (found, duplicates, self.server, self.tmp)
    }
}

/// SIGTERM; asserts a clean stop (exit 0, positions saved) within twice
/// the ack timeout (plus slack).
fn stop_within_the_bound(fwd: Sidecar) -> sidecar::Stopped {
    let asked = Instant::now();
    let stopped = fwd.terminate();
    let took = asked.elapsed();
    stopped.assert_stopped_cleanly();
    assert!(took < 2 * ACK_TIMEOUT + SLACK, "SIGTERM took {took:?}: {stopped:#?}");
    stopped
}

/// When the new sidecar starts after the last fault, relative to the heal.
#[derive(Clone, Copy)]
enum Restart {
    /// Once the server is back (a killed or stopped server refuses
    /// connections until then).
    AfterHeal,
    /// While the server is still paused: its connection waits in the
    /// server's accept queue, so that once resumed the server reads the
    /// stopped sidecar's buffered messages from the old connection while
    /// the new sidecar re-sends the same records on its own. JetStream
    /// de-duplicates them by `Nats-Msg-Id` (checked and recorded under one
    /// lock per stream in nats-server 2.9), provided both sidecars give a
    /// record the same id.
    BeforeHeal,
}

/// Runs `rounds` faults at growing fill levels of the stream: `fault`
/// breaks the server, the sidecar reports a failed batch, `heal` mends
/// it. Then one more fault during which the sidecar gets SIGTERM (it must
/// stop within the bound while the server is broken) and a new sidecar,
/// started as `restart` says and without waiting for the old connection
/// to go, finishes the job. Asserts every record is in the stream exactly
/// once.
fn ride_out(rounds: u64, fault: fn(&mut NatsServer), heal: fn(&mut NatsServer), restart: Restart) {
    let (mut s, fwd) = Scenario::start();
    let mut at_faults = Vec::new();
    for round in 1..=rounds {
        s.wait_stream(TOTAL * round / (rounds + 2));
        fwd.drain_stderr();
        at_faults.push(s.client_len());
        fault(&mut s.server);
        fwd.wait_stderr(FAILED);
        heal(&mut s.server);
    }
    s.wait_stream(TOTAL * (rounds + 1) / (rounds + 2));
    fwd.drain_stderr();
    at_faults.push(s.client_len());
    fault(&mut s.server);
    fwd.wait_stderr(FAILED);
    stop_within_the_bound(fwd);
    let fwd = match restart {
        Restart::AfterHeal => {
            heal(&mut s.server);
            s.forward()
        }
        Restart::BeforeHeal => {
            let fwd = s.forward();
            heal(&mut s.server);
            fwd
        }
    };
    fwd.wait_started();
    let topics = s.topics.clone();
    let (found, re_sent, server, _tmp) = s.finish(fwd);
    assert!(
        at_faults.iter().all(|&n| n < TOTAL),
        "the stream was full before a fault ({at_faults:?}); nothing was tested"
    );
    if let Restart::BeforeHeal = restart {
        // The stopped sidecar's failed batch was still in the old
        // connection when the new one re-sent it: the race was run.
        assert!(re_sent > 0, "the new sidecar re-sent nothing the stream held; nothing was tested");
    }
    let total: usize = found.values().map(Vec::len).sum();
    let duplicated: Vec<(&String, u64, u64, usize)> = found
        .iter()
        .filter_map(|(t, v)| {
            let d: Vec<u64> = v.windows(2).filter(|w| w[0].0 == w[1].0).map(|w| w[0].0).collect();
            Some((t, *d.first()?, *d.last()?, d.len()))
        })
        .collect();
    assert_eq!(
        total as u64,
        TOTAL,
        "duplicates (topic, first, last, count): {duplicated:?}; server log:\n{}",
        server.log()
    );
    assert_exactly_once_in_order(&found, &topics, PER_TOPIC);
    eprintln!(
        "faults at stream lengths {at_faults:?} of {TOTAL}; the new sidecar's re-sends of records the stream held: {re_sent}"
    );
}

#[test]
fn a_server_killed_three_times_mid_stream_leaves_every_record_once() {
    ride_out(3, NatsServer::kill, NatsServer::restart, Restart::AfterHeal);
}

#[test]
fn a_server_stopped_three_times_mid_stream_leaves_every_record_once() {
    ride_out(3, NatsServer::terminate, NatsServer::restart, Restart::AfterHeal);
}

#[test]
fn a_paused_server_times_acks_out_and_once_resumed_gets_every_record_once() {
    ride_out(2, NatsServer::pause, NatsServer::resume, Restart::BeforeHeal);
}

#[test]
fn a_stream_deleted_and_recreated_mid_stream_gets_every_record_not_yet_stored() {
    let (s, fwd) = Scenario::start();
    let conn = s.client();
    s.wait_stream(TOTAL / 3);
    let before = read_stream(&conn, "LOGS");
    fwd.drain_stderr();
    delete_stream(&conn, "LOGS");
    fwd.wait_stderr(FAILED);
    let opts = NatsOptions::new(&s.server.url(), SUBJECT).expect("options");
    conn.ensure_stream(&StreamSpec::new("LOGS", opts.subject())).expect("re-create the stream");
    let topics = s.topics.clone();
    let (found, _, server, _tmp) = s.finish(fwd);
    // What the old stream held went with it; the new one must hold the
    // rest of each topic, once each, without a gap: every record the
    // forwarder had not stored in the old stream when it was deleted.
    for t in &topics {
        let seen_before = before.get(t).map_or(0, Vec::len) as u64;
        let records = found.get(t).map(Vec::as_slice).unwrap_or_default();
        let first = records.first().map_or(PER_TOPIC, |r| r.0);
        assert!(first >= seen_before, "topic {t}: the new stream starts at {first}, yet the old held {seen_before}");
        let seqs: Vec<u64> = records.iter().map(|r| r.0).collect();
        assert!(seqs.iter().copied().eq(first..PER_TOPIC), "topic {t}: not {first}..{PER_TOPIC} once each");
        for (seq, data) in records {
            assert_eq!(data, &payload(t, *seq), "topic {t} record {seq}");
        }
    }
    let kept: u64 = found.values().map(|v| v.len() as u64).sum();
    assert!(kept > 0 && kept < TOTAL, "the deletion did not land mid-stream: {kept} of {TOTAL}; {}", server.log());
    eprintln!(
        "the old stream held at least {} records; the new one {kept}",
        before.values().map(Vec::len).sum::<usize>()
    );
}
