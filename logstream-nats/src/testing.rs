//! Helpers for tests against a real NATS server (feature `testing`), used
//! by this crate's tests and by the CLI's `logstream forward` tests: a
//! `nats-server -js` on a free loopback port, and reading a stream back.
//! They panic on failure, as test helpers do.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, pull};
use futures_util::StreamExt;
use logstream_ship::testing::{Topics, wait_for};

use crate::NatsConnection;

/// A `nats-server -js` on 127.0.0.1 with its store in a temp dir; killed on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
    /// Its HTTP monitoring port (`/varz`).
    monitor: u16,
    store: tempfile::TempDir,
}

/// The `nats-server` binary: `$NATS_SERVER`, else found on the PATH or in
/// the directories Debian installs it to.
///
/// # Panics
/// When it is not installed, saying how to install it.
pub fn server_binary() -> PathBuf {
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

/// A loopback port nothing listens on (at the moment of the call).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("its address").port()
}

impl NatsServer {
    /// Starts a server and waits until it is ready. A port another
    /// process took between [`free_port`] and the server's bind is
    /// replaced by another one.
    pub fn start() -> NatsServer {
        let store = tempfile::tempdir().expect("a store directory");
        let mut s = NatsServer { child: None, port: free_port(), monitor: free_port(), store };
        for _ in 0..4 {
            match s.run() {
                Ok(()) => return s,
                Err(_) => (s.port, s.monitor) = (free_port(), free_port()),
            }
        }
        s.run().unwrap_or_else(|why| panic!("{why}"));
        s
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and store (after
    /// [`NatsServer::kill`] or [`NatsServer::terminate`]), and waits until
    /// it is ready. Its log goes on in the same file.
    pub fn restart(&mut self) {
        self.run().unwrap_or_else(|why| panic!("{why}"));
    }

    /// Starts the server and waits for its own "Server is ready" line in
    /// the log (a connection alone could reach another test's server on a
    /// port taken meanwhile); `Err` if it exited instead.
    fn run(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "the server is running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.store.path().join("server.log"))
            .expect("open the server log");
        let child = Command::new(server_binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-m", &self.monitor.to_string(), "-sd"])
            .arg(self.store.path().join("js"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        let ready = format!("[{}] ", child.id());
        self.child = Some(child);
        let mut exited = None;
        wait_for("nats-server to be ready", Duration::from_secs(20), || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().expect("look at nats-server")) {
                exited = Some(status);
                return true;
            }
            self.log().lines().any(|l| l.starts_with(&ready) && l.ends_with("Server is ready"))
        });
        match exited {
            Some(status) => {
                self.child = None;
                Err(format!("nats-server on port {} exited at start ({status}); its log:\n{}", self.port, self.log()))
            }
            None => Ok(()),
        }
    }

    /// Stops the server gracefully (SIGTERM, as a service manager does) and waits for it.
    pub fn stop(&mut self) {
        self.terminate();
    }

    /// SIGTERM, and waits for the server to exit: it closes its
    /// connections and flushes its store.
    pub fn terminate(&mut self) {
        self.signal_and_wait(rustix::process::Signal::TERM);
    }

    /// SIGKILL, and waits for the server to be gone: connections break
    /// without a goodbye, acks in flight never come.
    pub fn kill(&mut self) {
        self.signal_and_wait(rustix::process::Signal::KILL);
    }

    /// SIGSTOP: the server keeps its connections open but answers
    /// nothing, so publishes wait for acks that come only after
    /// [`NatsServer::resume`].
    pub fn pause(&mut self) {
        self.signal(rustix::process::Signal::STOP);
    }

    /// SIGCONT after [`NatsServer::pause`].
    pub fn resume(&mut self) {
        self.signal(rustix::process::Signal::CONT);
    }

    fn signal(&self, signal: rustix::process::Signal) {
        let child = self.child.as_ref().expect("the server is running");
        let pid = rustix::process::Pid::from_child(child);
        rustix::process::kill_process(pid, signal).unwrap_or_else(|e| panic!("send {signal:?} to nats-server: {e}"));
    }

    fn signal_and_wait(&mut self, signal: rustix::process::Signal) {
        if self.child.is_none() {
            return;
        }
        self.signal(signal);
        if let Some(mut c) = self.child.take() {
            // A paused server would not act on SIGTERM until continued.
            if let Some(pid) = rustix::process::Pid::from_raw(c.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
            }
            c.wait().expect("wait for nats-server");
        }
    }

    /// Client connections the server has now (its monitoring `/varz`).
    pub fn client_connections(&self) -> u64 {
        use std::io::{Read, Write};
        let mut http = std::net::TcpStream::connect(("127.0.0.1", self.monitor)).expect("reach the monitoring port");
        http.write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("ask for /varz");
        let mut answer = String::new();
        http.read_to_string(&mut answer).expect("read /varz");
        let at = answer.find("\"connections\":").unwrap_or_else(|| panic!("no connection count in /varz: {answer}"));
        let digits: String =
            answer[at + "\"connections\":".len()..].trim_start().chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap_or_else(|e| panic!("connection count {digits:?} in /varz: {e}"))
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.store.path().join("server.log")).unwrap_or_default()
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

/// These helpers block: a connection made with `connect`, called outside any runtime.
const BLOCKING: &str = "a connection made with NatsConnection::connect, used outside a tokio runtime";

/// Deletes the stream `name` (its messages and the message ids it
/// remembers for de-duplication).
pub fn delete_stream(conn: &NatsConnection, name: &str) {
    conn.block_on(async {
        conn.jetstream().delete_stream(name).await.unwrap_or_else(|e| panic!("delete stream {name}: {e}"));
    })
    .expect(BLOCKING);
}

/// Messages in the stream.
pub fn stream_len(conn: &NatsConnection, stream: &str) -> u64 {
    conn.block_on(async {
        let mut s = conn.jetstream().get_stream(stream).await.expect("the stream");
        s.info().await.expect("stream info").state.messages
    })
    .expect(BLOCKING)
}

/// Every message of the stream, per `logstream-topic`, in stream order.
pub fn read_stream(conn: &NatsConnection, stream: &str) -> Topics {
    let total = stream_len(conn, stream);
    conn.block_on(async {
        let s = conn.jetstream().get_stream(stream).await.expect("the stream");
        let config = pull::Config { ack_policy: AckPolicy::None, ..Default::default() };
        let consumer = s.create_consumer(config).await.expect("a consumer");
        let mut msgs = consumer.messages().await.expect("a message stream");
        let mut out = Topics::new();
        for _ in 0..total {
            let m = tokio::time::timeout(Duration::from_secs(30), msgs.next())
                .await
                .expect("a message within 30 s")
                .expect("the message stream goes on")
                .expect("a message");
            let h = m.message.headers.as_ref().expect("headers");
            let topic = h.get(crate::headers::TOPIC).expect("a topic header").as_str().to_owned();
            let seq: u64 = h.get(crate::headers::SEQ).expect("a seq header").as_str().parse().expect("a number");
            out.entry(topic).or_default().push((seq, m.message.payload.to_vec()));
        }
        out
    })
    .expect(BLOCKING)
}
