//! Names from a template such as `"logs.{topic}"`: literal text with
//! `{topic}` and `{log_id}` placeholders.
//!
//! Each engine has its own alphabet (NATS subject tokens, Kafka topic
//! names) and so its own topic encoding and its own checks of the literal
//! text; the syntax of templates, and rendering, are the same for both.

use std::fmt::Write as _;

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as it is.
    Literal(String),
    /// `{topic}`: the logstream topic, encoded by the engine crate.
    Topic,
    /// `{log_id}`: the log directory's id, 16 hex digits.
    LogId,
}

/// A parsed template.
///
/// ```
/// use logstream_ship::{Part, Template};
/// let t = Template::parse("logs.{log_id}.{topic}")?;
/// assert_eq!(t.parts()[3], Part::Topic);
/// let name = t.render(255, |out| {
///     out.push_str("orders");
///     Ok::<(), String>(())
/// })?;
/// assert_eq!(name, "logs.00000000000000ff.orders");
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

impl Template {
    /// Splits `template` into literal text and placeholders.
    ///
    /// # Errors
    /// The reason, for the caller's error type: a `{` that is not closed,
    /// or an unknown placeholder.
    pub fn parse(template: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err("a `{` is not closed".into());
            };
            match &rest[open + 1..open + close] {
                "topic" => parts.push(Part::Topic),
                "log_id" => parts.push(Part::LogId),
                other => return Err(format!("unknown placeholder {{{other}}}; use {{topic}} or {{log_id}}")),
            }
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Template { text: template.to_owned(), parts })
    }

    /// The template as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The literal pieces.
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Literal(l) => Some(l.as_str()),
            Part::Topic | Part::LogId => None,
        })
    }

    /// True if the template has no placeholder: every topic gets one name.
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// The name for the log `log_id`; `topic` appends the encoded topic at
    /// each `{topic}`.
    ///
    /// # Errors
    /// What `topic` returns (an engine refusing a topic).
    pub fn render<E>(&self, log_id: u64, mut topic: impl FnMut(&mut String) -> Result<(), E>) -> Result<String, E> {
        let mut out = String::with_capacity(self.text.len() + 32);
        for p in &self.parts {
            match p {
                Part::Literal(l) => out.push_str(l),
                Part::LogId => {
                    let _ = write!(out, "{log_id:016x}");
                }
                Part::Topic => topic(&mut out)?,
            }
        }
        Ok(out)
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Appends byte `b` as `marker` and two upper-case hex digits (`%2E`, `_2E`):
/// the escape both engines' topic encodings use.
pub fn push_escaped(out: &mut String, marker: char, b: u8) {
    let _ = write!(out, "{marker}{b:02X}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_literals_are_split_in_order() {
        let t = Template::parse("a{topic}b{log_id}").unwrap();
        assert_eq!(t.parts(), [Part::Literal("a".into()), Part::Topic, Part::Literal("b".into()), Part::LogId]);
        assert_eq!(t.literals().collect::<Vec<_>>(), ["a", "b"]);
        assert!(!t.is_constant());
        assert!(Template::parse("logs").unwrap().is_constant());
    }

    #[test]
    fn bad_placeholders_are_refused_with_the_reason() {
        assert!(Template::parse("logs.{topc}").unwrap_err().contains("unknown placeholder {topc}"));
        assert!(Template::parse("logs.{topic").unwrap_err().contains("not closed"));
    }

    #[test]
    fn escapes_are_a_marker_and_two_upper_case_hex_digits() {
        let mut s = String::new();
        push_escaped(&mut s, '%', b'.');
        push_escaped(&mut s, '_', 0xab);
        assert_eq!(s, "%2E_AB");
    }
}
