//! Helpers shared by the scenario tests: a real `nats-server` with
//! JetStream on a free loopback port, logs, and reading a stream back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, pull};
use futures_util::StreamExt;
use logstream_nats::NatsConnection;

/// Records per topic: (seq, data), as found in a log or a stream.
pub type Topics = BTreeMap<String, Vec<(u64, Vec<u8>)>>;

/// A `nats-server -js` on 127.0.0.1 with its store in a temp dir; stopped on drop.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    store: tempfile::TempDir,
}

fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
    for d in dirs {
        let p = d.join("nats-server");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "nats-server is not installed: these tests need a real NATS server with JetStream. \
         Install it with `apt-get install -y nats-server` (CI's .ci/run does), or point NATS_SERVER at the binary."
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections.
    pub fn start() -> NatsServer {
        let mut s = NatsServer { child: None, port: free_port(), store: tempfile::tempdir().unwrap() };
        s.restart();
        s
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and store.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let log = std::fs::File::create(self.store.path().join("server.log")).unwrap();
        let child = Command::new(server_binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.store.path().join("js"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let port = self.port;
        wait_for("nats-server to accept connections", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Stops the server gracefully (SIGTERM, as a service manager does) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(c.id() as i32);
            let _ = c.wait();
        }
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.store.path().join("server.log")).unwrap_or_default()
    }
}

fn terminate(pid: i32) {
    // SAFETY: kill(2) on the pid of a child this process spawned and has not reaped.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A log config on `dir` with short intervals so tests finish fast.
pub fn config(dir: &Path) -> logstream::Config {
    let mut cfg = logstream::Config::new(dir);
    cfg.set_flush_interval_ms(10).set_poll_interval_ms(200).set_retry_initial_ms(20).set_retry_max_ms(500);
    // Many batches per topic, so that failures land in the middle of topics.
    cfg.set_max_batch_bytes(16 * 1024);
    cfg
}

/// Polls `cond` until it holds; panics with `what` after `timeout` (a
/// safety net: conditions are real events, this only bounds a hung test).
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Deterministic payload for (topic, seq).
pub fn payload(topic: &str, seq: u64) -> Vec<u8> {
    format!("{topic}:{seq}:{}", "x".repeat((seq % 37) as usize)).into_bytes()
}

/// Topic names `t00`, `t01`, …
pub fn topic_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i:02}")).collect()
}

/// Writes `per_topic` records to each topic, interleaved, and closes the writer.
pub fn write_log(cfg: &logstream::Config, topics: &[String], per_topic: u64) {
    let w = logstream::Writer::open(cfg).unwrap();
    for seq in 0..per_topic {
        for t in topics {
            assert_eq!(w.write(t, &payload(t, seq)).unwrap(), seq);
        }
    }
    w.close().unwrap();
}

/// True when the reader confirmed every record of every topic.
pub fn all_confirmed(reader: &logstream::ReaderHandle, topics: usize, per_topic: u64) -> bool {
    let p = reader.positions();
    p.len() == topics && p.iter().all(|(_, confirmed, _)| *confirmed == per_topic)
}

/// Messages in the stream.
pub fn stream_len(conn: &NatsConnection, stream: &str) -> u64 {
    conn.runtime().block_on(async {
        let mut s = conn.jetstream().get_stream(stream).await.unwrap();
        s.info().await.unwrap().state.messages
    })
}

/// Every message of the stream, per `Logstream-Topic`, in stream order.
pub fn read_stream(conn: &NatsConnection, stream: &str) -> Topics {
    let total = stream_len(conn, stream);
    conn.runtime().block_on(async {
        let s = conn.jetstream().get_stream(stream).await.unwrap();
        let consumer =
            s.create_consumer(pull::Config { ack_policy: AckPolicy::None, ..Default::default() }).await.unwrap();
        let mut msgs = consumer.messages().await.unwrap();
        let mut out = Topics::new();
        for _ in 0..total {
            let m = tokio::time::timeout(Duration::from_secs(30), msgs.next()).await.unwrap().unwrap().unwrap();
            let h = m.message.headers.as_ref().unwrap();
            let topic = h.get(logstream_nats::headers::TOPIC).unwrap().as_str().to_owned();
            let seq: u64 = h.get(logstream_nats::headers::SEQ).unwrap().as_str().parse().unwrap();
            out.entry(topic).or_default().push((seq, m.message.payload.to_vec()));
        }
        out
    })
}

/// Every record of every topic of a log, read with pull cursors.
pub fn read_log(cfg: &logstream::Config, topics: &[String]) -> Topics {
    let mut out = Topics::new();
    for t in topics {
        let mut r = logstream::TopicReader::open(cfg, t, 0).unwrap();
        let v = out.entry(t.clone()).or_default();
        while let Some(b) = r.next_batch(1 << 20).unwrap() {
            v.extend(b.records().map(|rec| (rec.seq(), rec.data().to_vec())));
        }
    }
    out
}

/// Asserts that each topic holds exactly records `0..per_topic`, once, in
/// order, with the payloads written.
pub fn assert_exactly_once_in_order(found: &Topics, topics: &[String], per_topic: u64) {
    assert_eq!(found.len(), topics.len(), "topics found: {:?}", found.keys().collect::<Vec<_>>());
    for t in topics {
        let v = &found[t];
        let seqs: Vec<u64> = v.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs.len() as u64, per_topic, "topic {t}: {} records, expected {per_topic}", seqs.len());
        assert!(seqs.iter().copied().eq(0..per_topic), "topic {t}: sequence numbers are not 0..{per_topic} in order");
        for (seq, data) in v {
            assert_eq!(data, &payload(t, *seq), "topic {t} record {seq}: wrong bytes");
        }
    }
}

/// Starts this test binary again, running only the test `role`, with `envs`.
pub fn spawn_child(role: &str, envs: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([role, "--exact", "--nocapture", "--test-threads=1"]).stdout(Stdio::piped()).stderr(Stdio::inherit());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Prints one protocol line from a child, flushed immediately.
pub fn child_say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n@@ {line}").unwrap();
    out.flush().unwrap();
}

/// Reads the child's protocol lines (those printed with [`child_say`]).
pub fn child_lines(child: &mut Child) -> impl Iterator<Item = String> + use<> {
    use std::io::BufRead;
    let out = child.stdout.take().unwrap();
    std::io::BufReader::new(out).lines().map_while(Result::ok).filter_map(|l| l.strip_prefix("@@ ").map(str::to_owned))
}

/// Runs a [`logstream_nats::NatsSource`] of `stream` into `local` until it
/// has written `expect_written` records, then stops it; returns its final counters.
pub fn mirror(
    conn: &NatsConnection,
    stream: &str,
    local: &logstream::Config,
    expect_written: u64,
) -> logstream_nats::MirrorStats {
    let source =
        logstream_nats::NatsSource::new(conn, local, logstream_nats::SourceOptions::new(stream, "mirror")).unwrap();
    let monitor = source.monitor();
    let shutdown = logstream_nats::Shutdown::new();
    let stop = shutdown.clone();
    let t = std::thread::Builder::new()
        .name("test-mirror".into())
        .spawn(move || source.run(&stop, Duration::from_secs(3600), |_| {}))
        .unwrap();
    wait_for("the mirror to write every record", Duration::from_secs(60), || {
        monitor.stats().written >= expect_written || t.is_finished()
    });
    shutdown.trigger();
    if let Err(e) = t.join().unwrap() {
        panic!("the mirror failed: {e}; counters {:?}", monitor.stats());
    }
    monitor.stats()
}

/// A latch: closures wait at it until a test opens it.
#[derive(Clone, Default)]
pub struct Gate(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    pub fn wait_open(&self) {
        let mut open = self.0.0.lock().unwrap();
        while !*open {
            open = self.0.1.wait(open).unwrap();
        }
    }

    pub fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }
}
