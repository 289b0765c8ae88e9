//! Where to produce and how: [`KafkaOptions`] and [`Partitioning`].

use std::sync::Arc;
use std::time::Duration;

use logstream::Record;

use crate::error::{KafkaError, Result};
use crate::topic::{TopicEncoding, TopicTemplate};

/// A function choosing a record's Kafka key from its logstream topic and record.
pub type KeyFn = Arc<dyn Fn(&str, &Record<'_>) -> Vec<u8> + Send + Sync>;
/// A function choosing a record's Kafka partition from its logstream topic and record.
pub type PartitionFn = Arc<dyn Fn(&str, &Record<'_>) -> i32 + Send + Sync>;

/// How records are spread over a Kafka topic's partitions.
///
/// Per-topic order in Kafka (and mirroring with [`crate::KafkaSource`])
/// needs all records of a logstream topic in one partition, which
/// [`Partitioning::ByTopic`] gives.
#[derive(Clone, Default)]
pub enum Partitioning {
    /// Key = the logstream topic: one partition per topic, order kept.
    #[default]
    ByTopic,
    /// Key from a function; the producer's partitioner maps keys to partitions.
    Key(KeyFn),
    /// Partition from a function.
    Partition(PartitionFn),
}

impl std::fmt::Debug for Partitioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Partitioning::ByTopic => "ByTopic",
            Partitioning::Key(_) => "Key(fn)",
            Partitioning::Partition(_) => "Partition(fn)",
        })
    }
}

/// Everything needed to produce a log's records into Kafka.
///
/// ```
/// let opts = logstream_kafka::KafkaOptions::new("kafka://10.0.0.1:9092,10.0.0.2:9092", "logs.{topic}")?
///     .set("compression.type", "lz4");
/// assert_eq!(opts.brokers(), "10.0.0.1:9092,10.0.0.2:9092");
/// # Ok::<(), logstream_kafka::KafkaError>(())
/// ```
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    pub(crate) brokers: String,
    pub(crate) topic: TopicTemplate,
    pub(crate) partitioning: Partitioning,
    pub(crate) delivery_timeout: Duration,
    pub(crate) properties: Vec<(String, String)>,
}

impl KafkaOptions {
    /// Options for the brokers in `url` (`kafka://h1:9092,h2:9092` or
    /// `h1:9092,h2:9092`) producing each topic into the Kafka topic
    /// rendered from `topic_template` (see [`TopicTemplate`]).
    ///
    /// # Errors
    /// [`KafkaError::InvalidOption`] for an empty broker list or a bad template.
    pub fn new(url: &str, topic_template: &str) -> Result<KafkaOptions> {
        let brokers = url.strip_prefix("kafka://").unwrap_or(url).trim_end_matches('/');
        if brokers.is_empty() || brokers.split(',').any(|b| b.trim().is_empty() || b.contains('/')) {
            return Err(KafkaError::option("brokers", format!("{url:?}: expected kafka://host:port[,host:port…]")));
        }
        Ok(KafkaOptions {
            brokers: brokers.to_owned(),
            topic: TopicTemplate::parse(topic_template, TopicEncoding::Escape)?,
            partitioning: Partitioning::ByTopic,
            delivery_timeout: Duration::from_secs(30),
            properties: Vec::new(),
        })
    }

    /// How logstream topics become Kafka topic names (default [`TopicEncoding::Escape`]).
    ///
    /// # Errors
    /// As [`TopicTemplate::parse`].
    pub fn topic_encoding(mut self, encoding: TopicEncoding) -> Result<KafkaOptions> {
        self.topic = TopicTemplate::parse(self.topic.as_str(), encoding)?;
        Ok(self)
    }

    /// How records are spread over partitions (default [`Partitioning::ByTopic`]).
    pub fn partitioning(mut self, p: Partitioning) -> KafkaOptions {
        self.partitioning = p;
        self
    }

    /// How long librdkafka keeps retrying a record before its delivery
    /// fails (`message.timeout.ms`, default 30 s). A failed delivery fails
    /// the batch, which the reader retries.
    pub fn delivery_timeout(mut self, timeout: Duration) -> KafkaOptions {
        self.delivery_timeout = timeout;
        self
    }

    /// Sets any librdkafka property: credentials and TLS
    /// (`security.protocol`, `sasl.mechanisms`, `sasl.username`,
    /// `sasl.password`, `ssl.ca.location`; TLS needs this crate's `ssl`
    /// feature), `compression.type`, `linger.ms`, … Set last wins; the
    /// idempotence settings the forwarder relies on cannot be turned off.
    pub fn set(mut self, key: &str, value: &str) -> KafkaOptions {
        self.properties.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The bootstrap servers.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// The topic template.
    pub fn topic(&self) -> &TopicTemplate {
        &self.topic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_with_and_without_scheme_are_accepted_and_empty_ones_refused() {
        assert_eq!(KafkaOptions::new("kafka://a:1,b:2", "t").unwrap().brokers(), "a:1,b:2");
        assert_eq!(KafkaOptions::new("a:1", "t").unwrap().brokers(), "a:1");
        assert!(KafkaOptions::new("kafka://", "t").is_err());
        assert!(KafkaOptions::new("a:1,,b:2", "t").is_err());
    }
}
