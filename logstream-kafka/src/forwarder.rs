//! [`KafkaForwarder`]: produces a batch with an idempotent producer and
//! confirms its records as their delivery reports arrive.
//!
//! Records are handed to librdkafka in order (it batches and pipelines
//! them); the delivery reports are then awaited in order, and each
//! delivered record is confirmed at once through a [`logstream::Confirmer`]:
//! the reader persists the confirmed prefix of a batch still in flight at
//! its checkpoint interval, so a forwarder killed in the middle of a big
//! batch re-sends, after its restart, only what Kafka had not reported
//! delivered (not the whole batch). Only a contiguous prefix is confirmed:
//! reports of different partitions (brokers) come in any order, and a later
//! record's report waits until every earlier one is in. The first failed
//! report stops the batch: the records delivered before it stay confirmed
//! and the batch fails, so the reader retries from the first undelivered
//! record.
//!
//! Waiting in order costs about one wake-up per produce response, not per
//! record: when the oldest report comes, the rest of its response has
//! usually come with it and is taken without blocking.
//!
//! What this guarantees (see the crate docs): the idempotent producer
//! removes duplicates of its own internal retries and keeps each
//! partition's order; a record re-sent by the *reader* (after a crash of
//! the forwarding process, or a failed batch) is a new Kafka record.
//! Delivery is therefore at-least-once, and the `logstream-id` header lets
//! consumers drop the duplicates.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use logstream::Batch;
use logstream_ship::headers::RecordMeta;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use crate::error::{KafkaError, Result};
use crate::options::{KafkaOptions, Partitioning};

/// What a running forwarder has done ([`KafkaForwarder::run`](logstream_ship::Forwarder::run)), passed to the
/// progress callback.
pub type Progress = logstream_ship::Progress<ForwarderStats>;

/// Counters of a forwarder since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwarderStats {
    /// Records handed to the producer (including re-sends of retried batches).
    pub produced: u64,
    /// Records whose delivery report said delivered.
    pub delivered: u64,
    /// Batches that failed (and were retried by the reader).
    pub failed_batches: u64,
    /// Payload bytes delivered.
    pub bytes: u64,
}

#[derive(Default)]
struct Counters {
    produced: AtomicU64,
    delivered: AtomicU64,
    failed_batches: AtomicU64,
    bytes: AtomicU64,
}

/// Ships logstream batches into Kafka. Cheap to clone; clones share the
/// producer and the counters.
///
/// ```no_run
/// use logstream_kafka::{KafkaForwarder, KafkaOptions};
/// let cfg = logstream::Config::new("/var/lib/app/logstream");
/// let opts = KafkaOptions::new("kafka://127.0.0.1:9092", "logs.{topic}")?;
/// let reader = logstream::Reader::builder(&cfg)
///     .group("shipper")
///     .start(KafkaForwarder::connect(&opts)?.into_forwarder())?;
/// # reader.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KafkaForwarder {
    producer: FutureProducer,
    opts: Arc<KafkaOptions>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for KafkaForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaForwarder").field("brokers", &self.opts.brokers).field("topic", &self.opts.topic).finish()
    }
}

/// Lets [`logstream_ship::run`] drive it: `forwarder.run(&cfg, group,
/// &shutdown, every, on_progress)` forwards until `shutdown` is triggered.
impl logstream_ship::Forwarder for KafkaForwarder {
    type Stats = ForwarderStats;
    type Error = KafkaError;

    fn forward(&self, batch: &Batch) -> Result<()> {
        KafkaForwarder::forward(self, batch)
    }

    fn stats(&self) -> ForwarderStats {
        KafkaForwarder::stats(self)
    }
}

/// A delivery report, or the producer gone before it came.
type Report = <DeliveryFuture as std::future::Future>::Output;

/// The producer settings the forwarder relies on, applied after the user's.
const FORCED: &[(&str, &str)] = &[("enable.idempotence", "true"), ("acks", "all")];

impl KafkaForwarder {
    /// Creates an idempotent producer for `opts` (librdkafka connects in
    /// the background: an unreachable broker shows as failed deliveries).
    ///
    /// # Errors
    /// [`KafkaError::Client`] if librdkafka refuses a property.
    pub fn connect(opts: &KafkaOptions) -> Result<KafkaForwarder> {
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &opts.brokers)
            .set("message.timeout.ms", opts.delivery_timeout.as_millis().max(1).to_string())
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "1000000")
            .set("client.id", "logstream-kafka");
        for (k, v) in &opts.properties {
            cc.set(k, v);
        }
        for (k, v) in FORCED {
            cc.set(*k, *v);
        }
        let producer: FutureProducer = cc.create().map_err(|e| KafkaError::Client {
            what: "producer",
            brokers: opts.brokers.clone(),
            cause: e.to_string(),
        })?;
        Ok(KafkaForwarder { producer, opts: Arc::new(opts.clone()), counters: Arc::default() })
    }

    /// Counters since the forwarder was made.
    pub fn stats(&self) -> ForwarderStats {
        let c = &self.counters;
        ForwarderStats {
            produced: c.produced.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            failed_batches: c.failed_batches.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
        }
    }

    /// Asks the brokers for the cluster's metadata, waiting at most
    /// `timeout`, and returns how many brokers the cluster has: librdkafka
    /// connects in the background, so this is how a service finds out at
    /// start that the brokers cannot be reached.
    ///
    /// # Errors
    /// [`KafkaError::Connect`] when no broker answered in time.
    pub fn check_brokers(&self, timeout: Duration) -> Result<usize> {
        let md = self
            .producer
            .client()
            .fetch_metadata(None, timeout)
            .map_err(|e| KafkaError::Connect { brokers: self.opts.brokers.clone(), cause: e.to_string() })?;
        Ok(md.brokers().len())
    }

    /// The underlying producer, for anything this crate does not wrap.
    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }

    /// The closure to hand to [`logstream::ReaderBuilder::start`].
    pub fn into_forwarder(self) -> impl Fn(&Batch) -> Result<()> + Send + Sync + 'static {
        move |batch: &Batch| self.forward(batch)
    }

    /// Produces `batch` and waits for every delivery report (blocking),
    /// confirming each delivered record as its report arrives (in record
    /// order: see the module docs). `Ok` means Kafka holds every record of
    /// the batch.
    ///
    /// # Errors
    /// [`KafkaError::Delivery`] when a record could not be queued or its
    /// delivery failed (the delivered prefix stays confirmed), or
    /// [`KafkaError::InvalidTopic`].
    pub fn forward(&self, batch: &Batch) -> Result<()> {
        let r = self.produce_batch(batch);
        if r.is_err() {
            self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn produce_batch(&self, batch: &Batch) -> Result<()> {
        let topic = batch.topic();
        let kafka_topic = self.opts.topic.render(topic, batch.log_id())?;
        let confirmer = batch.confirmer();
        let mut pending: VecDeque<(u64, usize, DeliveryFuture)> = VecDeque::new();
        let mut last_ok = None;
        let mut failure = None;
        'records: for rec in batch.records() {
            let meta = RecordMeta {
                log_id: batch.log_id(),
                topic,
                epoch: batch.epoch(),
                seq: rec.seq(),
                timestamp: rec.timestamp(),
                batch_first: batch.first_seq(),
            };
            let key: Vec<u8> = match &self.opts.partitioning {
                Partitioning::ByTopic | Partitioning::Partition(_) => topic.as_bytes().to_vec(),
                Partitioning::Key(f) => f(topic, &rec),
            };
            let mut record = FutureRecord::to(&kafka_topic)
                .payload(rec.data())
                .key(key.as_slice())
                .headers(crate::headers::headers(&meta))
                .timestamp(i64::try_from(rec.timestamp() / 1_000_000).unwrap_or(i64::MAX));
            if let Partitioning::Partition(f) = &self.opts.partitioning {
                record = record.partition(f(topic, &rec));
            }
            loop {
                match self.producer.send_result(record) {
                    Ok(f) => {
                        self.counters.produced.fetch_add(1, Ordering::Relaxed);
                        pending.push_back((rec.seq(), rec.data().len(), f));
                        break;
                    }
                    Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        // librdkafka's queue is full: wait for the oldest report.
                        record = back;
                        match pending.pop_front() {
                            Some((seq, len, f)) => {
                                let report = futures_executor::block_on(f);
                                if let Err(f) = self.settle(seq, len, report, &confirmer, &mut last_ok) {
                                    failure = Some(f);
                                    break 'records;
                                }
                            }
                            None => self.producer.poll(Duration::from_millis(10)),
                        }
                    }
                    Err((e, _)) => {
                        failure = Some((rec.seq(), e.to_string()));
                        break 'records;
                    }
                }
            }
        }
        // In order: a record is confirmed only once every earlier one is.
        // (After a failure the remaining reports are not awaited: those
        // records are re-sent with the retried rest of the batch.)
        while failure.is_none()
            && let Some((seq, len, f)) = pending.pop_front()
        {
            failure = self.settle(seq, len, futures_executor::block_on(f), &confirmer, &mut last_ok).err();
        }
        let Some((seq, cause)) = failure else { return Ok(()) };
        Err(KafkaError::Delivery { topic: topic.to_owned(), seq, kafka_topic, confirmed: last_ok, cause })
    }

    /// Takes one delivery report: a delivered record is confirmed at once
    /// (the caller hands the reports over in record order).
    fn settle(
        &self,
        seq: u64,
        len: usize,
        report: Report,
        confirmer: &logstream::Confirmer,
        last_ok: &mut Option<u64>,
    ) -> Result<(), (u64, String)> {
        match report {
            Ok(Ok(_)) => {
                *last_ok = Some(seq);
                // Cannot fail: `seq` came from this batch.
                let _ = confirmer.confirm(seq);
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                self.counters.bytes.fetch_add(len as u64, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err((e, _))) => Err((seq, e.to_string())),
            Err(_) => Err((seq, "the producer was dropped before reporting the delivery".into())),
        }
    }
}
