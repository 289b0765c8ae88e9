//! The kinds of value a key holds. A kind says, once for every key of that
//! kind, how the file's JSON value parses, how the getter presents what is
//! stored (e.g. "0 means off" as `Option<Duration>`), how the value is
//! written back to JSON, and how a range from the key table is checked.

use std::marker::PhantomData;
use std::mem::discriminant;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::size::{parse_size_text, size_text};
use crate::format::naming::name_problem;

/// A range from the key table, inclusive, in the file's units (bytes,
/// milliseconds, counts); `None` where the key has none.
pub(super) type Range = Option<(u64, u64)>;

/// How one kind of key is read, presented, written and checked.
pub(super) trait Kind {
    /// What the file's value parses to, and what the key's setter takes
    /// (or takes after `Into`).
    type Parsed;
    /// What `Config` stores for keys whose getter the table generates.
    type Stored;
    /// What the getter returns; writing and checking start from it, so a
    /// getter written by hand (a derived default) is what is written back.
    type View<'a>;

    /// Parses the file's value; the error is the reason, without the key.
    fn parse(v: &Value) -> Result<Self::Parsed, String>;
    /// The getter's view of the stored value.
    fn view(stored: &Self::Stored) -> Self::View<'_>;
    /// The value in `meta.json` form; `None` leaves the key out (the file
    /// format has no `null`).
    fn emit(v: Self::View<'_>) -> Option<Value>;
    /// The value is within the key's range.
    fn check(v: Self::View<'_>, range: Range) -> Result<(), String> {
        let _ = (v, range);
        Ok(())
    }
    /// The value's contents are valid (topic names); checked after the
    /// ranges and the relations between keys.
    fn check_contents(v: Self::View<'_>) -> Result<(), String> {
        let _ = v;
        Ok(())
    }
    /// Valid file values of the kind, for the key table's tests: the ends
    /// of the key's range unless the kind says otherwise.
    #[cfg(test)]
    fn samples(range: Range) -> Vec<Value> {
        range.map(|(lo, hi)| vec![lo.into(), hi.into()]).unwrap_or_else(|| vec![1.into(), 7.into()])
    }
}

// Kinds are types, never values: empty enums, or `PhantomData` wrappers
// where a kind is generic.

/// A path string, not empty.
pub(super) enum Dir {}

/// A non-negative integer that fits in `T`.
pub(super) struct Count<T>(PhantomData<T>);

/// A non-negative integer where 0 means off: `Option<T>`.
pub(super) struct CountOrOff<T>(PhantomData<T>);

/// A size in bytes; the file may give it with a unit (`"200M"`).
pub(super) enum Size {}

/// A size that is absent unless set: a cap or a limit (`Option<u64>`).
pub(super) enum Cap {}

/// Milliseconds, presented as a `Duration`.
pub(super) enum Millis {}

/// Milliseconds where 0 means off: `Option<Duration>`.
pub(super) enum MillisOrOff {}

/// Milliseconds that apply only in some state of another key: `None`
/// leaves the key out of the JSON form (`full_max_wait_ms` without
/// `full_policy` "block").
pub(super) enum MillisWhenApplies {}

/// `true` or `false`.
pub(super) enum Flag {}

/// A list of topic names.
pub(super) enum Topics {}

/// One of a few names, each standing for a value of `T`.
pub(super) struct Choice<T>(PhantomData<T>);

/// A type whose values a config file names.
pub(super) trait Choices: Copy + 'static {
    /// Each choice with its name in the file, in the order messages list
    /// them. A variant with fields appears once, with its default fields.
    const CHOICES: &'static [(&'static str, Self)];
}

/// A non-negative integer.
fn count(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("expected a non-negative integer, found {n}")),
        other => Err(format!("expected a non-negative integer, found {other}")),
    }
}

/// A size: a number of bytes, or a string like "512K", "200M", "1G", "4GiB".
fn size(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(_) => count(v),
        Value::String(s) => parse_size_text(s),
        other => Err(format!("expected a size such as 1048576 or \"1M\", found {other}")),
    }
}

/// Milliseconds as the file writes them, saturating.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn in_range(v: u64, range: Range) -> Result<(), String> {
    match range {
        Some((lo, hi)) if v < lo || v > hi => Err(format!("{v} is out of range {lo}..={hi}")),
        _ => Ok(()),
    }
}

/// As [`in_range`], told in the file's size units: `32K is out of range 64K..=64G`.
fn size_in_range(v: u64, range: Range) -> Result<(), String> {
    match range {
        Some((lo, hi)) if v < lo || v > hi => {
            Err(format!("{} is out of range {}..={}", size_text(v), size_text(lo), size_text(hi)))
        }
        _ => Ok(()),
    }
}

impl Kind for Dir {
    type Parsed = PathBuf;
    type Stored = PathBuf;
    type View<'a> = &'a Path;
    fn parse(v: &Value) -> Result<PathBuf, String> {
        match v.as_str() {
            None => Err(format!("expected a path string, found {v}")),
            Some("") => Err("is empty".into()),
            Some(s) => Ok(PathBuf::from(s)),
        }
    }
    fn view(stored: &PathBuf) -> &Path {
        stored
    }
    fn emit(v: &Path) -> Option<Value> {
        Some(v.to_string_lossy().into_owned().into())
    }
    #[cfg(test)]
    fn samples(_: Range) -> Vec<Value> {
        vec!["/srv/elsewhere/log".into()]
    }
}

impl<T> Kind for Count<T>
where
    T: TryFrom<u64> + Copy + Into<Value>,
    u64: TryFrom<T>,
{
    type Parsed = T;
    type Stored = T;
    type View<'a> = T;
    fn parse(v: &Value) -> Result<T, String> {
        T::try_from(count(v)?).map_err(|_| "too large".into())
    }
    fn view(stored: &T) -> T {
        *stored
    }
    fn emit(v: T) -> Option<Value> {
        Some(v.into())
    }
    fn check(v: T, range: Range) -> Result<(), String> {
        in_range(u64::try_from(v).unwrap_or(u64::MAX), range)
    }
}

impl<T> Kind for CountOrOff<T>
where
    T: TryFrom<u64> + Copy + Default + PartialEq + Into<Value>,
    u64: TryFrom<T>,
{
    type Parsed = T;
    type Stored = T;
    type View<'a> = Option<T>;
    fn parse(v: &Value) -> Result<T, String> {
        T::try_from(count(v)?).map_err(|_| "too large".into())
    }
    fn view(stored: &T) -> Option<T> {
        (*stored != T::default()).then_some(*stored)
    }
    fn emit(v: Option<T>) -> Option<Value> {
        Some(v.unwrap_or_default().into())
    }
    fn check(v: Option<T>, range: Range) -> Result<(), String> {
        v.map_or(Ok(()), |v| in_range(u64::try_from(v).unwrap_or(u64::MAX), range))
    }
}

impl Kind for Size {
    type Parsed = u64;
    type Stored = u64;
    type View<'a> = u64;
    fn parse(v: &Value) -> Result<u64, String> {
        size(v)
    }
    fn view(stored: &u64) -> u64 {
        *stored
    }
    fn emit(v: u64) -> Option<Value> {
        Some(v.into())
    }
    fn check(v: u64, range: Range) -> Result<(), String> {
        size_in_range(v, range)
    }
}

impl Kind for Cap {
    type Parsed = u64;
    type Stored = Option<u64>;
    type View<'a> = Option<u64>;
    fn parse(v: &Value) -> Result<u64, String> {
        size(v)
    }
    fn view(stored: &Option<u64>) -> Option<u64> {
        *stored
    }
    fn emit(v: Option<u64>) -> Option<Value> {
        v.map(Value::from)
    }
    fn check(v: Option<u64>, range: Range) -> Result<(), String> {
        v.map_or(Ok(()), |v| size_in_range(v, range))
    }
}

impl Kind for Millis {
    type Parsed = u64;
    type Stored = u64;
    type View<'a> = Duration;
    fn parse(v: &Value) -> Result<u64, String> {
        count(v)
    }
    fn view(stored: &u64) -> Duration {
        Duration::from_millis(*stored)
    }
    fn emit(v: Duration) -> Option<Value> {
        Some(ms(v).into())
    }
    fn check(v: Duration, range: Range) -> Result<(), String> {
        in_range(ms(v), range)
    }
}

impl Kind for MillisOrOff {
    type Parsed = u64;
    type Stored = u64;
    type View<'a> = Option<Duration>;
    fn parse(v: &Value) -> Result<u64, String> {
        count(v)
    }
    fn view(stored: &u64) -> Option<Duration> {
        (*stored > 0).then(|| Duration::from_millis(*stored))
    }
    fn emit(v: Option<Duration>) -> Option<Value> {
        Some(ms(v.unwrap_or_default()).into())
    }
    fn check(v: Option<Duration>, range: Range) -> Result<(), String> {
        v.map_or(Ok(()), |v| in_range(ms(v), range))
    }
}

impl Kind for MillisWhenApplies {
    type Parsed = u64;
    type Stored = Option<Duration>;
    type View<'a> = Option<Duration>;
    fn parse(v: &Value) -> Result<u64, String> {
        count(v)
    }
    fn view(stored: &Option<Duration>) -> Option<Duration> {
        *stored
    }
    fn emit(v: Option<Duration>) -> Option<Value> {
        v.map(|d| ms(d).into())
    }
    fn check(v: Option<Duration>, range: Range) -> Result<(), String> {
        v.map_or(Ok(()), |v| in_range(ms(v), range))
    }
}

impl Kind for Flag {
    type Parsed = bool;
    type Stored = bool;
    type View<'a> = bool;
    fn parse(v: &Value) -> Result<bool, String> {
        v.as_bool().ok_or_else(|| format!("expected true or false, found {v}"))
    }
    fn view(stored: &bool) -> bool {
        *stored
    }
    fn emit(v: bool) -> Option<Value> {
        Some(v.into())
    }
    #[cfg(test)]
    fn samples(_: Range) -> Vec<Value> {
        vec![true.into(), false.into()]
    }
}

impl Kind for Topics {
    type Parsed = Vec<String>;
    type Stored = Vec<String>;
    type View<'a> = &'a [String];
    fn parse(v: &Value) -> Result<Vec<String>, String> {
        let Value::Array(items) = v else {
            return Err(format!("expected a list of topic names, found {v}"));
        };
        items
            .iter()
            .map(|i| match i {
                Value::String(s) => match name_problem(s) {
                    None => Ok(s.clone()),
                    Some(reason) => Err(format!("{s:?} is not a valid topic name: {reason}")),
                },
                other => Err(format!("expected topic names (strings), found {other}")),
            })
            .collect()
    }
    fn view(stored: &Vec<String>) -> &[String] {
        stored
    }
    fn emit(v: &[String]) -> Option<Value> {
        Some(v.into())
    }
    fn check_contents(v: &[String]) -> Result<(), String> {
        match v.iter().find_map(|t| name_problem(t).map(|reason| (t, reason))) {
            Some((t, reason)) => Err(format!("{t:?} is not a valid topic name: {reason}")),
            None => Ok(()),
        }
    }
    #[cfg(test)]
    fn samples(_: Range) -> Vec<Value> {
        vec![serde_json::json!(["orders", "audit.2026"])]
    }
}

impl<T: Choices> Choice<T> {
    fn name(v: T) -> &'static str {
        let found = T::CHOICES.iter().find(|(_, c)| discriminant(c) == discriminant(&v));
        found.map_or("", |(name, _)| name)
    }
}

impl<T: Choices> Kind for Choice<T> {
    type Parsed = T;
    type Stored = T;
    type View<'a> = T;
    fn parse(v: &Value) -> Result<T, String> {
        if let Some((_, c)) = T::CHOICES.iter().find(|(name, _)| v.as_str() == Some(name)) {
            return Ok(*c);
        }
        // `"async" or "sync"`; `"block", "error" or "drop_oldest"`.
        let names: Vec<String> = T::CHOICES.iter().map(|(name, _)| format!("{name:?}")).collect();
        let list = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
        };
        Err(format!("expected {list}, found {v}"))
    }
    fn view(stored: &T) -> T {
        *stored
    }
    fn emit(v: T) -> Option<Value> {
        Some(Choice::<T>::name(v).into())
    }
    #[cfg(test)]
    fn samples(_: Range) -> Vec<Value> {
        T::CHOICES.iter().map(|(name, _)| Value::from(*name)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Durability, FullPolicy};

    #[test]
    fn a_choice_lists_its_names_when_the_value_is_none_of_them() {
        let e = Choice::<FullPolicy>::parse(&Value::from("wait")).unwrap_err();
        assert_eq!(e, r#"expected "block", "error" or "drop_oldest", found "wait""#);
        let e = Choice::<Durability>::parse(&Value::from(1)).unwrap_err();
        assert_eq!(e, r#"expected "async" or "sync", found 1"#);
    }

    #[test]
    fn every_choice_is_written_back_under_its_own_name() {
        for (name, c) in FullPolicy::CHOICES {
            assert_eq!(Choice::<FullPolicy>::emit(*c), Some(Value::from(*name)));
        }
        let waiting = FullPolicy::Block { max_wait: Duration::from_millis(1) };
        assert_eq!(Choice::<FullPolicy>::emit(waiting), Some(Value::from("block")), "the wait is its own key");
    }

    #[test]
    fn zero_means_off_for_the_keys_that_say_so() {
        assert_eq!(MillisOrOff::view(&0), None);
        assert_eq!(MillisOrOff::view(&5), Some(Duration::from_millis(5)));
        assert_eq!(MillisOrOff::emit(None), Some(Value::from(0)));
        assert_eq!(CountOrOff::<u32>::view(&0), None);
        assert!(MillisOrOff::check(None, Some((100, 200))).is_ok(), "off is never out of range");
        assert_eq!(Cap::emit(None), None, "an unset cap is left out");
    }
}
