//! The id every shipped record carries: `{log_id:016x}/{topic}/{epoch}/{seq}`.
//!
//! It is unique for the life of a stream, not only of one log: a log
//! directory deleted and created again gets a new `log_id`, and a tail cut
//! after a power loss (which makes the writer reuse sequence numbers) gets a
//! new `epoch`. NATS de-duplicates re-sent records by it (`Nats-Msg-Id`);
//! Kafka consumers can. Topics never contain `/`, so it parses back.

/// The unique id of a record: log directory, topic, writer epoch, sequence number.
///
/// ```
/// let id = logstream_ship::record_id(0xab, "orders", 3, 42);
/// assert_eq!(id, "00000000000000ab/orders/3/42");
/// let back = logstream_ship::RecordId::parse(&id)?;
/// assert_eq!((back.topic, back.seq), ("orders", 42));
/// # Ok::<(), String>(())
/// ```
pub fn record_id(log_id: u64, topic: &str, epoch: u64, seq: u64) -> String {
    format!("{log_id:016x}/{topic}/{epoch}/{seq}")
}

/// A [`record_id`] read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordId<'a> {
    /// The log directory's id.
    pub log_id: u64,
    /// The topic.
    pub topic: &'a str,
    /// The writer session that wrote the record.
    pub epoch: u64,
    /// The record's sequence number.
    pub seq: u64,
}

impl RecordId<'_> {
    /// Parses `id`.
    ///
    /// # Errors
    /// Why `id` is not `log_id/topic/epoch/seq`.
    pub fn parse(id: &str) -> Result<RecordId<'_>, String> {
        let parts: Vec<&str> = id.split('/').collect();
        let [log_id, topic, epoch, seq] = parts[..] else {
            return Err(format!("{id:?} is not log_id/topic/epoch/seq"));
        };
        let n = |v: &str, radix| u64::from_str_radix(v, radix).map_err(|e| format!("{id:?}: {v:?}: {e}"));
        Ok(RecordId { log_id: n(log_id, 16)?, topic, epoch: n(epoch, 10)?, seq: n(seq, 10)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_parses_back_to_its_parts_even_when_the_topic_has_dots_and_spaces() {
        let id = record_id(1, "a.b c", 3, 42);
        assert_eq!(RecordId::parse(&id).unwrap(), RecordId { log_id: 1, topic: "a.b c", epoch: 3, seq: 42 });
    }

    #[test]
    fn malformed_ids_are_refused_with_the_id() {
        assert!(RecordId::parse("a/b").unwrap_err().contains("\"a/b\""));
        assert!(RecordId::parse("1/t/x/2").unwrap_err().contains("\"x\""));
    }
}
