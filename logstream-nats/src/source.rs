//! [`NatsSource`]: mirrors a stream written by [`crate::NatsForwarder`]s
//! back into a local logstream directory with the original topics and
//! sequence numbers and write times (`logstream-timestamp`, with
//! [`crate::HeaderSet::Full`]), so a follower holds an identical copy of a
//! leader's topics while JetStream does the replication: `seq_at_time`,
//! `StartFrom::Time`, `tail --from` and age retention answer on it as on
//! the leader.
//!
//! Position: a JetStream durable pull consumer with explicit acks. A
//! delivery is acknowledged only after its record is written and flushed
//! (made durable) locally; a record waiting for a predecessor that arrives
//! later in the stream (see the crate docs on ordering) stays
//! unacknowledged meanwhile. So the consumer's ack floor (every delivery up
//! to it acknowledged) is a position the local log has fully reached. On
//! every start the durable consumer is re-created to
//! deliver from just after its ack floor: deliveries that were in flight
//! when the mirror stopped come again at once, in stream order (instead of
//! after `ack_wait`, behind newer ones). Records the local log already holds
//! are skipped ([`logstream::Placed::AlreadyPresent`]), so a crash between
//! the flush and the ack duplicates nothing. One mirror per durable name
//! may run at a time.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;

use logstream_ship::{LocalError, Mirror, MirrorStats, Shutdown, SourceMonitor};

use crate::connection::NatsConnection;
use crate::error::{NatsError, Result};
use crate::headers;

/// Where a mirror reads and how it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// The stream to read.
    pub stream: String,
    /// Name of the durable consumer holding the mirror's position.
    pub durable: String,
    /// Subject filter; `None` reads every subject of the stream. Use
    /// [`crate::SubjectTemplate::filter`] to read one forwarder's subjects.
    pub filter: Option<String>,
    /// Deliveries awaiting their ack before the server pauses (default 20 000).
    pub max_ack_pending: usize,
    /// Records written between flush-and-ack points (default 2 000); an
    /// idle moment also flushes and acknowledges.
    pub chunk: usize,
    /// How long a record waits for missing predecessors (default 30 s).
    pub reorder_wait: Duration,
    /// Records that may wait per topic before the mirror gives up (default 10 000).
    pub max_waiting: usize,
    /// How long the server may keep a delivery unacknowledged before it
    /// sends it again (default 60 s).
    pub ack_wait: Duration,
}

impl SourceOptions {
    /// Reads `stream` as durable consumer `durable`, every subject.
    pub fn new(stream: &str, durable: &str) -> SourceOptions {
        SourceOptions {
            stream: stream.to_owned(),
            durable: durable.to_owned(),
            filter: None,
            max_ack_pending: 20_000,
            chunk: 2_000,
            reorder_wait: Duration::from_secs(30),
            max_waiting: 10_000,
            ack_wait: Duration::from_secs(60),
        }
    }

    /// Reads only subjects matching `filter`.
    pub fn filter(mut self, filter: &str) -> SourceOptions {
        self.filter = Some(filter.to_owned());
        self
    }
}

/// Mirrors a JetStream stream into a local log directory.
pub struct NatsSource {
    conn: NatsConnection,
    writer: logstream::Writer,
    opts: SourceOptions,
    stats: SourceMonitor,
}

impl std::fmt::Debug for NatsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSource").field("opts", &self.opts).field("local", &self.writer.base_dir()).finish()
    }
}

impl NatsSource {
    /// A mirror of `opts.stream` into the log of `local` (opened for
    /// writing: no other writer may hold it).
    ///
    /// # Errors
    /// [`NatsError::Local`] if the local log cannot be opened.
    pub fn new(conn: &NatsConnection, local: &logstream::Config, opts: SourceOptions) -> Result<NatsSource> {
        let writer = logstream::Writer::open(local).map_err(LocalError::doing("open the mirror's log"))?;
        Ok(NatsSource { conn: conn.clone(), writer, opts, stats: SourceMonitor::default() })
    }

    /// A handle to read the counters while [`NatsSource::run`] runs.
    pub fn monitor(&self) -> SourceMonitor {
        self.stats.clone()
    }

    /// The local writer (for `next_seq` and the like).
    pub fn writer(&self) -> &logstream::Writer {
        &self.writer
    }

    /// Mirrors until `shutdown` is triggered, calling `on_progress` every
    /// `every`. Connection trouble (server down, consumer lost) is retried
    /// with a backoff of up to 5 s; what was written is flushed and
    /// acknowledged before returning.
    ///
    /// # Errors
    /// [`NatsError::Local`] when the local log fails, [`NatsError::Gap`]
    /// when the stream lacks records of a topic, [`NatsError::NotARecord`]
    /// for a message no forwarder wrote, [`NatsError::Consumer`] when the
    /// stream does not exist.
    pub fn run(&self, shutdown: &Shutdown, every: Duration, mut on_progress: impl FnMut(&MirrorStats)) -> Result<()> {
        let mut backoff = Duration::from_millis(50);
        let mut last_report = Instant::now();
        while !shutdown.is_triggered() {
            let session = self.conn.block_on(self.session(shutdown, every, &mut last_report, &mut on_progress))?;
            match session {
                Ok(()) => break,
                Err(e @ (NatsError::Local(_) | NatsError::Gap(_) | NatsError::NotARecord { .. })) => {
                    return Err(e);
                }
                Err(e @ NatsError::Consumer { op: "find the stream", .. }) => return Err(e),
                Err(e) => {
                    log::warn!("mirror of stream {:?}: {e}; retrying in {backoff:?}", self.opts.stream);
                    if shutdown.wait_timeout(backoff) {
                        break;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        on_progress(&self.stats.stats());
        Ok(())
    }

    fn consumer_error(&self, op: &'static str) -> impl Fn(String) -> NatsError + '_ {
        move |cause| NatsError::Consumer {
            stream: self.opts.stream.clone(),
            durable: self.opts.durable.clone(),
            op,
            cause,
        }
    }

    /// Re-creates the durable consumer to deliver from just after its ack floor.
    async fn reset_consumer(&self) -> Result<jetstream::consumer::Consumer<pull::Config>> {
        let js = self.conn.jetstream();
        let stream = js
            .get_stream(&self.opts.stream)
            .await
            .map_err(|e| self.consumer_error("find the stream")(e.to_string()))?;
        let deliver_policy = match stream.consumer_info(&self.opts.durable).await {
            Ok(info) => {
                let floor = info.ack_floor.stream_sequence;
                stream
                    .delete_consumer(&self.opts.durable)
                    .await
                    .map_err(|e| self.consumer_error("re-create")(e.to_string()))?;
                if floor == 0 {
                    info.config.deliver_policy
                } else {
                    DeliverPolicy::ByStartSequence { start_sequence: floor + 1 }
                }
            }
            Err(e) if matches!(e.kind(), jetstream::context::ConsumerInfoErrorKind::NotFound) => DeliverPolicy::All,
            Err(e) => return Err(self.consumer_error("read info")(e.to_string())),
        };
        let config = pull::Config {
            durable_name: Some(self.opts.durable.clone()),
            deliver_policy,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.opts.ack_wait,
            max_ack_pending: i64::try_from(self.opts.max_ack_pending).unwrap_or(i64::MAX),
            filter_subject: self.opts.filter.clone().unwrap_or_default(),
            ..Default::default()
        };
        stream.create_consumer(config).await.map_err(|e| self.consumer_error("create")(e.to_string()))
    }

    async fn session(
        &self,
        shutdown: &Shutdown,
        every: Duration,
        last_report: &mut Instant,
        on_progress: &mut impl FnMut(&MirrorStats),
    ) -> Result<()> {
        let consumer = self.reset_consumer().await?;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(self.opts.chunk.min(10_000))
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|e| self.consumer_error("pull")(e.to_string()))?;
        let base = self.stats.stats();
        let mut mirror: Mirror<jetstream::Message> =
            Mirror::new(self.writer.clone(), self.opts.reorder_wait, self.opts.max_waiting);
        let mut since_ack = 0usize;
        let idle = Duration::from_millis(20);
        let result = loop {
            if shutdown.is_triggered() {
                break Ok(());
            }
            let next = tokio::time::timeout(idle, messages.next()).await;
            let got = match next {
                Ok(Some(Ok(msg))) => Some(msg),
                Ok(Some(Err(e))) => break Err(self.consumer_error("receive")(e.to_string())),
                Ok(None) => break Err(self.consumer_error("receive")("the message stream ended".into())),
                Err(_) => None,
            };
            match got {
                Some(msg) => {
                    if let Err(e) = self.offer(&mut mirror, msg) {
                        break Err(e);
                    }
                    since_ack += 1;
                    if since_ack < self.opts.chunk {
                        continue;
                    }
                }
                None => {
                    if let Err(e) = mirror.idle() {
                        break Err(e.into());
                    }
                }
            }
            since_ack = 0;
            if let Err(e) = self.acknowledge(&mut mirror, base).await {
                break Err(e);
            }
            if last_report.elapsed() >= every {
                *last_report = Instant::now();
                on_progress(&self.stats.stats());
            }
        };
        // Whatever was written is flushed and acknowledged, even on errors.
        let acked = self.acknowledge(&mut mirror, base).await;
        result.and(acked)
    }

    fn offer(&self, mirror: &mut Mirror<jetstream::Message>, msg: jetstream::Message) -> Result<()> {
        let stream_seq = msg.info().map(|i| i.stream_sequence).unwrap_or(0);
        let rec = headers::parse(msg.message.headers.as_ref(), stream_seq, msg.message.subject.as_str())?;
        let payload = msg.message.payload.clone();
        Ok(mirror.offer(&rec, &payload, msg)?)
    }

    async fn acknowledge(&self, mirror: &mut Mirror<jetstream::Message>, base: MirrorStats) -> Result<()> {
        for msg in mirror.acknowledgeable()? {
            msg.ack_with(AckKind::Ack).await.map_err(|e| self.consumer_error("acknowledge")(e.to_string()))?;
        }
        self.stats.set(base.followed_by(mirror.stats()));
        Ok(())
    }
}
