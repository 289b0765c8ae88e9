//! What each published message carries besides the record's bytes: the
//! headers of [`logstream_ship::headers`], shared with the Kafka forwarder,
//! with the record id as `Nats-Msg-Id` (which JetStream de-duplicates by).
//!
//! | header                  | value                                          |
//! |-------------------------|------------------------------------------------|
//! | `Nats-Msg-Id`           | `{log_id:016x}/{topic}/{epoch}/{seq}`          |
//! | `logstream-topic`       | the topic                                      |
//! | `logstream-seq`         | the record's sequence number                   |
//! | `logstream-epoch`       | the writer session that wrote it               |
//! | `logstream-log-id`      | the log directory's id, 16 hex digits          |
//! | `logstream-timestamp`   | when it was written, ns since the Unix epoch   |
//! | `logstream-batch-start` | `1`, only on the first record of each batch    |
//!
//! With [`HeaderSet::IdOnly`] only `Nats-Msg-Id` (and the batch start mark)
//! is sent, a fraction of the header bytes: the stream takes small records
//! markedly faster. The topic, epoch and sequence number are then read from
//! the message id, which is unambiguous because topics never contain `/`;
//! the write time is not sent, so a [`crate::NatsSource`] mirror writes such
//! records with its own clock (with [`HeaderSet::Full`] it keeps the
//! source's `logstream-timestamp`). Streams written before the engines
//! shared their header names (`Logstream-Topic`, …) are still read.
//!
//! The message id is [`logstream_ship::record_id`], unique for the life of
//! a stream, not only of one log. The batch start mark lets a mirror tell a
//! topic's true first record from one whose predecessors are still to come.

use async_nats::HeaderMap;
use async_nats::header::{HeaderValue, NATS_MESSAGE_ID};
use logstream_ship::Received;
use logstream_ship::headers::{RecordMeta, Value};

use crate::error::NatsError;

pub use logstream_ship::headers::{BATCH_START, EPOCH, LOG_ID, SEQ, TIMESTAMP, TOPIC};
/// The `Nats-Msg-Id` of a record: unique per log directory, topic, writer
/// epoch and sequence number (`{log_id:016x}/{topic}/{epoch}/{seq}`).
pub use logstream_ship::record_id as message_id;

/// Which headers each message carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeaderSet {
    /// Every header of the table above: consumers read topic, sequence
    /// number, epoch and write time without parsing.
    #[default]
    Full,
    /// `Nats-Msg-Id` and the batch start mark only: fewer bytes per message
    /// for small records; [`crate::NatsSource`] reads either form.
    IdOnly,
}

/// The headers of the message that ships `m`.
pub(crate) fn headers(m: &RecordMeta<'_>, set: HeaderSet) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(NATS_MESSAGE_ID, m.id());
    if m.starts_batch() {
        h.insert(BATCH_START, "1");
    }
    if set == HeaderSet::Full {
        for (name, value) in m.fields() {
            match value {
                Value::Text(s) => h.insert(name, s),
                Value::Decimal(n) => h.insert(name, HeaderValue::from(n)),
                Value::Hex(_) => h.insert(name, value.to_string()),
            }
        }
    }
    h
}

/// Reads the logstream headers of a stream message.
pub(crate) fn parse(headers: Option<&HeaderMap>, stream_seq: u64, subject: &str) -> Result<Received, NatsError> {
    let bad = |reason: String| NatsError::NotARecord { stream_seq, subject: subject.to_owned(), reason };
    let h = headers.ok_or_else(|| bad("it has no headers".into()))?;
    let get = |name: &str| Ok(h.get(name).map(HeaderValue::as_str));
    logstream_ship::headers::parse(get, h.get(NATS_MESSAGE_ID).map(HeaderValue::as_str)).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_written_by_the_forwarder_parse_back() {
        let m = RecordMeta { log_id: 0xab, topic: "a.b c", epoch: 3, seq: 42, timestamp: 9, batch_first: 40 };
        let h = headers(&m, HeaderSet::Full);
        assert_eq!(h.get(NATS_MESSAGE_ID).unwrap().as_str(), "00000000000000ab/a.b c/3/42");
        let r = parse(Some(&h), 1, "s").unwrap();
        assert_eq!(r, Received { topic: "a.b c".into(), seq: 42, epoch: 3, starts_batch: false, timestamp: Some(9) });
    }

    #[test]
    fn id_only_headers_parse_back_from_the_message_id() {
        let m = RecordMeta { log_id: 1, topic: "a.b c", epoch: 3, seq: 42, timestamp: 9, batch_first: 42 };
        let h = headers(&m, HeaderSet::IdOnly);
        assert!(h.get(TOPIC).is_none());
        let r = parse(Some(&h), 1, "s").unwrap();
        assert_eq!(r, Received { topic: "a.b c".into(), seq: 42, epoch: 3, starts_batch: true, timestamp: None });
    }

    #[test]
    fn a_message_without_logstream_headers_is_refused_with_its_position() {
        let e = parse(None, 17, "logs.x").unwrap_err().to_string();
        assert!(e.contains("17") && e.contains("logs.x") && e.contains("no headers"), "{e}");
    }
}
