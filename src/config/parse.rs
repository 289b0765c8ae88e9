//! JSON with comments: a config file may hold `//` and `/* */` comments and
//! trailing commas, must not give a key twice, and a syntax error names its
//! line and column once.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Parses config text into a JSON value (any value: the caller requires an
/// object, with an error naming the key `(top level)`).
///
/// # Errors
/// [`Error::ConfigSyntax`] at `shown` for text that is not JSON once its
/// comments are removed, is empty, or gives a top-level key twice.
pub(super) fn read_json(text: &str, shown: &Path) -> Result<Value> {
    let clean = strip_comments(text);
    let syntax = |e: serde_json::Error| Error::ConfigSyntax {
        path: shown.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: if clean.trim().is_empty() {
            "the file is empty; it must hold a JSON object with at least \"base_dir\"".into()
        } else {
            without_position(&e)
        },
    };
    let value: Value = serde_json::from_str(&clean).map_err(syntax)?;
    if value.is_object() {
        // serde_json keeps the last of two equal keys; a config must not.
        serde_json::from_str::<UniqueKeys>(&clean).map_err(syntax)?;
    }
    Ok(value)
}

/// Replaces `//` and `/* */` comments (outside strings) with spaces, keeping
/// newlines so parser positions still match the file, and drops commas that
/// trail the last item of an object or list.
pub(crate) fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match (c, b.get(i + 1)) {
            (b'"', _) => {
                in_str = true;
                out.push(c);
                i += 1;
            }
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                out.extend_from_slice(b"  ");
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    out.push(if b[i] == b'\n' { b'\n' } else { b' ' });
                    i += 1;
                }
                if i < b.len() {
                    out.extend_from_slice(b"  ");
                    i += 2;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    drop_trailing_commas(&mut out);
    // Only ASCII bytes were replaced by ASCII bytes, so UTF-8 is intact.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn drop_trailing_commas(b: &mut [u8]) {
    let mut in_str = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b',' {
            let next = b[i + 1..].iter().find(|x| !x.is_ascii_whitespace());
            if matches!(next, Some(b'}') | Some(b']')) {
                b[i] = b' ';
            }
        }
        i += 1;
    }
}

/// serde_json's message without its ` at line L column C` (the error
/// prints the position once, itself).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) if text[i..].contains(" column ") => text[..i].to_owned(),
        _ => text,
    }
}

/// A config file's top-level object, read only to refuse a key given twice.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<UniqueKeys, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> std::result::Result<UniqueKeys, A::Error> {
                let mut seen = std::collections::HashSet::new();
                while let Some(key) = a.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "key {key:?} is given twice; each key may appear once"
                        )));
                    }
                    a.next_value::<serde::de::IgnoredAny>()?;
                }
                Ok(UniqueKeys)
            }
        }
        d.deserialize_map(Keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_removed_but_not_inside_strings() {
        let s = "{\"a\": \"x//y\", // c\n /* d\n e */ \"b\": 1,}";
        let v: Value = serde_json::from_str(&strip_comments(s)).unwrap();
        assert_eq!(v["a"], "x//y");
        assert_eq!(v["b"], 1);
    }

    #[test]
    fn comments_keep_the_lines_so_an_error_points_into_the_file() {
        let text = "{ /* one\n two */\n // three\n \"a\" 1 }";
        match read_json(text, Path::new("/etc/x.json")) {
            Err(Error::ConfigSyntax { line: 4, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
