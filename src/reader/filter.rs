//! Black and white lists: which topics a reader consumes.

use std::collections::HashSet;

/// The topics a reader skips or keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    black: HashSet<String>,
    white: HashSet<String>,
}

impl Filter {
    pub(crate) fn new(black: &[String], white: &[String]) -> Filter {
        Filter { black: black.iter().cloned().collect(), white: white.iter().cloned().collect() }
    }

    /// A topic is consumed when the white list is empty or names it, and the
    /// black list does not.
    pub(crate) fn allows(&self, topic: &str) -> bool {
        (self.white.is_empty() || self.white.contains(topic)) && !self.black.contains(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_empty_white_list_keeps_only_its_topics_and_the_black_list_wins() {
        let f = Filter::new(&["b".into()], &[]);
        assert!(f.allows("a") && !f.allows("b"));
        let f = Filter::new(&["b".into()], &["a".into(), "b".into()]);
        assert!(f.allows("a") && !f.allows("b") && !f.allows("c"));
    }
}
