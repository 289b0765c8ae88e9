//! Helpers shared by the scenario tests: librdkafka's built-in mock
//! cluster (no Kafka broker can run here), logs, and reading topics back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// Records per logstream topic: (seq, data), in the order found.
pub type Topics = BTreeMap<String, Vec<(u64, Vec<u8>)>>;

/// A one-broker mock cluster, alive while this value lives.
pub struct Mock {
    holder: BaseProducer,
    pub brokers: String,
}

impl Mock {
    /// Starts a mock cluster whose consumer groups join without the usual
    /// 3 s initial rebalance delay.
    pub fn start() -> Mock {
        let holder: BaseProducer = ClientConfig::new().set("test.mock.num.brokers", "1").create().unwrap();
        let brokers = holder.client().mock_cluster().unwrap().bootstrap_servers();
        // SAFETY: the mock cluster belongs to `holder`, which outlives the call.
        unsafe {
            let cluster = rdkafka::bindings::rd_kafka_handle_mock_cluster(holder.client().native_ptr());
            assert!(!cluster.is_null());
            rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0);
        }
        Mock { holder, brokers }
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        self.holder.client().mock_cluster().unwrap().create_topic(name, partitions, 1).unwrap();
    }

    pub fn broker_down(&self) {
        self.holder.client().mock_cluster().unwrap().broker_down(1).unwrap();
    }

    pub fn broker_up(&self) {
        self.holder.client().mock_cluster().unwrap().broker_up(1).unwrap();
    }

    pub fn url(&self) -> String {
        format!("kafka://{}", self.brokers)
    }
}

/// A log config on `dir` with short intervals and small batches.
pub fn config(dir: &Path) -> logstream::Config {
    let mut cfg = logstream::Config::new(dir);
    cfg.set_flush_interval_ms(10).set_poll_interval_ms(200).set_retry_initial_ms(20).set_retry_max_ms(300);
    cfg.set_max_batch_bytes(16 * 1024);
    cfg
}

/// Polls `cond` until it holds; panics with `what` after `timeout` (a
/// safety net: conditions are real events, this only bounds a hung test).
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

pub fn payload(topic: &str, seq: u64) -> Vec<u8> {
    format!("{topic}:{seq}:{}", "x".repeat((seq % 37) as usize)).into_bytes()
}

pub fn topic_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i:02}")).collect()
}

/// Writes `per_topic` records to each topic, interleaved, and closes the writer.
pub fn write_log(cfg: &logstream::Config, topics: &[String], per_topic: u64) {
    let w = logstream::Writer::open(cfg).unwrap();
    for seq in 0..per_topic {
        for t in topics {
            w.write(t, &payload(t, seq)).unwrap();
        }
    }
    w.close().unwrap();
}

/// True when the reader confirmed everything up to each topic's end.
pub fn all_confirmed(reader: &logstream::ReaderHandle, topics: usize, per_topic: u64) -> bool {
    let p = reader.positions();
    p.len() == topics && p.iter().all(|(_, confirmed, _)| *confirmed == per_topic)
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
        let topic = get(logstream_kafka::headers::TOPIC);
        assert_eq!(m.key(), Some(topic.as_bytes()), "the key is the logstream topic");
        let seq: u64 = get(logstream_kafka::headers::SEQ).parse().unwrap();
        out.entry(topic).or_default().push((seq, m.payload().unwrap_or_default().to_vec()));
        n += 1;
    }
    out
}

/// Asserts that each topic holds exactly records `0..per_topic`, once, in
/// order, with the payloads written.
pub fn assert_exactly_once_in_order(found: &Topics, topics: &[String], per_topic: u64) {
    assert_eq!(found.len(), topics.len(), "topics found: {:?}", found.keys().collect::<Vec<_>>());
    for t in topics {
        let v = &found[t];
        let seqs: Vec<u64> = v.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs.len() as u64, per_topic, "topic {t}: {} records, expected {per_topic}", seqs.len());
        assert!(seqs.iter().copied().eq(0..per_topic), "topic {t}: sequence numbers are not 0..{per_topic} in order");
        for (seq, data) in v {
            assert_eq!(data, &payload(t, *seq), "topic {t} record {seq}: wrong bytes");
        }
    }
}

/// Every record of every topic of a log, read with pull cursors.
pub fn read_log(cfg: &logstream::Config, topics: &[String]) -> Topics {
    let mut out = Topics::new();
    for t in topics {
        let mut r = logstream::TopicReader::open(cfg, t, 0).unwrap();
        let v = out.entry(t.clone()).or_default();
        while let Some(b) = r.next_batch(1 << 20).unwrap() {
            v.extend(b.records().map(|rec| (rec.seq(), rec.data().to_vec())));
        }
    }
    out
}

/// Forwards the whole log of `cfg` as `group`, until every record is confirmed.
pub fn forward_all(cfg: &logstream::Config, group: &str, fwd: &logstream_kafka::KafkaForwarder, topics: &[String]) {
    let w = logstream::Writer::open(cfg).unwrap();
    let ends: Vec<u64> = topics.iter().map(|t| w.next_seq(t).unwrap()).collect();
    w.close().unwrap();
    let reader = logstream::Reader::builder(cfg).group(group).start(fwd.clone().into_forwarder()).unwrap();
    wait_for("every record confirmed", Duration::from_secs(60), || {
        let p = reader.positions();
        topics.iter().zip(&ends).all(|(t, end)| p.iter().any(|(pt, c, _)| pt == t && c == end))
    });
    reader.stop().unwrap();
}
