//! The headers every engine puts on a shipped record, defined once for
//! NATS and Kafka: the same names and the same contents on both.
//!
//! | header                  | value                                          |
//! |-------------------------|------------------------------------------------|
//! | `logstream-id`          | [`record_id`]: `{log_id:016x}/{topic}/{epoch}/{seq}` (NATS sends it as `Nats-Msg-Id`, which the server de-duplicates by) |
//! | `logstream-topic`       | the topic                                      |
//! | `logstream-seq`         | the record's sequence number (decimal)         |
//! | `logstream-epoch`       | the writer session that wrote it (decimal)     |
//! | `logstream-log-id`      | the log directory's id, 16 hex digits          |
//! | `logstream-timestamp`   | when it was written, ns since the Unix epoch   |
//! | `logstream-batch-start` | `1`, only on the first record of each batch    |
//!
//! The id alone says topic, epoch and sequence number (topics never contain
//! `/`), so an engine may send only the id and the batch start mark (NATS
//! `HeaderSet::IdOnly`); [`parse`] reads either form. The batch start mark
//! lets a mirror tell a topic's true first record from one whose
//! predecessors are still to come.
//!
//! Before 0.1.0 the NATS forwarder wrote mixed-case names
//! (`Logstream-Topic`, …, no `logstream-log-id`); [`parse`] still reads
//! streams written so ([`LEGACY_NAMES`]).

use crate::mirror::Received;
use crate::record_id::{RecordId, record_id};

/// Header with the record's unique id ([`record_id`]).
pub const ID: &str = "logstream-id";
/// Header with the logstream topic.
pub const TOPIC: &str = "logstream-topic";
/// Header with the record's sequence number.
pub const SEQ: &str = "logstream-seq";
/// Header with the writer session (epoch) that wrote the record.
pub const EPOCH: &str = "logstream-epoch";
/// Header with the log directory's id (16 hex digits).
pub const LOG_ID: &str = "logstream-log-id";
/// Header with the write time, nanoseconds since the Unix epoch.
pub const TIMESTAMP: &str = "logstream-timestamp";
/// Header present (`1`) only on the first record of each batch.
pub const BATCH_START: &str = "logstream-batch-start";

/// The names the NATS forwarder used before the engines shared them, as
/// (name now, name then): [`parse`] falls back to them.
pub const LEGACY_NAMES: [(&str, &str); 5] = [
    (TOPIC, "Logstream-Topic"),
    (SEQ, "Logstream-Seq"),
    (EPOCH, "Logstream-Epoch"),
    (TIMESTAMP, "Logstream-Timestamp"),
    (BATCH_START, "Logstream-Batch-Start"),
];

/// What a forwarder knows about a record when it ships it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta<'a> {
    /// The log directory's id.
    pub log_id: u64,
    /// The topic.
    pub topic: &'a str,
    /// The writer session that wrote the record.
    pub epoch: u64,
    /// The record's sequence number.
    pub seq: u64,
    /// When it was written, ns since the Unix epoch.
    pub timestamp: u64,
    /// The first sequence number of the batch it is shipped in.
    pub batch_first: u64,
}

/// A header's value: text, or a number the engine formats its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// Text as is.
    Text(&'a str),
    /// A decimal number.
    Decimal(u64),
    /// 16 hex digits.
    Hex(u64),
}

impl std::fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            Value::Decimal(n) => write!(f, "{n}"),
            Value::Hex(n) => write!(f, "{n:016x}"),
        }
    }
}

impl<'a> RecordMeta<'a> {
    /// Its unique id, the value of [`ID`].
    pub fn id(&self) -> String {
        record_id(self.log_id, self.topic, self.epoch, self.seq)
    }

    /// True for the first record of its batch ([`BATCH_START`]).
    pub fn starts_batch(&self) -> bool {
        self.seq == self.batch_first
    }

    /// The headers that describe the record beyond its id, in table order
    /// ([`TOPIC`], [`SEQ`], [`EPOCH`], [`LOG_ID`], [`TIMESTAMP`]).
    pub fn fields(&self) -> [(&'static str, Value<'a>); 5] {
        [
            (TOPIC, Value::Text(self.topic)),
            (SEQ, Value::Decimal(self.seq)),
            (EPOCH, Value::Decimal(self.epoch)),
            (LOG_ID, Value::Hex(self.log_id)),
            (TIMESTAMP, Value::Decimal(self.timestamp)),
        ]
    }
}

/// Reads a shipped record's headers: `get(name)` is the header's text
/// (`Err` when it is there but not text), `id` the record id where the
/// engine keeps it (NATS: `Nats-Msg-Id`; Kafka: [`ID`]). Topic, sequence
/// number and epoch come from their headers, or from the id when the
/// topic header is absent; the timestamp is optional.
///
/// # Errors
/// What is missing or malformed, by header name.
pub fn parse<'h>(
    get: impl Fn(&str) -> Result<Option<&'h str>, String>,
    id: Option<&'h str>,
) -> Result<Received, String> {
    // A stream written before the names were shared has the old names.
    let find = |name: &str| -> Result<Option<&'h str>, String> {
        match get(name)? {
            Some(v) => Ok(Some(v)),
            None => match LEGACY_NAMES.iter().find(|(now, _)| *now == name) {
                Some((_, then)) => get(then),
                None => Ok(None),
            },
        }
    };
    let num = |name: &str, v: &str| v.parse::<u64>().map_err(|e| format!("header {name} is not a number: {e}"));
    let (topic, seq, epoch) = match find(TOPIC)? {
        Some(topic) => {
            let need = |name: &str| find(name)?.ok_or_else(|| format!("no {name} header"));
            (topic.to_owned(), num(SEQ, need(SEQ)?)?, num(EPOCH, need(EPOCH)?)?)
        }
        None => {
            let id = id.ok_or_else(|| format!("no {TOPIC} header and no record id"))?;
            let id = RecordId::parse(id).map_err(|e| format!("record id {e}"))?;
            (id.topic.to_owned(), id.seq, id.epoch)
        }
    };
    let timestamp = find(TIMESTAMP)?.map(|v| num(TIMESTAMP, v)).transpose()?;
    Ok(Received { topic, seq, epoch, starts_batch: find(BATCH_START)?.is_some(), timestamp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn headers_of(m: &RecordMeta<'_>) -> HashMap<String, String> {
        let mut h: HashMap<String, String> = m.fields().iter().map(|(k, v)| ((*k).to_owned(), v.to_string())).collect();
        h.insert(ID.into(), m.id());
        if m.starts_batch() {
            h.insert(BATCH_START.into(), "1".into());
        }
        h
    }

    fn parse_map(h: &HashMap<String, String>) -> Result<Received, String> {
        parse(|n| Ok(h.get(n).map(String::as_str)), h.get(ID).map(String::as_str))
    }

    #[test]
    fn the_fields_of_a_record_parse_back() {
        let m = RecordMeta { log_id: 0xab, topic: "a.b c", epoch: 3, seq: 42, timestamp: 9, batch_first: 40 };
        let h = headers_of(&m);
        assert_eq!(h[ID], "00000000000000ab/a.b c/3/42");
        assert_eq!(h[LOG_ID], "00000000000000ab");
        let r = parse_map(&h).unwrap();
        assert_eq!(r, Received { topic: "a.b c".into(), seq: 42, epoch: 3, starts_batch: false, timestamp: Some(9) });
    }

    #[test]
    fn the_id_alone_gives_topic_seq_and_epoch() {
        let m = RecordMeta { log_id: 1, topic: "t", epoch: 3, seq: 42, timestamp: 9, batch_first: 42 };
        let mut h = HashMap::new();
        h.insert(ID.to_owned(), m.id());
        h.insert(BATCH_START.to_owned(), "1".to_owned());
        let r = parse_map(&h).unwrap();
        assert_eq!(r, Received { topic: "t".into(), seq: 42, epoch: 3, starts_batch: true, timestamp: None });
    }

    #[test]
    fn the_mixed_case_names_of_older_nats_streams_are_still_read() {
        let h: HashMap<String, String> = [
            ("Logstream-Topic", "orders"),
            ("Logstream-Seq", "7"),
            ("Logstream-Epoch", "2"),
            ("Logstream-Timestamp", "5"),
            ("Logstream-Batch-Start", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let r = parse_map(&h).unwrap();
        assert_eq!(r, Received { topic: "orders".into(), seq: 7, epoch: 2, starts_batch: true, timestamp: Some(5) });
    }

    #[test]
    fn a_missing_or_malformed_header_is_named() {
        let mut h = HashMap::new();
        assert!(parse_map(&h).unwrap_err().contains("no logstream-topic header and no record id"));
        h.insert(TOPIC.to_owned(), "t".to_owned());
        assert_eq!(parse_map(&h).unwrap_err(), "no logstream-seq header");
        h.insert(SEQ.to_owned(), "x".to_owned());
        h.insert(EPOCH.to_owned(), "1".to_owned());
        assert!(parse_map(&h).unwrap_err().starts_with("header logstream-seq is not a number"));
    }
}
