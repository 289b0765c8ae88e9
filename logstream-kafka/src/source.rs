//! [`KafkaSource`]: mirrors Kafka topics written by [`crate::KafkaForwarder`]s
//! back into a local logstream directory with the original topics and
//! sequence numbers.
//!
//! Position: a Kafka consumer group with manual commits. A record's offset
//! is committed only after the record is written and flushed (made durable)
//! locally; per partition the committed offset is the first record not yet
//! written (one waiting for a predecessor stays uncommitted), so Kafka's
//! position never passes a record the local log lacks. On restart Kafka
//! delivers from the committed offsets; records the local log already holds
//! are skipped ([`logstream::Placed::AlreadyPresent`]), so a crash between
//! the flush and the commit duplicates nothing, and neither do the
//! at-least-once re-sends of the forwarder. Run one mirror per group: a
//! rebalance that moves partitions away would leave their waiting records
//! to the next owner, which is safe but slower.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use logstream_ship::{LocalError, Mirror, MirrorStats, Shutdown, SourceMonitor};

use crate::error::{KafkaError, Result};
use crate::headers;
use crate::topic::TopicTemplate;

/// Which Kafka topics a mirror reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// These topics.
    Topics(Vec<String>),
    /// Topics matching a librdkafka regex (starting with `^`), e.g.
    /// [`TopicTemplate::pattern`]; new matching topics are picked up.
    Pattern(String),
}

/// Where a mirror reads and how it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// Bootstrap servers (`kafka://h:9092,…` or `h:9092,…`).
    pub brokers: String,
    /// The consumer group holding the mirror's position.
    pub group: String,
    /// The topics read.
    pub subscription: Subscription,
    /// Records written between flush-and-commit points (default 2 000); an
    /// idle moment also flushes and commits.
    pub chunk: usize,
    /// How long a record waits for missing predecessors (default 30 s).
    pub reorder_wait: Duration,
    /// Records that may wait per topic before the mirror gives up (default 10 000).
    pub max_waiting: usize,
    /// More librdkafka consumer properties (credentials, TLS, …).
    pub properties: Vec<(String, String)>,
}

impl SourceOptions {
    /// Reads every Kafka topic `template` renders, as consumer group `group`.
    pub fn new(brokers: &str, group: &str, template: &TopicTemplate) -> SourceOptions {
        SourceOptions {
            brokers: brokers.strip_prefix("kafka://").unwrap_or(brokers).to_owned(),
            group: group.to_owned(),
            subscription: if template.is_single_topic() {
                Subscription::Topics(vec![template.as_str().to_owned()])
            } else {
                Subscription::Pattern(template.pattern())
            },
            chunk: 2_000,
            reorder_wait: Duration::from_secs(30),
            max_waiting: 10_000,
            properties: Vec::new(),
        }
    }

    /// Sets a librdkafka consumer property.
    pub fn set(mut self, key: &str, value: &str) -> SourceOptions {
        self.properties.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// Per partition: offsets received and not yet written, and the next offset after the written ones.
#[derive(Default)]
struct Track {
    pending: BTreeSet<i64>,
    next: i64,
    dirty: bool,
}

type Token = (Arc<str>, i32, i64);

/// Mirrors Kafka topics into a local log directory.
pub struct KafkaSource {
    consumer: BaseConsumer,
    writer: logstream::Writer,
    opts: SourceOptions,
    stats: SourceMonitor,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource").field("opts", &self.opts).field("local", &self.writer.base_dir()).finish()
    }
}

impl KafkaSource {
    /// A mirror into the log of `local` (opened for writing: no other
    /// writer may hold it), subscribed as `opts.group`.
    ///
    /// # Errors
    /// [`KafkaError::Client`] for a refused property, [`KafkaError::Consumer`]
    /// if subscribing fails, [`KafkaError::Local`] if the log cannot be opened.
    pub fn new(local: &logstream::Config, opts: SourceOptions) -> Result<KafkaSource> {
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &opts.brokers)
            .set("group.id", &opts.group)
            .set("auto.offset.reset", "earliest")
            .set("client.id", "logstream-kafka-source");
        for (k, v) in &opts.properties {
            cc.set(k, v);
        }
        // The mirror commits itself, after the local flush.
        cc.set("enable.auto.commit", "false").set("enable.auto.offset.store", "false");
        let consumer: BaseConsumer = cc.create().map_err(|e| KafkaError::Client {
            what: "consumer",
            brokers: opts.brokers.clone(),
            cause: e.to_string(),
        })?;
        let topics: Vec<&str> = match &opts.subscription {
            Subscription::Topics(t) => t.iter().map(String::as_str).collect(),
            Subscription::Pattern(p) => vec![p.as_str()],
        };
        consumer.subscribe(&topics).map_err(|e| KafkaError::Consumer {
            group: opts.group.clone(),
            op: "subscribe",
            cause: e.to_string(),
        })?;
        let writer = logstream::Writer::open(local).map_err(LocalError::doing("open the mirror's log"))?;
        Ok(KafkaSource { consumer, writer, opts, stats: SourceMonitor::default() })
    }

    /// A handle to read the counters while [`KafkaSource::run`] runs.
    pub fn monitor(&self) -> SourceMonitor {
        self.stats.clone()
    }

    /// The local writer.
    pub fn writer(&self) -> &logstream::Writer {
        &self.writer
    }

    /// Mirrors until `shutdown` is triggered, calling `on_progress` every
    /// `every`; what was written is flushed and committed before returning.
    /// Broker trouble is retried by librdkafka (and logged).
    ///
    /// # Errors
    /// [`KafkaError::Local`] when the local log fails, [`KafkaError::Gap`]
    /// when Kafka lacks records of a topic, [`KafkaError::NotARecord`] for a
    /// record no forwarder wrote, [`KafkaError::Consumer`] when a commit fails.
    pub fn run(&self, shutdown: &Shutdown, every: Duration, mut on_progress: impl FnMut(&MirrorStats)) -> Result<()> {
        let mut mirror: Mirror<Token> = Mirror::new(self.writer.clone(), self.opts.reorder_wait, self.opts.max_waiting);
        let mut tracks: HashMap<(Arc<str>, i32), Track> = HashMap::new();
        let mut names: HashMap<String, Arc<str>> = HashMap::new();
        let mut since_commit = 0usize;
        let mut last_report = Instant::now();
        let result = loop {
            if shutdown.is_triggered() {
                break Ok(());
            }
            match self.consumer.poll(Duration::from_millis(20)) {
                Some(Ok(msg)) => {
                    let kt = match names.get(msg.topic()) {
                        Some(n) => n.clone(),
                        None => names.entry(msg.topic().to_owned()).or_insert_with(|| msg.topic().into()).clone(),
                    };
                    let (partition, offset) = (msg.partition(), msg.offset());
                    let rec = headers::parse(msg.headers()).map_err(|reason| KafkaError::NotARecord {
                        kafka_topic: kt.to_string(),
                        partition,
                        offset,
                        reason,
                    });
                    let rec = match rec {
                        Ok(r) => r,
                        Err(e) => break Err(e),
                    };
                    let track = tracks.entry((kt.clone(), partition)).or_default();
                    track.pending.insert(offset);
                    if let Err(e) = mirror.offer(&rec, msg.payload().unwrap_or_default(), (kt, partition, offset)) {
                        break Err(e.into());
                    }
                    since_commit += 1;
                    if since_commit < self.opts.chunk {
                        continue;
                    }
                }
                Some(Err(e)) => log::warn!("mirror consumer group {:?}: {e}", self.opts.group),
                None => {
                    if let Err(e) = mirror.idle() {
                        break Err(e.into());
                    }
                }
            }
            since_commit = 0;
            if let Err(e) = self.commit(&mut mirror, &mut tracks) {
                break Err(e);
            }
            if last_report.elapsed() >= every {
                last_report = Instant::now();
                on_progress(&self.stats.stats());
            }
        };
        // Whatever was written is flushed and committed, even on errors.
        let committed = self.commit(&mut mirror, &mut tracks);
        on_progress(&self.stats.stats());
        result.and(committed)
    }

    fn commit(&self, mirror: &mut Mirror<Token>, tracks: &mut HashMap<(Arc<str>, i32), Track>) -> Result<()> {
        for (kt, partition, offset) in mirror.acknowledgeable()? {
            if let Some(t) = tracks.get_mut(&(kt, partition)) {
                t.pending.remove(&offset);
                t.next = t.next.max(offset + 1);
                t.dirty = true;
            }
        }
        let mut tpl = TopicPartitionList::new();
        for ((kt, partition), t) in tracks.iter_mut().filter(|(_, t)| t.dirty) {
            let at = t.pending.first().copied().unwrap_or(t.next);
            tpl.add_partition_offset(kt, *partition, Offset::Offset(at)).map_err(|e| KafkaError::Consumer {
                group: self.opts.group.clone(),
                op: "commit",
                cause: e.to_string(),
            })?;
            t.dirty = false;
        }
        if tpl.count() > 0 {
            self.consumer.commit(&tpl, CommitMode::Sync).map_err(|e| KafkaError::Consumer {
                group: self.opts.group.clone(),
                op: "commit",
                cause: e.to_string(),
            })?;
        }
        self.stats.set(mirror.stats());
        Ok(())
    }
}
