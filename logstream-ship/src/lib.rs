//! # logstream-ship
//!
//! The engine-independent half of shipping a [`logstream`] log into a
//! distributed log (NATS JetStream in `logstream-nats`, Kafka in
//! `logstream-kafka`) and mirroring it back. Those crates hold what talks to
//! their engine; everything both need the same way lives here:
//!
//! - [`run`] reads a log directory as a consumer group through any
//!   [`Forwarder`] until a [`Shutdown`] is triggered, reporting [`Progress`]
//!   (counters, positions and per-topic lag) at a fixed interval: the loop
//!   behind `NatsForwarder::run`, `KafkaForwarder::run` and the CLI's
//!   `logstream forward`.
//! - [`Template`] parses names such as `"logs.{topic}"`; each engine encodes
//!   the topic in its own alphabet.
//! - [`record_id`] is the id every shipped record carries,
//!   `{log_id:016x}/{topic}/{epoch}/{seq}`: unique for the life of a stream,
//!   the key of de-duplication on the way out and on the way back.
//! - [`Mirror`] writes records received from the engine into a local log
//!   with their original sequence numbers, in order whatever order they
//!   arrive in, and says which deliveries may be acknowledged.
//!
//! Nothing here starts an async runtime or links an engine client.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod headers;
mod mirror;
mod record_id;
mod run;
mod shutdown;
mod template;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::LocalError;
pub use mirror::{Gap, Mirror, MirrorError, MirrorStats, Received, SourceMonitor};
pub use record_id::{RecordId, record_id};
pub use run::{Forwarder, Progress, run};
pub use shutdown::Shutdown;
pub use template::{Part, Template, push_escaped};
