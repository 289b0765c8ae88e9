//! Topic patterns on the command line (`tail 'orders-*'`): `*` matches any
//! run of characters, `?` one character, `[abc]`, `[a-z]` and `[!abc]` one
//! of (or none of) a set, as in the shell. Topic names cannot hold a `/`, so
//! there is no `**`.

/// Whether `arg` is a pattern rather than one topic's name.
pub fn is_pattern(arg: &str) -> bool {
    arg.contains(['*', '?', '['])
}

/// Whether `name` matches `pattern` as a whole. A `[` with no closing `]`
/// matches itself.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Backtracking over the last `*` only: linear in practice, and at
    // worst quadratic in the name's length (names are at most 200 bytes).
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class(&p[pi..], n[ni]) {
                Some((true, len)) => Some(pi + len),
                Some((false, _)) => None,
                None => (n[ni] == '[').then_some(pi + 1),
            },
            Some(&c) => (c == n[ni]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `c` is in the class `[…]` at the start of `p`, and the class's
/// length in pattern characters; `None` if the class is not closed.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(p.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let &a = p.get(i)?;
        if a == ']' && !first {
            return Some((found != negated, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&b| b != ']') {
            let b = p[i + 2];
            found |= a <= c && c <= b;
            i += 3;
        } else {
            found |= a == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_questions_and_classes_match_as_in_the_shell() {
        assert!(matches("orders-*", "orders-eu") && matches("orders-*", "orders-"));
        assert!(!matches("orders-*", "order-eu") && !matches("orders-*", "xorders-eu"));
        assert!(matches("*-eu", "orders-eu") && matches("*", "") && matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("orders-?s", "orders-us") && !matches("orders-?s", "orders-eu"));
        assert!(matches("log[0-9]", "log7") && !matches("log[0-9]", "logx"));
        assert!(matches("log[!0-9]", "logx") && !matches("log[!0-9]", "log7"));
        assert!(matches("a[]]b", "a]b") && matches("a[b", "a[b"));
        assert!(matches("注文-*", "注文-eu"));
    }

    #[test]
    fn only_arguments_with_wildcards_are_patterns() {
        assert!(is_pattern("orders-*") && is_pattern("a?") && is_pattern("log[12]"));
        assert!(!is_pattern("orders-eu"));
    }
}
