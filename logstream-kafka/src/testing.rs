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

/// A mock cluster (one broker unless made with [`Mock::with_brokers`]),
/// alive while this value lives.
pub struct Mock {
    holder: BaseProducer,
    /// Its bootstrap servers (`127.0.0.1:PORT`).
    pub brokers: String,
}

impl Mock {
    /// Starts a one-broker mock cluster whose consumer groups join without
    /// the usual 3 s initial rebalance delay.
    pub fn start() -> Mock {
        Mock::with_brokers(1)
    }

    /// Starts a mock cluster of `brokers` brokers (ids 1 to `brokers`), as
    /// [`Mock::start`] does.
    pub fn with_brokers(brokers: u32) -> Mock {
        let holder: BaseProducer =
            ClientConfig::new().set("test.mock.num.brokers", brokers.to_string()).create().expect("a mock cluster");
        let bootstrap = holder.client().mock_cluster().expect("the mock cluster").bootstrap_servers();
        let mock = Mock { holder, brokers: bootstrap };
        // SAFETY: the cluster belongs to `mock.holder`, alive during the call.
        #[expect(unsafe_code, reason = "librdkafka's mock cluster API has no safe binding for the rebalance delay")]
        unsafe {
            rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(mock.cluster(), 0);
        }
        mock
    }

    /// The native mock cluster, for the calls rdkafka does not wrap.
    fn cluster(&self) -> *mut rdkafka::bindings::rd_kafka_mock_cluster_t {
        // SAFETY: `holder` is a live client made with test.mock.num.brokers.
        #[expect(unsafe_code, reason = "librdkafka's mock cluster handle has no safe binding")]
        let cluster = unsafe { rdkafka::bindings::rd_kafka_handle_mock_cluster(self.holder.client().native_ptr()) };
        assert!(!cluster.is_null(), "the client holds no mock cluster");
        cluster
    }

    /// Makes `broker` the leader of `topic`'s `partition` (clients see it
    /// in the metadata they fetch from then on).
    pub fn set_leader(&self, topic: &str, partition: i32, broker: i32) {
        self.holder
            .client()
            .mock_cluster()
            .expect("the mock cluster")
            .partition_leader(topic, partition, Some(broker))
            .expect("the mock cluster");
    }

    /// `broker` answers its next `answered` produce requests as usual, then
    /// takes the one after it without storing its records and holds the
    /// answer back for `stall` (then a retriable `NOT_ENOUGH_REPLICAS`). The
    /// requests sent to it meanwhile wait behind that answer, as on one
    /// connection to a stuck broker: the records they carry stay without a
    /// delivery report, while other brokers keep answering.
    pub fn stall_produce_after(&self, broker: i32, answered: usize, stall: Duration) {
        use rdkafka::bindings::rd_kafka_resp_err_t as Err;
        let produce = rdkafka::types::RDKafkaApiKey::Produce as i16;
        let stall_ms = i32::try_from(stall.as_millis()).expect("a stall of less than 24 days");
        let entries = std::iter::repeat_n((Err::RD_KAFKA_RESP_ERR_NO_ERROR, 0), answered)
            .chain([(Err::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, stall_ms)]);
        for (err, rtt_ms) in entries {
            // SAFETY: a live cluster; one (error, rtt in ms) pair of C ints, as `cnt` = 1 says.
            #[expect(unsafe_code, reason = "librdkafka's per-broker error injection has no safe binding")]
            let r = unsafe {
                rdkafka::bindings::rd_kafka_mock_broker_push_request_error_rtts(
                    self.cluster(),
                    broker,
                    produce,
                    1,
                    err as std::ffi::c_int,
                    rtt_ms as std::ffi::c_int,
                )
            };
            assert_eq!(r, Err::RD_KAFKA_RESP_ERR_NO_ERROR, "no broker {broker} in the mock cluster");
        }
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
        (0..partitions).map(|p| self.messages_in_partition(topic, p)).sum()
    }

    /// Messages in one partition of `topic` (its high watermark; the mock
    /// keeps every message from offset 0).
    pub fn messages_in_partition(&self, topic: &str, partition: i32) -> u64 {
        let c: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &self.brokers).create().expect("a consumer");
        let (low, high) =
            c.fetch_watermarks(topic, partition, Duration::from_secs(10)).expect("the partition's watermarks");
        u64::try_from(high - low).unwrap_or(0)
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
