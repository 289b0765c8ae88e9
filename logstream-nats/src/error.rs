//! The crate's one error type. Every variant names what was being done (the
//! server, stream, subject, topic or record) and why it failed.

use std::path::PathBuf;

use logstream_ship::{Gap, LocalError, MirrorError};

/// Everything that can go wrong shipping to or mirroring from NATS.
///
/// A forwarder closure that returns one of these makes the `logstream`
/// reader retry the batch after a backoff: nothing is lost, and records the
/// server already stored are de-duplicated by their `Nats-Msg-Id`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The options are not usable (bad URL, template, window, …).
    #[error("invalid NATS option {option}: {reason}")]
    InvalidOption {
        /// The option, e.g. `"subject template"`.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A credentials or certificate file could not be read.
    #[error("cannot read NATS {what} file {}: {source}", path.display())]
    File {
        /// "credentials", "root certificate", …
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The tokio runtime that drives the NATS client could not be started.
    #[error("cannot start the tokio runtime for the NATS client: {0}")]
    Runtime(#[source] std::io::Error),

    /// Connecting to the server failed.
    #[error("cannot connect to NATS at {url}: {cause}")]
    Connect {
        /// The server URL(s).
        url: String,
        /// Why, as the client reported it.
        cause: String,
    },

    /// A topic cannot be turned into a subject token under the chosen encoding.
    #[error("topic {topic:?} cannot be part of a NATS subject: {reason}")]
    InvalidTopic {
        /// The logstream topic.
        topic: String,
        /// Why it was refused.
        reason: String,
    },

    /// A record is larger than the server accepts.
    #[error(
        "record {seq} of topic {topic:?} ({len} bytes with headers) exceeds the server's max_payload of {max} bytes; \
         raise max_payload in the server configuration or write smaller records"
    )]
    TooLarge {
        /// The topic.
        topic: String,
        /// The record's sequence number.
        seq: u64,
        /// Payload plus headers.
        len: usize,
        /// The server's limit.
        max: usize,
    },

    /// Publishing a record, or waiting for its JetStream ack, failed.
    #[error("{}publishing record {seq} of topic {topic:?} to {subject:?} failed: {cause}", confirmed.map(|c| format!("records up to {c} were stored; ")).unwrap_or_default())]
    Publish {
        /// The topic.
        topic: String,
        /// The first record that was not acknowledged.
        seq: u64,
        /// The subject published to.
        subject: String,
        /// The last record of the batch that was acknowledged (and confirmed), if any.
        confirmed: Option<u64>,
        /// Why, as the client or server reported it.
        cause: String,
    },

    /// A JetStream stream operation failed or the stream does not fit.
    #[error("stream {stream:?}: cannot {op}: {cause}")]
    Stream {
        /// The stream name.
        stream: String,
        /// What was being done, e.g. "create".
        op: &'static str,
        /// Why.
        cause: String,
    },

    /// A JetStream consumer operation (create, info, fetch, ack) failed.
    #[error("consumer {durable:?} of stream {stream:?}: cannot {op}: {cause}")]
    Consumer {
        /// The stream name.
        stream: String,
        /// The durable consumer name.
        durable: String,
        /// What was being done.
        op: &'static str,
        /// Why.
        cause: String,
    },

    /// A message in the stream was not written by a logstream forwarder.
    #[error("message {stream_seq} ({subject:?}) of the stream is not a logstream record: {reason}")]
    NotARecord {
        /// Its stream sequence number.
        stream_seq: u64,
        /// Its subject.
        subject: String,
        /// What is missing or malformed.
        reason: String,
    },

    /// The engine lacks records the mirror needs to continue a topic.
    #[error(transparent)]
    Gap(#[from] Gap),

    /// The local logstream directory failed (open, write, flush, reader start).
    #[error(transparent)]
    Local(#[from] LocalError),
}

impl From<MirrorError> for NatsError {
    fn from(e: MirrorError) -> NatsError {
        match e {
            MirrorError::Gap(g) => g.into(),
            MirrorError::Local(l) => l.into(),
        }
    }
}

impl NatsError {
    pub(crate) fn option(option: &'static str, reason: impl Into<String>) -> NatsError {
        NatsError::InvalidOption { option, reason: reason.into() }
    }
}

/// Result with [`NatsError`].
pub type Result<T, E = NatsError> = std::result::Result<T, E>;
