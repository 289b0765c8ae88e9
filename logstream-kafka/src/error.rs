//! The crate's one error type. Every variant names what was being done (the
//! brokers, Kafka topic, logstream topic or record) and why it failed.

use logstream_ship::{Gap, LocalError, MirrorError};

/// Everything that can go wrong shipping to or mirroring from Kafka.
///
/// A forwarder closure that returns one of these makes the `logstream`
/// reader retry the batch after a backoff: nothing is lost (see the crate
/// docs for what a retry may duplicate).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaError {
    /// The options are not usable (bad template, property, …).
    #[error("invalid Kafka option {option}: {reason}")]
    InvalidOption {
        /// The option, e.g. `"topic template"`.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// librdkafka refused the configuration or could not create the client.
    #[error("cannot create the Kafka {what} for brokers {brokers}: {cause}")]
    Client {
        /// "producer" or "consumer".
        what: &'static str,
        /// The bootstrap servers.
        brokers: String,
        /// Why.
        cause: String,
    },

    /// The brokers did not answer (see [`crate::KafkaForwarder::check_brokers`]).
    #[error("cannot reach the Kafka brokers {brokers}: {cause}")]
    Connect {
        /// The bootstrap servers.
        brokers: String,
        /// Why, as librdkafka reported it.
        cause: String,
    },

    /// A topic cannot be turned into a Kafka topic name under the chosen encoding.
    #[error("topic {topic:?} cannot be part of a Kafka topic name: {reason}")]
    InvalidTopic {
        /// The logstream topic.
        topic: String,
        /// Why it was refused.
        reason: String,
    },

    /// Producing a record, or waiting for its delivery report, failed.
    #[error("{}delivering record {seq} of topic {topic:?} to Kafka topic {kafka_topic:?} failed: {cause}", confirmed.map(|c| format!("records up to {c} were delivered; ")).unwrap_or_default())]
    Delivery {
        /// The logstream topic.
        topic: String,
        /// The first record not delivered.
        seq: u64,
        /// The Kafka topic.
        kafka_topic: String,
        /// The last record of the batch delivered (and confirmed), if any.
        confirmed: Option<u64>,
        /// Why, as librdkafka reported it.
        cause: String,
    },

    /// A consumer operation (subscribe, poll, commit) failed.
    #[error("Kafka consumer group {group:?}: cannot {op}: {cause}")]
    Consumer {
        /// The consumer group.
        group: String,
        /// What was being done.
        op: &'static str,
        /// Why.
        cause: String,
    },

    /// A Kafka record was not written by a logstream forwarder.
    #[error("record at offset {offset} of {kafka_topic:?} partition {partition} is not a logstream record: {reason}")]
    NotARecord {
        /// Its Kafka topic.
        kafka_topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
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

impl From<MirrorError> for KafkaError {
    fn from(e: MirrorError) -> KafkaError {
        match e {
            MirrorError::Gap(g) => g.into(),
            MirrorError::Local(l) => l.into(),
        }
    }
}

impl KafkaError {
    pub(crate) fn option(option: &'static str, reason: impl Into<String>) -> KafkaError {
        KafkaError::InvalidOption { option, reason: reason.into() }
    }
}

/// Result with [`KafkaError`].
pub type Result<T, E = KafkaError> = std::result::Result<T, E>;
