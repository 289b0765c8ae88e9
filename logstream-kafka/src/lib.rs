//! # logstream-kafka
//!
//! Ships a [`logstream`] log into Kafka, and mirrors it back.
//!
//! - [`KafkaForwarder`] is a reader closure: each batch is produced with an
//!   idempotent producer (`enable.idempotence=true`, `acks=all`) and
//!   confirmed only when every delivery report arrived; on a failed report
//!   the delivered prefix is confirmed and the rest retried.
//! - [`KafkaSource`] mirrors such topics into another log directory with the
//!   original topics and sequence numbers.
//! - [`KafkaForwarder::run`](Forwarder::run) (from the [`Forwarder`] trait) and [`Shutdown`]
//!   run a forwarder as a service.
//!
//! What does not depend on Kafka (the run loop, the mirror's reorder buffer,
//! templates, record ids) is in `logstream-ship`, shared with
//! `logstream-nats`; this crate re-exports what its API uses.
//!
//! ```no_run
//! use logstream_kafka::{KafkaForwarder, KafkaOptions};
//! let cfg = logstream::Config::new("/var/lib/app/logstream");
//! let opts = KafkaOptions::new("kafka://127.0.0.1:9092", "logs.{topic}")?;
//! let reader = logstream::Reader::builder(&cfg)
//!     .group("shipper")
//!     .start(KafkaForwarder::connect(&opts)?.into_forwarder())?;
//! # reader.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Delivery is at-least-once
//! The idempotent producer removes the duplicates of its *own* retries and
//! keeps each partition in order, but it does not survive the process: a
//! batch re-sent after the forwarding process crashed, or after a batch
//! failed (a delivery timeout whose record did reach the broker), becomes
//! new Kafka records. Kafka may thus hold a record twice, and a record may
//! follow a later one of its topic. Exactly-once would need a transactional
//! producer that stores the reader's position in Kafka in the same
//! transaction; this crate does not do that. Instead every record carries
//! the `logstream-id` header (`{log_id}/{topic}/{epoch}/{seq}`, unique for
//! the life of the log) and `logstream-seq`, so consumers drop duplicates
//! and restore order; [`KafkaSource`] does both.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod forwarder;
pub mod headers;
mod options;
mod source;
#[cfg(feature = "testing")]
pub mod testing;
mod topic;

pub use error::{KafkaError, Result};
pub use forwarder::{ForwarderStats, KafkaForwarder, Progress};
pub use logstream_ship::SourceMonitor;
pub use logstream_ship::{Forwarder, Gap, LocalError, MirrorStats, Shutdown};
pub use options::{KafkaOptions, KeyFn, PartitionFn, Partitioning};
pub use source::{KafkaSource, SourceOptions, Subscription};
pub use topic::{MAX_TOPIC_LEN, TopicEncoding, TopicTemplate};
