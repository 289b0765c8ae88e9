//! What each Kafka record carries besides the logstream record's bytes: the
//! headers of [`logstream_ship::headers`], shared with the NATS forwarder.
//!
//! | header                  | value                                          |
//! |-------------------------|------------------------------------------------|
//! | `logstream-id`          | `{log_id:016x}/{topic}/{epoch}/{seq}`: unique, for consumer-side de-duplication |
//! | `logstream-topic`       | the topic                                      |
//! | `logstream-seq`         | the record's sequence number (decimal)         |
//! | `logstream-epoch`       | the writer session that wrote it (decimal)     |
//! | `logstream-log-id`      | the log directory's id, 16 hex digits          |
//! | `logstream-timestamp`   | when it was written, ns since the Unix epoch   |
//! | `logstream-batch-start` | `1`, only on the first record of each batch    |
//!
//! The Kafka record's timestamp is the time the record was written to the
//! log (milliseconds), and its key the logstream topic under
//! [`crate::Partitioning::ByTopic`]; a mirror keeps the exact write time
//! from `logstream-timestamp`.

use logstream_ship::Received;
use logstream_ship::headers::RecordMeta;
use rdkafka::message::{Header, Headers, OwnedHeaders};

pub use logstream_ship::headers::{BATCH_START, EPOCH, ID, LOG_ID, SEQ, TIMESTAMP, TOPIC};
/// The unique id of a record: log directory, topic, writer epoch, sequence
/// number (`{log_id:016x}/{topic}/{epoch}/{seq}`).
pub use logstream_ship::record_id;

/// The headers of the Kafka record that ships `m`.
pub(crate) fn headers(m: &RecordMeta<'_>) -> OwnedHeaders {
    let id = m.id();
    let fields = m.fields().map(|(name, value)| (name, value.to_string()));
    let mut h = OwnedHeaders::new_with_capacity(7).insert(Header { key: ID, value: Some(&id) });
    for (key, value) in &fields {
        h = h.insert(Header { key, value: Some(value) });
    }
    if m.starts_batch() { h.insert(Header { key: BATCH_START, value: Some("1") }) } else { h }
}

/// Reads the logstream headers of a Kafka record; `Err` says what is missing.
pub(crate) fn parse<H: Headers>(headers: Option<&H>) -> Result<Received, String> {
    let h = headers.ok_or("it has no headers")?;
    let get = |name: &str| -> Result<Option<&str>, String> {
        match h.iter().find(|x| x.key == name).and_then(|x| x.value) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v).map(Some).map_err(|e| format!("header {name} is not UTF-8: {e}")),
        }
    };
    logstream_ship::headers::parse(get, get(ID)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_written_by_the_forwarder_parse_back() {
        let m = RecordMeta { log_id: 0xab, topic: "a.b c", epoch: 3, seq: 42, timestamp: 9, batch_first: 40 };
        let h = headers(&m);
        let r = parse(Some(&h)).unwrap();
        assert_eq!(r, Received { topic: "a.b c".into(), seq: 42, epoch: 3, starts_batch: false, timestamp: Some(9) });
        let id = h.iter().find(|x| x.key == ID).unwrap().value.unwrap();
        assert_eq!(id, b"00000000000000ab/a.b c/3/42");
    }

    #[test]
    fn a_record_without_logstream_headers_is_refused() {
        assert_eq!(parse::<OwnedHeaders>(None).unwrap_err(), "it has no headers");
    }
}
