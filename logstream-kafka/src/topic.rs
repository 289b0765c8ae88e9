//! Kafka topic names from a template such as `"logs.{topic}"` or `"logs"`.
//!
//! Kafka topic names are at most 249 bytes of `[A-Za-z0-9._-]`. A logstream
//! topic may hold any printable UTF-8, so with [`TopicEncoding::Escape`]
//! (the default) `_` becomes `__` and every other byte outside
//! `[A-Za-z0-9.-]` becomes `_XX` (hex): one-to-one, never refused. A
//! template without `{topic}` sends every logstream topic to one Kafka
//! topic, keyed by the logstream topic (see [`crate::Partitioning`]).

use logstream_ship::{Part, Template, push_escaped};

use crate::error::{KafkaError, Result};

/// Longest Kafka topic name.
pub const MAX_TOPIC_LEN: usize = 249;

/// How a logstream topic becomes part of a Kafka topic name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TopicEncoding {
    /// `_` → `__`, other bytes outside `[A-Za-z0-9.-]` → `_XX`.
    #[default]
    Escape,
    /// Topics with bytes outside `[A-Za-z0-9._-]` are refused (their
    /// batches fail with [`KafkaError::InvalidTopic`] and are retried).
    Refuse,
}

/// A parsed Kafka topic template with `{topic}` and `{log_id}` placeholders.
///
/// ```
/// use logstream_kafka::{TopicEncoding, TopicTemplate};
/// let t = TopicTemplate::parse("logs.{topic}", TopicEncoding::Escape)?;
/// assert_eq!(t.render("orders_eu ü", 1)?, "logs.orders__eu_20_C3_BC");
/// assert_eq!(t.pattern(), "^logs\\.[A-Za-z0-9._-]+$");
/// # Ok::<(), logstream_kafka::KafkaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTemplate {
    template: Template,
    encoding: TopicEncoding,
}

fn kafka_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'
}

impl TopicTemplate {
    /// Parses and checks `template`.
    ///
    /// # Errors
    /// [`KafkaError::InvalidOption`] for an unknown placeholder, an unclosed
    /// `{`, or literal characters Kafka does not allow in topic names.
    pub fn parse(template: &str, encoding: TopicEncoding) -> Result<TopicTemplate> {
        let bad = |reason: String| KafkaError::option("topic template", format!("{template:?}: {reason}"));
        let parsed = Template::parse(template).map_err(bad)?;
        if let Some(c) = parsed.literals().flat_map(str::bytes).find(|b| !kafka_char(*b)) {
            return Err(bad(format!("{:?} is not allowed in Kafka topic names ([A-Za-z0-9._-])", c as char)));
        }
        if parsed.parts().is_empty() {
            return Err(bad("it is empty".into()));
        }
        Ok(TopicTemplate { template: parsed, encoding })
    }

    /// The template as given.
    pub fn as_str(&self) -> &str {
        self.template.as_str()
    }

    /// True if every logstream topic goes to one Kafka topic.
    pub fn is_single_topic(&self) -> bool {
        self.template.is_constant()
    }

    /// The Kafka topic of `topic`'s records in the log `log_id`.
    ///
    /// # Errors
    /// [`KafkaError::InvalidTopic`] if the encoding refuses the topic or the
    /// name would be longer than [`MAX_TOPIC_LEN`].
    pub fn render(&self, topic: &str, log_id: u64) -> Result<String> {
        let refuse = |reason: String| KafkaError::InvalidTopic { topic: topic.to_owned(), reason };
        let out = self.template.render(log_id, |out| {
            for &b in topic.as_bytes() {
                match (self.encoding, b) {
                    (_, b) if kafka_char(b) && b != b'_' => out.push(b as char),
                    (TopicEncoding::Escape, b'_') => out.push_str("__"),
                    (TopicEncoding::Refuse, b'_') => out.push('_'),
                    (TopicEncoding::Escape, b) => push_escaped(out, '_', b),
                    (TopicEncoding::Refuse, b) => {
                        return Err(refuse(format!(
                            "byte {b:#04x} is outside [A-Za-z0-9._-] and the encoding is Refuse"
                        )));
                    }
                }
            }
            Ok(())
        })?;
        if out.len() > MAX_TOPIC_LEN {
            return Err(refuse(format!("the Kafka topic name would be {} bytes, over {MAX_TOPIC_LEN}", out.len())));
        }
        if out == "." || out == ".." {
            return Err(refuse("`.` and `..` are not Kafka topic names".into()));
        }
        Ok(out)
    }

    /// A subscription pattern (librdkafka regex, starting with `^`) for
    /// every Kafka topic this template renders.
    pub fn pattern(&self) -> String {
        let mut out = String::from("^");
        for p in self.template.parts() {
            match p {
                Part::Literal(l) => {
                    for c in l.chars() {
                        if c == '.' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
                Part::Topic => out.push_str("[A-Za-z0-9._-]+"),
                Part::LogId => out.push_str("[0-9a-f]{16}"),
            }
        }
        out.push('$');
        out
    }
}

impl std::fmt::Display for TopicTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_one_to_one_and_never_refuses() {
        let t = TopicTemplate::parse("l.{topic}", TopicEncoding::Escape).unwrap();
        assert_eq!(t.render("a_b", 0).unwrap(), "l.a__b");
        assert_eq!(t.render("a b", 0).unwrap(), "l.a_20b");
        assert_ne!(t.render("a_20b", 0).unwrap(), t.render("a b", 0).unwrap());
    }

    #[test]
    fn names_longer_than_kafka_allows_are_refused() {
        let t = TopicTemplate::parse("{topic}", TopicEncoding::Escape).unwrap();
        let e = t.render(&"é".repeat(60), 0).unwrap_err().to_string();
        assert!(e.contains("over 249"), "{e}");
    }

    #[test]
    fn a_template_without_a_placeholder_is_one_topic() {
        let t = TopicTemplate::parse("logs", TopicEncoding::Escape).unwrap();
        assert!(t.is_single_topic());
        assert_eq!(t.render("anything", 9).unwrap(), "logs");
        assert_eq!(t.pattern(), "^logs$");
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        for (tpl, why) in [("logs/{topic}", "not allowed"), ("logs.{nope}", "unknown placeholder"), ("", "empty")] {
            let e = TopicTemplate::parse(tpl, TopicEncoding::Escape).unwrap_err().to_string();
            assert!(e.contains(why), "{tpl}: {e}");
        }
    }
}
