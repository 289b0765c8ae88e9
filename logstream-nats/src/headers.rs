//! What each published message carries besides the record's bytes.
//!
//! | header                  | value                                          |
//! |-------------------------|------------------------------------------------|
//! | `Nats-Msg-Id`           | `{log_id:016x}/{topic}/{epoch}/{seq}`          |
//! | `Logstream-Topic`       | the topic                                      |
//! | `Logstream-Seq`         | the record's sequence number                   |
//! | `Logstream-Epoch`       | the writer session that wrote it               |
//! | `Logstream-Timestamp`   | when it was written, ns since the Unix epoch   |
//! | `Logstream-Batch-Start` | `1`, only on the first record of each batch    |
//!
//! With [`HeaderSet::IdOnly`] only `Nats-Msg-Id` (and the batch start mark)
//! is sent, a fraction of the header bytes: the stream takes small records
//! markedly faster. The topic, epoch and sequence number are then read from
//! the message id, which is unambiguous because topics never contain `/`;
//! the write time is not sent, so a [`crate::NatsSource`] mirror writes such
//! records with its own clock (with [`HeaderSet::Full`] it keeps the
//! source's `Logstream-Timestamp`).
//!
//! The message id is [`logstream_ship::record_id`], unique for the life of
//! a stream, not only of one log. The batch start mark lets a mirror tell a
//! topic's true first record from one whose predecessors are still to come.

use async_nats::HeaderMap;
use async_nats::header::{HeaderValue, NATS_MESSAGE_ID};
use logstream_ship::{Received, RecordId};

use crate::error::NatsError;

/// The `Nats-Msg-Id` of a record: unique per log directory, topic, writer
/// epoch and sequence number (`{log_id:016x}/{topic}/{epoch}/{seq}`).
pub use logstream_ship::record_id as message_id;

/// Header with the logstream topic.
pub const TOPIC: &str = "Logstream-Topic";
/// Header with the record's sequence number.
pub const SEQ: &str = "Logstream-Seq";
/// Header with the writer session (epoch) that wrote the record.
pub const EPOCH: &str = "Logstream-Epoch";
/// Header with the write time, nanoseconds since the Unix epoch.
pub const TIMESTAMP: &str = "Logstream-Timestamp";
/// Header present (`1`) only on the first record of each batch.
pub const BATCH_START: &str = "Logstream-Batch-Start";

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

/// What the forwarder knows about a record when it publishes it.
pub(crate) struct RecordMeta<'a> {
    pub log_id: u64,
    pub topic: &'a str,
    pub epoch: u64,
    pub seq: u64,
    pub timestamp: u64,
    pub batch_first: u64,
}

impl RecordMeta<'_> {
    pub(crate) fn headers(&self, set: HeaderSet) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(NATS_MESSAGE_ID, message_id(self.log_id, self.topic, self.epoch, self.seq));
        if self.seq == self.batch_first {
            h.insert(BATCH_START, "1");
        }
        if set == HeaderSet::Full {
            h.insert(TOPIC, self.topic);
            h.insert(SEQ, HeaderValue::from(self.seq));
            h.insert(EPOCH, HeaderValue::from(self.epoch));
            h.insert(TIMESTAMP, HeaderValue::from(self.timestamp));
        }
        h
    }
}

/// Reads the logstream headers of a stream message.
pub(crate) fn parse(headers: Option<&HeaderMap>, stream_seq: u64, subject: &str) -> Result<Received, NatsError> {
    let bad = |reason: String| NatsError::NotARecord { stream_seq, subject: subject.to_owned(), reason };
    let h = headers.ok_or_else(|| bad("it has no headers".into()))?;
    let text = |name: &str| h.get(name).map(HeaderValue::as_str).ok_or_else(|| bad(format!("no {name} header")));
    let num = |name: &str| text(name)?.parse::<u64>().map_err(|e| bad(format!("header {name} is not a number: {e}")));
    let (topic, seq, epoch) = if h.get(TOPIC).is_some() {
        (text(TOPIC)?.to_owned(), num(SEQ)?, num(EPOCH)?)
    } else {
        let id = RecordId::parse(text(NATS_MESSAGE_ID.as_ref())?).map_err(|e| bad(format!("Nats-Msg-Id {e}")))?;
        (id.topic.to_owned(), id.seq, id.epoch)
    };
    let timestamp = match h.get(TIMESTAMP) {
        Some(_) => Some(num(TIMESTAMP)?),
        None => None,
    };
    Ok(Received { topic, seq, epoch, starts_batch: h.get(BATCH_START).is_some(), timestamp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_written_by_the_forwarder_parse_back() {
        let m = RecordMeta { log_id: 0xab, topic: "a.b c", epoch: 3, seq: 42, timestamp: 9, batch_first: 40 };
        let h = m.headers(HeaderSet::Full);
        assert_eq!(h.get(NATS_MESSAGE_ID).unwrap().as_str(), "00000000000000ab/a.b c/3/42");
        let r = parse(Some(&h), 1, "s").unwrap();
        assert_eq!(r, Received { topic: "a.b c".into(), seq: 42, epoch: 3, starts_batch: false, timestamp: Some(9) });
    }

    #[test]
    fn id_only_headers_parse_back_from_the_message_id() {
        let m = RecordMeta { log_id: 1, topic: "a.b c", epoch: 3, seq: 42, timestamp: 9, batch_first: 42 };
        let h = m.headers(HeaderSet::IdOnly);
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
