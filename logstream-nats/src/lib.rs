//! # logstream-nats
//!
//! Ships a [`logstream`] log into NATS JetStream, and mirrors it back.
//!
//! - [`NatsForwarder`] is a reader closure: each batch is published with
//!   many acks in flight and confirmed only when every record was
//!   acknowledged. Each message carries `Nats-Msg-Id =
//!   {log_id:016x}/{topic}/{epoch}/{seq}`, so a batch re-sent after a crash,
//!   a timeout or a server restart is de-duplicated by the server: the
//!   stream holds each record once (within the stream's `duplicate_window`,
//!   see [`StreamSpec`]).
//! - [`NatsSource`] mirrors such a stream into another log directory with
//!   the original topics and sequence numbers.
//! - [`NatsForwarder::run`](Forwarder::run) (from the [`Forwarder`] trait) and [`Shutdown`]
//!   run a forwarder as a service.
//!
//! What does not depend on NATS (the run loop, the mirror's reorder buffer,
//! templates, record ids) is in `logstream-ship`, shared with
//! `logstream-kafka`; this crate re-exports what its API uses.
//!
//! ```no_run
//! use logstream_nats::{NatsForwarder, NatsOptions, StreamSpec};
//! let cfg = logstream::Config::new("/var/lib/app/logstream");
//! let opts = NatsOptions::new("nats://127.0.0.1:4222", "logs.{topic}")?;
//! let fwd = NatsForwarder::connect(&opts)?;
//! fwd.connection().ensure_stream(&StreamSpec::new("LOGS", opts.subject()))?;
//! let reader = logstream::Reader::builder(&cfg).group("shipper").start(fwd.into_forwarder())?;
//! # reader.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What "exactly once" needs
//! - The stream's `duplicate_window` (default 2 minutes) must be longer than
//!   any delay between a record's first publish and its last re-send: a
//!   forwarder down for longer than the window re-sends its unconfirmed
//!   batch as new messages. Use [`StreamSpec::duplicate_window`] to widen it
//!   (the server keeps the ids of that window in memory).
//!   So exactly once holds for outages (and forwarder downtime) shorter than
//!   the window, minus the retry backoff; after a longer one the re-sent
//!   records are stored twice. Check it with
//!   [`NatsConnection::duplicate_window`]; `logstream forward --ride-out`
//!   warns when it is shorter than the outages to ride out.
//! - Both copies of a record must carry the same id, whichever forwarder
//!   sends them. A forwarder restarted while the server still reads its
//!   predecessor's messages from the old connection (a server paused, then
//!   resumed) re-sends the same records on a new connection at the same
//!   moment; nats-server checks a message id and records it under the
//!   stream's lock, so one copy is kept (the pause fault test restarts the
//!   sidecar before the resume and checks it). Its once-seen 64 duplicates
//!   (one window) came from logstream, not the server: a reader started
//!   before the log's first writer used log id 0 for its whole life, so its
//!   successor sent the same records under other ids (fixed: the id comes
//!   from each segment's header, [`logstream::Batch::log_id`]).
//! - The `logstream` reader retries a failed batch forever, with backoff;
//!   while the server is down nothing is lost, the log only grows.
//!
//! ## Failures and stopping
//! Every wait of a batch (a place in the window, handing a message to the
//! client, each ack) is bounded by [`NatsOptions::ack_timeout`]: any error
//! on any record fails the batch within twice the ack timeout, the batch
//! gives its share of the window back at once (other topics keep flowing)
//! and the reader retries it with backoff. A reader stopping while the
//! server is down or paused therefore waits at most twice the ack timeout
//! for its batches in flight.
//!
//! ## Ordering
//! Each topic's records are published in order, one batch at a time, so the
//! stream holds them in order, except when some messages of a batch fail
//! and later ones succeed: around a reconnect (a message sent just before
//! the connection broke can be lost while the next ones, queued in the
//! client, are stored after it), or when the stream is created while a batch
//! is being published (its first messages find no stream, the later ones
//! do). The retry then stores the failed ones after them (and the server
//! drops the re-sent rest as duplicates). Every record is still there exactly once, and its
//! `logstream-seq` header (or message id) gives its place; [`NatsSource`]
//! puts records back in order.
//!
//! ## Throughput
//! Many acks are in flight at once ([`NatsOptions::window`], shared by all
//! topics). For small records the headers dominate the bytes the server
//! stores: [`HeaderSet::IdOnly`] sends only the message id and the batch
//! start (from which [`NatsSource`] recovers the rest) and is markedly
//! faster; see `benches/throughput.rs`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod connection;
mod error;
mod forwarder;
pub mod headers;
mod options;
mod source;
mod stream;
mod subject;
#[cfg(feature = "testing")]
pub mod testing;

pub use connection::NatsConnection;
pub use error::{NatsError, Result};
pub use forwarder::{ForwarderStats, NatsForwarder, Progress};
pub use headers::HeaderSet;
pub use logstream_ship::SourceMonitor;
pub use logstream_ship::{Forwarder, Gap, LocalError, MirrorStats, Shutdown};
pub use options::{Auth, DEFAULT_ACK_TIMEOUT, DEFAULT_WINDOW, NatsOptions, Tls};
pub use source::{NatsSource, SourceOptions};
pub use stream::{Ensured, Storage, StreamSpec};
pub use subject::{SubjectTemplate, TopicEncoding};
