//! Subjects from a template such as `"logs.{topic}"`.
//!
//! NATS subjects are `.`-separated tokens without whitespace, where `*` and
//! `>` are wildcards. logstream topics may hold any printable UTF-8, so a
//! topic is encoded into subject characters by a [`TopicEncoding`] policy:
//! by default every byte outside `[A-Za-z0-9_-]` is percent-encoded, which
//! keeps each topic one token and the mapping one-to-one. The mirror never
//! decodes subjects: it reads the topic from the `logstream-topic` header.

use logstream_ship::{Part, Template, push_escaped};

use crate::error::{NatsError, Result};

/// How a topic name becomes part of a subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TopicEncoding {
    /// Every byte outside `[A-Za-z0-9_-]` becomes `%XX`: `orders.eu` →
    /// `orders%2Eeu`. Each topic is one subject token; never refuses a topic.
    #[default]
    Escape,
    /// Dots stay token separators (`orders.eu` → `logs.orders.eu`, so
    /// subscribers can use wildcards per level); everything else outside
    /// `[A-Za-z0-9_-]` is escaped as with `Escape`. Topics with an empty
    /// level (`a..b`, `.a`, `a.`) are refused.
    KeepDots,
    /// Topics with any byte outside `[A-Za-z0-9_-]` are refused: their
    /// batches fail with [`NatsError::InvalidTopic`] (and are retried, so
    /// such a topic stalls until it is black-listed).
    Refuse,
}

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// A parsed subject template: literal text with `{topic}` and `{log_id}`
/// (the log directory's id, 16 hex digits) placeholders.
///
/// ```
/// use logstream_nats::{SubjectTemplate, TopicEncoding};
/// let t = SubjectTemplate::parse("logs.{topic}", TopicEncoding::Escape)?;
/// assert_eq!(t.render("orders.eu", 7)?, "logs.orders%2Eeu");
/// assert_eq!(t.filter(), "logs.*");
/// # Ok::<(), logstream_nats::NatsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTemplate {
    template: Template,
    encoding: TopicEncoding,
}

impl SubjectTemplate {
    /// Parses and checks `template`.
    ///
    /// # Errors
    /// [`NatsError::InvalidOption`] for an unknown placeholder, an unclosed
    /// `{`, whitespace or wildcards in the literal text, or an empty token.
    pub fn parse(template: &str, encoding: TopicEncoding) -> Result<SubjectTemplate> {
        let bad = |reason: String| NatsError::option("subject template", format!("{template:?}: {reason}"));
        let parsed = Template::parse(template).map_err(bad)?;
        for l in parsed.literals() {
            if let Some(c) = l.chars().find(|c| c.is_whitespace() || c.is_control() || *c == '}') {
                return Err(bad(format!("{c:?} is not allowed in a subject")));
            }
            if l.split('.').any(|tok| tok == "*" || tok == ">") {
                return Err(bad("wildcards (`*`, `>`) cannot be published to".into()));
            }
        }
        let t = SubjectTemplate { template: parsed, encoding };
        let sample = t.render("t", 0)?;
        if sample.split('.').any(str::is_empty) {
            return Err(bad("it yields an empty token (a leading, trailing or doubled `.`)".into()));
        }
        Ok(t)
    }

    /// The template as given.
    pub fn as_str(&self) -> &str {
        self.template.as_str()
    }

    /// The topic encoding.
    pub fn encoding(&self) -> TopicEncoding {
        self.encoding
    }

    /// The subject of `topic`'s records in the log `log_id`.
    ///
    /// # Errors
    /// [`NatsError::InvalidTopic`] if the encoding refuses the topic.
    pub fn render(&self, topic: &str, log_id: u64) -> Result<String> {
        self.template.render(log_id, |out| encode_topic(topic, self.encoding, out))
    }

    /// A subject filter matching every subject this template renders: each
    /// token holding a placeholder becomes `*`, or `>` when it is the last
    /// token and dots are kept in topics.
    pub fn filter(&self) -> String {
        let parts = self.template.parts();
        let marked: String = parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => l.as_str(),
                Part::Topic | Part::LogId => "\u{0}",
            })
            .collect();
        let tokens: Vec<&str> = marked.split('.').collect();
        let last = tokens.len() - 1;
        let topic_last = matches!(parts.last(), Some(Part::Topic));
        tokens
            .iter()
            .enumerate()
            .map(|(i, tok)| match tok.contains('\u{0}') {
                false => (*tok).to_owned(),
                true if i == last && topic_last && self.encoding == TopicEncoding::KeepDots => ">".to_owned(),
                true => "*".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

impl std::fmt::Display for SubjectTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn encode_topic(topic: &str, encoding: TopicEncoding, out: &mut String) -> Result<()> {
    let refuse = |reason: String| NatsError::InvalidTopic { topic: topic.to_owned(), reason };
    if encoding == TopicEncoding::KeepDots && topic.split('.').any(str::is_empty) {
        return Err(refuse("with dots kept as subject separators, no level may be empty".into()));
    }
    for &b in topic.as_bytes() {
        if plain(b) || (b == b'.' && encoding == TopicEncoding::KeepDots) {
            out.push(b as char);
        } else if encoding == TopicEncoding::Refuse {
            return Err(refuse(format!(
                "byte {b:#04x} is outside [A-Za-z0-9_-] and the encoding is Refuse; use TopicEncoding::Escape"
            )));
        } else {
            push_escaped(out, '%', b);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_every_topic_one_token_and_distinct() {
        let t = SubjectTemplate::parse("logs.{topic}", TopicEncoding::Escape).unwrap();
        assert_eq!(t.render("a.b", 0).unwrap(), "logs.a%2Eb");
        assert_eq!(t.render("a b*>%", 0).unwrap(), "logs.a%20b%2A%3E%25");
        assert_eq!(t.render("é", 0).unwrap(), "logs.%C3%A9");
        assert_ne!(t.render("a%2Eb", 0).unwrap(), t.render("a.b", 0).unwrap());
    }

    #[test]
    fn kept_dots_make_levels_and_empty_levels_are_refused() {
        let t = SubjectTemplate::parse("logs.{topic}", TopicEncoding::KeepDots).unwrap();
        assert_eq!(t.render("orders.eu", 0).unwrap(), "logs.orders.eu");
        assert!(t.render("a..b", 0).is_err());
        assert_eq!(t.filter(), "logs.>");
    }

    #[test]
    fn the_refuse_encoding_names_the_offending_byte() {
        let t = SubjectTemplate::parse("logs.{topic}", TopicEncoding::Refuse).unwrap();
        let e = t.render("a b", 0).unwrap_err().to_string();
        assert!(e.contains("0x20"), "{e}");
    }

    #[test]
    fn log_ids_render_as_sixteen_hex_digits_and_filter_as_a_wildcard() {
        let t = SubjectTemplate::parse("x.{log_id}.{topic}", TopicEncoding::Escape).unwrap();
        assert_eq!(t.render("t", 255).unwrap(), "x.00000000000000ff.t");
        assert_eq!(t.filter(), "x.*.*");
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        for (tpl, why) in [
            ("logs.{topc}", "unknown placeholder"),
            ("logs.{topic", "not closed"),
            ("logs .{topic}", "not allowed"),
            ("logs.*.{topic}", "wildcards"),
            ("logs..{topic}", "empty token"),
            (".{topic}", "empty token"),
        ] {
            let e = SubjectTemplate::parse(tpl, TopicEncoding::Escape).unwrap_err().to_string();
            assert!(e.contains(why), "{tpl}: {e}");
        }
    }
}
