//! What each Kafka record carries besides the logstream record's bytes.
//!
//! | header                  | value                                          |
//! |-------------------------|------------------------------------------------|
//! | `logstream-id`          | `{log_id:016x}/{topic}/{epoch}/{seq}`: unique, for consumer-side de-duplication |
//! | `logstream-topic`       | the topic                                      |
//! | `logstream-seq`         | the record's sequence number (decimal)         |
//! | `logstream-epoch`       | the writer session that wrote it (decimal)     |
//! | `logstream-log-id`      | the log directory's id, 16 hex digits          |
//! | `logstream-batch-start` | `1`, only on the first record of each batch    |
//!
//! The Kafka record's timestamp is the time the record was written to the
//! log (milliseconds), and its key the logstream topic under
//! [`crate::Partitioning::ByTopic`].

use logstream_ship::Received;
use rdkafka::message::{Header, Headers, OwnedHeaders};

/// The unique id of a record: log directory, topic, writer epoch, sequence
/// number (`{log_id:016x}/{topic}/{epoch}/{seq}`).
pub use logstream_ship::record_id;

/// Header with the record's unique id.
pub const ID: &str = "logstream-id";
/// Header with the logstream topic.
pub const TOPIC: &str = "logstream-topic";
/// Header with the record's sequence number.
pub const SEQ: &str = "logstream-seq";
/// Header with the writer session (epoch) that wrote the record.
pub const EPOCH: &str = "logstream-epoch";
/// Header with the log directory's id (16 hex digits).
pub const LOG_ID: &str = "logstream-log-id";
/// Header present (`1`) only on the first record of each batch: a mirror
/// may start an empty topic there.
pub const BATCH_START: &str = "logstream-batch-start";

pub(crate) struct RecordMeta<'a> {
    pub log_id: u64,
    pub topic: &'a str,
    pub epoch: u64,
    pub seq: u64,
    pub batch_first: u64,
}

impl RecordMeta<'_> {
    pub(crate) fn headers(&self) -> OwnedHeaders {
        let id = record_id(self.log_id, self.topic, self.epoch, self.seq);
        let (seq, epoch, log_id) = (self.seq.to_string(), self.epoch.to_string(), format!("{:016x}", self.log_id));
        let h = OwnedHeaders::new_with_capacity(6)
            .insert(Header { key: ID, value: Some(&id) })
            .insert(Header { key: TOPIC, value: Some(self.topic) })
            .insert(Header { key: SEQ, value: Some(&seq) })
            .insert(Header { key: EPOCH, value: Some(&epoch) })
            .insert(Header { key: LOG_ID, value: Some(&log_id) });
        if self.seq == self.batch_first { h.insert(Header { key: BATCH_START, value: Some("1") }) } else { h }
    }
}

/// Reads the logstream headers of a Kafka record; `Err` says what is missing.
pub(crate) fn parse<H: Headers>(headers: Option<&H>) -> Result<Received, String> {
    let h = headers.ok_or("it has no headers")?;
    let get = |name: &str| -> Result<&str, String> {
        let v = h.iter().find(|x| x.key == name).and_then(|x| x.value).ok_or(format!("no {name} header"))?;
        std::str::from_utf8(v).map_err(|e| format!("header {name} is not UTF-8: {e}"))
    };
    let num = |name: &str| -> Result<u64, String> {
        get(name)?.parse::<u64>().map_err(|e| format!("header {name} is not a number: {e}"))
    };
    let seq = num(SEQ)?;
    Ok(Received {
        topic: get(TOPIC)?.to_owned(),
        seq,
        epoch: num(EPOCH)?,
        starts_batch: h.iter().any(|x| x.key == BATCH_START),
        // The Kafka record's own timestamp has milliseconds only: the
        // mirror writes with its clock rather than a rounded time.
        timestamp: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_written_by_the_forwarder_parse_back() {
        let m = RecordMeta { log_id: 0xab, topic: "a.b c", epoch: 3, seq: 42, batch_first: 40 };
        let h = m.headers();
        let r = parse(Some(&h)).unwrap();
        assert_eq!(r, Received { topic: "a.b c".into(), seq: 42, epoch: 3, starts_batch: false, timestamp: None });
        let id = h.iter().find(|x| x.key == ID).unwrap().value.unwrap();
        assert_eq!(id, b"00000000000000ab/a.b c/3/42");
    }

    #[test]
    fn a_record_without_logstream_headers_is_refused() {
        assert_eq!(parse::<OwnedHeaders>(None).unwrap_err(), "it has no headers");
    }
}
