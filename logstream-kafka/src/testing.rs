//! Helpers for tests against Kafka (feature `testing`), used by this
//! crate's tests and by the CLI's `logstream forward` tests: librdkafka's
//! built-in mock cluster (no Kafka broker can run here; it listens on
//! loopback TCP, so another process can reach it while the test keeps it
//! alive), and reading topics back. They panic on failure, as test helpers do.

use std::time::{Duration, Instant};

use logstream_ship::testing::Topics;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// A one-broker mock cluster, alive while this value lives.
pub struct Mock {
    holder: BaseProducer,
    /// Its bootstrap servers (`127.0.0.1:PORT`).
    pub brokers: String,
}

impl Mock {
    /// Starts a mock cluster whose consumer groups join without the usual
    /// 3 s initial rebalance delay.
    pub fn start() -> Mock {
        let holder: BaseProducer =
            ClientConfig::new().set("test.mock.num.brokers", "1").create().expect("a mock cluster");
        let brokers = holder.client().mock_cluster().expect("the mock cluster").bootstrap_servers();
        // SAFETY: the mock cluster belongs to `holder`, which outlives the call.
        #[expect(unsafe_code, reason = "librdkafka's mock cluster API has no safe binding for the rebalance delay")]
        unsafe {
            let cluster = rdkafka::bindings::rd_kafka_handle_mock_cluster(holder.client().native_ptr());
            assert!(!cluster.is_null());
            rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0);
        }
        Mock { holder, brokers }
    }

    /// Creates a topic of `partitions` partitions.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        self.holder
            .client()
            .mock_cluster()
            .expect("the mock cluster")
            .create_topic(name, partitions, 1)
            .expect("the mock cluster");
    }

    /// Makes the broker unreachable.
    pub fn broker_down(&self) {
        self.holder.client().mock_cluster().expect("the mock cluster").broker_down(1).expect("the mock cluster");
    }

    /// Brings the broker back.
    pub fn broker_up(&self) {
        self.holder.client().mock_cluster().expect("the mock cluster").broker_up(1).expect("the mock cluster");
    }

    /// Makes the next `n` produce requests fail with
    /// `MSG_SIZE_TOO_LARGE` (librdkafka's mock error injection): nothing of
    /// them is stored and librdkafka does not retry them, so the
    /// deliveries fail and the forwarder's batches with them.
    pub fn fail_next_produce_requests(&self, n: usize) {
        let errors = vec![rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; n];
        self.holder
            .client()
            .mock_cluster()
            .expect("the mock cluster")
            .request_errors(rdkafka::types::RDKafkaApiKey::Produce, &errors);
    }

    /// Messages in `topic` (the sum of its partitions' high watermarks),
    /// duplicates included.
    pub fn messages_in(&self, topic: &str, partitions: i32) -> u64 {
        let c: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &self.brokers).create().expect("a consumer");
        (0..partitions)
            .map(|p| {
                let (low, high) =
                    c.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("the partition's watermarks");
                u64::try_from(high - low).unwrap_or(0)
            })
            .sum()
    }

    /// `kafka://` and its bootstrap servers.
    pub fn url(&self) -> String {
        format!("kafka://{}", self.brokers)
    }
}

/// Reads `expect` records from every partition of `kafka_topics`, from the
/// beginning, per `logstream-topic` header; checks the key is the topic.
pub fn read_kafka(brokers: &str, kafka_topics: &[(&str, i32)], expect: usize) -> Topics {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for (t, parts) in kafka_topics {
        for p in 0..*parts {
            tpl.add_partition_offset(t, p, Offset::Beginning).unwrap();
        }
    }
    c.assign(&tpl).unwrap();
    let mut out = Topics::new();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while n < expect {
        assert!(Instant::now() < deadline, "read {n} of {expect} records from Kafka");
        let Some(m) = c.poll(Duration::from_millis(100)) else { continue };
        let m = m.unwrap();
        let h = m.headers().unwrap();
        let get = |k: &str| String::from_utf8(h.iter().find(|x| x.key == k).unwrap().value.unwrap().to_vec()).unwrap();
        let topic = get(crate::headers::TOPIC);
        assert_eq!(m.key(), Some(topic.as_bytes()), "the key is the logstream topic");
        let seq: u64 = get(crate::headers::SEQ).parse().unwrap();
        out.entry(topic).or_default().push((seq, m.payload().unwrap_or_default().to_vec()));
        n += 1;
    }
    out
}
