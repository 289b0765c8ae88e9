//! A `logstream forward` sidecar SIGKILLed in the middle of big batches and
//! restarted re-sends, as README ("Shipping to NATS / Kafka") states, "at
//! most the in-flight window plus what was acknowledged within the last
//! `checkpoint_interval_ms` — not the whole batch" (issue 15, item 3).
//!
//! Each topic's backlog is one batch (`max_batch_bytes` holds it all), so a
//! sidecar that confirmed a batch only when it ended would re-send
//! everything since its start. The stream's duplicate window is 100 ms (the
//! least nats-server allows), shorter than a restart takes, so the server
//! de-duplicates nothing a restart re-sends: every re-sent record the stream
//! already held is stored again and counted, and the final count must match
//! the sum of the rounds' re-sends exactly.
//!
//! Per kill, with `W` the `--window` and `S(t)` the stream's length:
//! re-sent = what the stream held at the kill − the saved positions. The
//! stored-but-unacknowledged records are at most `W` (each holds a permit
//! of the window), and what was acknowledged since the last saved
//! position is at most the stream's growth over the last checkpoint
//! interval plus `W` (the stream can be up to `W` ahead of the acks at the
//! interval's start). So the test asserts
//! `re-sent <= 2 W + S(kill) - S(kill - checkpoint interval - GRACE)`,
//! where `S(kill)` is read once the killed sidecar's connection is gone
//! (the most the stream can hold from it) and the earlier length is a
//! sample whose answer arrived by then.
mod common;
mod sidecar;

use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use logstream_nats::testing::{NatsServer, read_stream, stream_len};
use logstream_nats::{NatsConnection, NatsOptions, StreamSpec};
use logstream_ship::testing::{Topics, assert_exactly_once_in_order, topic_names, write_log};
use sidecar::{LogArg, Sidecar};

const SUBJECT: &str = "logs.{topic}";
const STREAM: &str = "LOGS";
const GROUP: &str = "shipper";
const TOPICS: usize = 4;
const PER_TOPIC: u64 = 60_000;
const TOTAL: u64 = TOPICS as u64 * PER_TOPIC;
/// `--window`: publishes awaiting their ack, shared by all topics.
const WINDOW: u64 = 64;
/// `checkpoint_interval_ms` in the config file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// Added to the checkpoint interval: a persist still writing (syncing the
/// checkpoint file) when the kill lands leaves the one before it, and a
/// loaded machine runs the reader's checkpoint tick late. Still well below
/// the growth before a kill, so whole-batch re-sends cannot hide in it.
const GRACE: Duration = Duration::from_millis(100);
/// The stream's: the least nats-server allows.
const DUPLICATE_WINDOW: Duration = Duration::from_millis(100);
/// Kills.
const ROUNDS: usize = 3;
/// How much the stream grows after a restart's re-sends are saved before
/// the next kill (picked at random): each kill lands well inside the
/// batches, which started before the growth.
const GROWTH: RangeInclusive<u64> = 20_000..=35_000;

#[test]
fn a_sidecar_killed_three_times_mid_stream_re_sends_at_most_its_window_and_one_checkpoint_interval() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        tmp.path().join("meta.json"),
        format!(
            "{{\"base_dir\": \"log\", \"checkpoint_interval_ms\": {}, \"max_batch_bytes\": \"64M\"}}\n",
            CHECKPOINT_INTERVAL.as_millis()
        ),
    )
    .expect("write the config file");
    let cfg = logstream::Config::new(tmp.path().join("log"));
    let topics = topic_names(TOPICS);
    write_log(&cfg, &topics, PER_TOPIC);

    let server = NatsServer::start();
    let conn = client(&server);
    let opts = NatsOptions::new(&server.url(), SUBJECT).expect("options");
    conn.ensure_stream(&StreamSpec::new(STREAM, opts.subject()).duplicate_window(DUPLICATE_WINDOW))
        .expect("create the stream");
    let sampler = Sampler::start(&server);
    let own_connections = server.client_connections();
    let mut rng = Rng::seeded();

    // Copies beyond the first of a record in the stream, and per topic the
    // records 0..n the stream held at the last kill.
    let mut extra = 0;
    let mut stored = vec![0; TOPICS];
    let mut rounds = Vec::new();
    for round in 1..=ROUNDS {
        let fwd = forward(tmp.path(), &server);
        let (warnings, _) = fwd.wait_started();
        assert!(
            warnings.iter().any(|w| w.contains("de-duplicates re-sent records for 100ms only")),
            "the sidecar sees that re-sends are stored again: {warnings:?}"
        );
        // The restart's re-sends are in the stream and saved: what the
        // stream gets from here on is new.
        wait_for("the restarted sidecar to save positions past what the stream held", || {
            saved(&cfg, &topics).iter().zip(&stored).all(|(s, n)| s >= n)
        });
        let growth = rng.pick(&GROWTH);
        let from = sampler.latest();
        wait_for(&format!("the stream to grow by {growth} after {from}"), || sampler.latest() >= from + growth);

        let killed_at = Instant::now();
        fwd.kill();
        wait_for("the killed sidecar's connection to be gone", || server.client_connections() == own_connections);
        let len = stream_len(&conn, STREAM);
        let now_stored: Vec<u64> = topics.iter().map(|t| stored_prefix(&conn, t)).collect();
        let positions = saved(&cfg, &topics);
        let distinct: u64 = now_stored.iter().sum();
        assert_eq!(
            len,
            distinct + extra,
            "round {round}: the stream holds 0..n of each topic plus the re-sends so far"
        );
        assert!(distinct < TOTAL, "round {round}: the stream was full at the kill; nothing was tested");
        let re_sent: u64 =
            now_stored.iter().zip(&positions).map(|(n, p)| n.checked_sub(*p).expect("saved <= stored")).sum();
        let before = sampler.at_or_before(killed_at - CHECKPOINT_INTERVAL - GRACE);
        let bound = 2 * WINDOW + (len - before);
        assert!(
            bound < growth,
            "round {round}: the bound {bound} is not below a whole batch's re-send (at least {growth}): \
             this machine ships too fast for the test to tell them apart"
        );
        assert!(
            re_sent <= bound,
            "round {round}: {re_sent} records would be re-sent (stored {now_stored:?}, saved {positions:?}), more than \
             the window {WINDOW} plus what was acknowledged within one checkpoint interval (bound {bound})"
        );
        rounds.push((len, re_sent, bound));
        extra += re_sent;
        stored = now_stored;
    }

    let fwd = forward(tmp.path(), &server);
    fwd.wait_started();
    wait_for("the last sidecar to save every position at the end", || {
        saved(&cfg, &topics).iter().all(|&p| p == PER_TOPIC)
    });
    fwd.terminate().assert_stopped_cleanly();
    drop(sampler);

    let mut found = read_stream(&conn, STREAM);
    let copies: u64 = found.values().map(|v| v.len() as u64).sum();
    assert_eq!(copies, TOTAL + extra, "every re-send is in the stream: the counts per round add up");
    dedup(&mut found);
    assert_exactly_once_in_order(&found, &topics, PER_TOPIC);
    eprintln!("per kill (stream length, re-sent, bound): {rounds:?}; {extra} re-sent of {TOTAL}");
}

/// `logstream --config meta.json forward … --window 64` into the stream
/// made by the test (no `--ensure-stream`: it would widen the window).
fn forward(dir: &Path, server: &NatsServer) -> Sidecar {
    let url = server.url();
    let window = WINDOW.to_string();
    let args = ["--to", &url, "--subject", SUBJECT, "--group", GROUP, "--window", &window];
    Sidecar::start(LogArg::Config(&dir.join("meta.json")), &args)
}

fn client(server: &NatsServer) -> NatsConnection {
    NatsConnection::connect(&NatsOptions::new(&server.url(), SUBJECT).expect("options")).expect("connect")
}

/// The group's saved position of each topic (0 before the first save,
/// also before the group exists).
fn saved(cfg: &logstream::Config, topics: &[String]) -> Vec<u64> {
    let positions = match logstream::Group::open(cfg, GROUP).and_then(|g| g.positions()) {
        Ok(p) => p,
        Err(logstream::Error::NoSuchGroup { .. }) => Vec::new(),
        Err(e) => panic!("read the saved positions: {e}"),
    };
    topics.iter().map(|t| positions.iter().find(|p| &p.topic == t).map_or(0, |p| p.next_seq)).collect()
}

/// How many records of `topic` the stream holds: the sidecar publishes
/// each topic in order, so its last message is record n - 1 (its
/// `logstream-seq`) after a restart's re-sends are all in.
fn stored_prefix(conn: &NatsConnection, topic: &str) -> u64 {
    conn.runtime().expect("a connection made with connect has a runtime").block_on(async {
        let stream = conn.jetstream().get_stream(STREAM).await.expect("the stream");
        let last = stream
            .get_last_raw_message_by_subject(&format!("logs.{topic}"))
            .await
            .unwrap_or_else(|e| panic!("the last message of topic {topic}: {e}"));
        let seq = last.headers.get(logstream_nats::headers::SEQ).expect("a seq header");
        seq.as_str().parse::<u64>().expect("a number") + 1
    })
}

/// Sorts each topic's records and drops the second copies.
fn dedup(found: &mut Topics) {
    for records in found.values_mut() {
        records.sort();
        records.dedup();
    }
}

/// The stream's length read over and over on a thread of its own, with
/// when each answer arrived.
struct Sampler {
    samples: Arc<Mutex<Vec<(Instant, u64)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    fn start(server: &NatsServer) -> Sampler {
        let conn = client(server);
        let samples: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let (s, halt) = (samples.clone(), stop.clone());
        let first = stream_len(&conn, STREAM);
        samples.lock().expect("samples").push((Instant::now(), first));
        let thread = std::thread::Builder::new()
            .name("test-stream-sampler".into())
            .spawn(move || {
                while !halt.load(Ordering::Relaxed) {
                    let len = stream_len(&conn, STREAM);
                    s.lock().expect("samples").push((Instant::now(), len));
                    // Pacing only: a sample every few ms is plenty and
                    // leaves the two cores to the sidecar and the server.
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
            .expect("spawn the sampler");
        Sampler { samples, stop, thread: Some(thread) }
    }

    fn latest(&self) -> u64 {
        self.samples.lock().expect("samples").last().map_or(0, |s| s.1)
    }

    /// The last length whose answer arrived by `at`: the stream held that
    /// many at a moment no later than `at`.
    fn at_or_before(&self, at: Instant) -> u64 {
        let samples = self.samples.lock().expect("samples");
        samples.iter().take_while(|s| s.0 <= at).last().map_or(0, |s| s.1)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A small xorshift generator; the seed is printed, and
/// `LOGSTREAM_TEST_SEED` replays a run.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = std::env::var("LOGSTREAM_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
        });
        eprintln!("LOGSTREAM_TEST_SEED={seed}");
        Rng(seed | 1)
    }

    fn pick(&mut self, range: &RangeInclusive<u64>) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        range.start() + self.0 % (range.end() - range.start() + 1)
    }
}
