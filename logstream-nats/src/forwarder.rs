//! [`NatsForwarder`]: publishes a batch into JetStream with many acks in
//! flight and confirms it only when every record was acknowledged.
//!
//! The records are copied into messages on the caller's thread, then a task
//! on the connection's runtime runs two halves at once: one publishes the
//! messages in order, taking a permit of the window shared by all batches
//! per message; the other awaits the acks in order and gives the permits
//! back. The caller's thread sleeps until the task ends (one wake-up per
//! batch, not per ack). A failed
//! ack stops both at once and gives every permit the batch holds back, so
//! one failing topic never starves the others of the window; every wait is
//! bounded by the ack timeout, so a batch the server does not answer fails
//! within twice that (see `pipeline`). The records acknowledged before the
//! failure are confirmed and the rest of the batch fails, so the reader
//! retries from the first unacknowledged record. Each ack confirms its
//! record at once (through a [`logstream::Confirmer`]), and the reader
//! persists the confirmed prefix of a batch still in flight at its
//! checkpoint interval: a sidecar killed in the middle of a batch of 20 000
//! re-sends, after its restart, only the records not yet acknowledged
//! (at most the window plus what was acknowledged within the last
//! checkpoint interval), not the whole batch. A
//! record that reached the stream although its ack was lost is
//! de-duplicated by its `Nats-Msg-Id`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::context::{PublishAckFuture, PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use logstream::Batch;
use logstream_ship::headers::RecordMeta;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::connection::NatsConnection;
use crate::error::{NatsError, Result};
use crate::options::NatsOptions;
use crate::subject::SubjectTemplate;

/// What a running forwarder has done ([`NatsForwarder::run`](logstream_ship::Forwarder::run)), passed to the
/// progress callback.
pub type Progress = logstream_ship::Progress<ForwarderStats>;

/// Counters of a forwarder since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwarderStats {
    /// Records published (including re-sends of retried batches).
    pub published: u64,
    /// Records whose ack arrived.
    pub acked: u64,
    /// Acks saying the stream already held the message (a re-send de-duplicated).
    pub duplicates: u64,
    /// Batches that failed (and were retried by the reader).
    pub failed_batches: u64,
    /// Payload bytes acknowledged.
    pub bytes: u64,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    acked: AtomicU64,
    duplicates: AtomicU64,
    failed_batches: AtomicU64,
    bytes: AtomicU64,
}

/// Ships logstream batches into a JetStream stream. Cheap to clone; clones
/// share the connection, the window and the counters.
///
/// ```no_run
/// use logstream_nats::{NatsForwarder, NatsOptions, StreamSpec};
/// let cfg = logstream::Config::new("/var/lib/app/logstream");
/// let opts = NatsOptions::new("nats://127.0.0.1:4222", "logs.{topic}")?;
/// let fwd = NatsForwarder::connect(&opts)?;
/// fwd.connection().ensure_stream(&StreamSpec::new("LOGS", opts.subject()))?;
/// let reader = logstream::Reader::builder(&cfg).group("shipper").start(fwd.into_forwarder())?;
/// # reader.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct NatsForwarder {
    conn: NatsConnection,
    subject: SubjectTemplate,
    window: Arc<Semaphore>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for NatsForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsForwarder").field("conn", &self.conn).field("subject", &self.subject.as_str()).finish()
    }
}

/// Lets [`logstream_ship::run`] drive it: `forwarder.run(&cfg, group,
/// &shutdown, every, on_progress)` forwards until `shutdown` is triggered.
impl logstream_ship::Forwarder for NatsForwarder {
    type Stats = ForwarderStats;
    type Error = NatsError;

    fn forward(&self, batch: &Batch) -> Result<()> {
        NatsForwarder::forward(self, batch)
    }

    fn stats(&self) -> ForwarderStats {
        NatsForwarder::stats(self)
    }
}

impl NatsForwarder {
    /// Connects with `opts` and publishes to the subjects of its template
    /// (on a runtime of its own: for the threaded reader and blocking
    /// callers; a tokio service uses
    /// `NatsForwarder::with_connection(&NatsConnection::connect_async(&opts).await?)`).
    ///
    /// # Errors
    /// As [`NatsConnection::connect`].
    pub fn connect(opts: &NatsOptions) -> Result<NatsForwarder> {
        Ok(NatsForwarder::with_connection(&NatsConnection::connect(opts)?))
    }

    /// A forwarder on an existing connection, with its options' template and window.
    pub fn with_connection(conn: &NatsConnection) -> NatsForwarder {
        let opts = conn.options();
        NatsForwarder {
            conn: conn.clone(),
            subject: opts.subject.clone(),
            window: Arc::new(Semaphore::new(opts.window)),
            counters: Arc::default(),
        }
    }

    /// The connection, e.g. for [`NatsConnection::ensure_stream`].
    pub fn connection(&self) -> &NatsConnection {
        &self.conn
    }

    /// Counters since the forwarder was made.
    pub fn stats(&self) -> ForwarderStats {
        let c = &self.counters;
        ForwarderStats {
            published: c.published.load(Ordering::Relaxed),
            acked: c.acked.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            failed_batches: c.failed_batches.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
        }
    }

    /// The closure to hand to [`logstream::ReaderBuilder::start`].
    pub fn into_forwarder(self) -> impl Fn(&Batch) -> Result<()> + Send + Sync + 'static {
        move |batch: &Batch| self.forward(batch)
    }

    /// Publishes `batch` and waits for every ack (blocking; for the reader's
    /// threads). `Ok` means the stream holds every record of the batch.
    ///
    /// # Errors
    /// [`NatsError::Publish`] when a publish or ack failed or timed out (the
    /// acknowledged prefix is confirmed), [`NatsError::TooLarge`],
    /// [`NatsError::InvalidTopic`], or [`NatsError::InvalidOption`] when
    /// called from inside a tokio runtime (use [`NatsForwarder::forward_async`]).
    pub fn forward(&self, batch: &Batch) -> Result<()> {
        let runtime = self.conn.own_runtime()?;
        let (subject, out) = self.prepare(batch)?;
        // The pipeline runs as a task on the runtime's threads, where the
        // acks arrive: the reader's thread wakes once, not once per ack.
        let task = runtime.spawn(self.clone().pipeline(subject.clone(), out, batch.confirmer()));
        let outcome = self.conn.block_on(task)?.unwrap_or_else(|e| {
            (None, Some((batch.first_seq(), PublishError::with_source(PublishErrorKind::Other, e))))
        });
        self.finish(batch, &subject, outcome)
    }

    /// [`NatsForwarder::forward`] for async callers; it must run on a tokio
    /// runtime (the caller's, with a connection made by
    /// [`NatsConnection::connect_async`]: then nothing of this crate runs
    /// on a thread of its own).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use logstream_nats::{NatsConnection, NatsForwarder, NatsOptions};
    /// let cfg = logstream::Config::new("/var/lib/app/logstream");
    /// let opts = NatsOptions::new("nats://127.0.0.1:4222", "logs.{topic}")?;
    /// let fwd = NatsForwarder::with_connection(&NatsConnection::connect_async(&opts).await?);
    /// let reader = logstream::Reader::builder(&cfg).group("shipper").start_async(move |batch: Arc<logstream::Batch>| {
    ///     let fwd = fwd.clone();
    ///     async move { fwd.forward_async(&batch).await }
    /// }).await?;
    /// # reader.stop_async().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`NatsForwarder::forward`].
    pub async fn forward_async(&self, batch: &Batch) -> Result<()> {
        let (subject, out) = self.prepare(batch)?;
        let outcome = self.clone().pipeline(subject.clone(), out, batch.confirmer()).await;
        self.finish(batch, &subject, outcome)
    }

    /// The batch's subject and its records as messages (copied: they cross
    /// to the runtime's threads).
    fn prepare(&self, batch: &Batch) -> Result<(String, Vec<Outgoing>)> {
        let topic = batch.topic();
        let subject = self.subject.render(topic, batch.log_id())?;
        let headers = self.conn.inner.opts.headers;
        let out = batch
            .records()
            .map(|rec| {
                let meta = RecordMeta {
                    log_id: batch.log_id(),
                    topic,
                    epoch: batch.epoch(),
                    seq: rec.seq(),
                    timestamp: rec.timestamp(),
                    batch_first: batch.first_seq(),
                };
                Outgoing {
                    seq: rec.seq(),
                    len: rec.data().len(),
                    msg: PublishMessage::build()
                        .payload(Bytes::copy_from_slice(rec.data()))
                        .headers(crate::headers::headers(&meta, headers)),
                }
            })
            .collect();
        Ok((subject, out))
    }

    /// Confirms the acknowledged prefix and turns a failure into the error.
    fn finish(&self, batch: &Batch, subject: &str, (last_acked, failure): Outcome) -> Result<()> {
        let Some(failure) = failure else { return Ok(()) };
        self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
        if let Some(seq) = last_acked {
            // Cannot fail: `seq` came from this batch.
            let _ = batch.confirm(seq);
        }
        Err(self.publish_error(batch, subject, last_acked, failure))
    }

    /// Publishes in order while awaiting the acks in order; returns the last
    /// acknowledged record and the first failure.
    ///
    /// Every wait is bounded by the ack timeout `T`: a permit of the window,
    /// handing a message to the client, each ack. The first failed ack ends
    /// the batch at once: the publisher is dropped with it, and so are the
    /// channel and every queued message with its permit, so the window is
    /// whole again for the other batches. A failed publish lets the acks
    /// already sent arrive (for at most `T` more), so that their records are
    /// confirmed. A failing batch thus ends within `2 T` of the engine
    /// going quiet.
    async fn pipeline(self, subject: String, out: Vec<Outgoing>, confirmer: logstream::Confirmer) -> Outcome {
        let limit = self.conn.inner.opts.ack_timeout;
        let (tx, rx) = mpsc::unbounded_channel::<InFlight>();
        let mut last_acked = None;
        let failure = {
            let publish = self.publish(async_nats::Subject::from(subject.as_str()), out, tx, limit);
            let collect = self.collect(rx, &mut last_acked, &confirmer);
            tokio::pin!(publish, collect);
            let mut published = false;
            let mut publish_failure = None;
            // After a failed publish, when the acks already sent must have arrived.
            let mut drain_until = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    biased;
                    ack_failure = &mut collect => break ack_failure.or(publish_failure),
                    result = &mut publish, if !published => {
                        // The publisher's end dropped the sender: the
                        // collector ends once the acks sent have arrived.
                        published = true;
                        publish_failure = result.err();
                        drain_until = tokio::time::Instant::now() + limit;
                    }
                    () = tokio::time::sleep_until(drain_until), if publish_failure.is_some() => break publish_failure,
                }
            }
            // Dropping the collector drops the receiver, and with it every
            // queued message and its permit.
        };
        (last_acked, failure)
    }

    /// Publishes `out` in order, each message holding a permit of the
    /// window until its ack is awaited; every wait bounded by `limit`.
    async fn publish(
        &self,
        subject: async_nats::Subject,
        out: Vec<Outgoing>,
        tx: mpsc::UnboundedSender<InFlight>,
        limit: Duration,
    ) -> Result<(), (u64, PublishError)> {
        let js = self.conn.jetstream();
        let client = &self.conn.inner.client;
        for (i, o) in out.into_iter().enumerate() {
            // Publishing while disconnected only queues messages in the
            // client, to be sent after the reconnect behind the re-sends
            // of an earlier failure: fail fast instead.
            if i.is_multiple_of(64) && client.connection_state() != async_nats::connection::State::Connected {
                return Err((o.seq, PublishError::with_source(PublishErrorKind::Other, NotConnected)));
            }
            let permit = match tokio::time::timeout(limit, self.window.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                // The window is never closed; a closed one ends the batch.
                Ok(Err(closed)) => return Err((o.seq, PublishError::with_source(PublishErrorKind::Other, closed))),
                Err(_) => return Err((o.seq, PublishError::with_source(PublishErrorKind::Other, WindowFull(limit)))),
            };
            let ack = match tokio::time::timeout(limit, js.send_publish(subject.clone(), o.msg)).await {
                Ok(Ok(ack)) => ack,
                Ok(Err(e)) => return Err((o.seq, e)),
                Err(_) => return Err((o.seq, PublishError::new(PublishErrorKind::TimedOut))),
            };
            self.counters.published.fetch_add(1, Ordering::Relaxed);
            if tx.send(InFlight { seq: o.seq, len: o.len, ack, _permit: permit }).is_err() {
                break; // the collector failed and is gone (not reached: it ends the batch)
            }
        }
        Ok(())
    }

    /// Awaits the acks in order (each bounded by the context's ack timeout)
    /// until the publisher is done or an ack fails; `last_acked` follows
    /// the acknowledged prefix.
    async fn collect(
        &self,
        mut rx: mpsc::UnboundedReceiver<InFlight>,
        last_acked: &mut Option<u64>,
        confirmer: &logstream::Confirmer,
    ) -> Option<(u64, PublishError)> {
        while let Some(InFlight { seq, len, ack, _permit }) = rx.recv().await {
            match ack.await {
                Ok(a) => {
                    *last_acked = Some(seq);
                    // Acknowledged records count at once: the reader persists
                    // the confirmed prefix while the batch is still in flight,
                    // so a restart re-sends at most what was not yet acked.
                    let _ = confirmer.confirm(seq);
                    self.counters.acked.fetch_add(1, Ordering::Relaxed);
                    self.counters.bytes.fetch_add(len as u64, Ordering::Relaxed);
                    if a.duplicate {
                        self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => return Some((seq, e)),
            }
        }
        None
    }

    fn publish_error(
        &self,
        batch: &Batch,
        subject: &str,
        confirmed: Option<u64>,
        (seq, e): (u64, PublishError),
    ) -> NatsError {
        let topic = batch.topic().to_owned();
        let cause = match e.kind() {
            PublishErrorKind::MaxPayloadExceeded => {
                let len = batch.records().find(|r| r.seq() == seq).map_or(0, |r| r.data().len());
                let max = self.conn.inner.client.server_info().max_payload;
                return NatsError::TooLarge { topic, seq, len, max };
            }
            PublishErrorKind::StreamNotFound => {
                format!("{e}: no JetStream stream captures the subject; create one (StreamSpec, ensure_stream)")
            }
            PublishErrorKind::TimedOut => {
                format!("{e} (is the server up and is JetStream enabled?); the batch will be retried")
            }
            _ => e.to_string(),
        };
        NatsError::Publish { topic, seq, subject: subject.to_owned(), confirmed, cause }
    }
}

/// One record ready to publish.
struct Outgoing {
    seq: u64,
    len: usize,
    msg: PublishMessage,
}

/// A message handed to the client, awaiting its ack.
struct InFlight {
    seq: u64,
    len: usize,
    ack: PublishAckFuture,
    /// Its place in the window, given back when the ack arrived or the
    /// batch ended.
    _permit: OwnedSemaphorePermit,
}

/// The last acknowledged record, and the first failure.
type Outcome = (Option<u64>, Option<(u64, PublishError)>);

/// The cause of a batch failed because the client is reconnecting.
#[derive(Debug)]
struct NotConnected;

impl std::fmt::Display for NotConnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not connected to the server (the client is reconnecting); the batch will be retried")
    }
}

impl std::error::Error for NotConnected {}

/// The cause of a batch failed because the window stayed full for the ack
/// timeout (other batches hold it while their acks are late).
#[derive(Debug)]
struct WindowFull(Duration);

impl std::fmt::Display for WindowFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no room in the in-flight window for {:?} (the acks of earlier messages are late); the batch will be retried",
            self.0
        )
    }
}

impl std::error::Error for WindowFull {}
