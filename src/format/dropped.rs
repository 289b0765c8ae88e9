//! `topics/<topic>/DROPPED`: the record ranges deleted before every group
//! had consumed them (a disk cap with `drop_oldest`, or age/size retention),
//! one JSON object per line: `{"from":0,"to":9000,"time":1764…}`. A group
//! that existed at `time` and starts a topic without a saved position is told
//! of the gap instead of silently starting after it.

use serde::{Deserialize, Serialize};

/// One deleted range: records `from..to`, deleted at `time` (ns since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// First deleted sequence number.
    pub from: u64,
    /// Sequence number after the last deleted one.
    pub to: u64,
    /// When it was deleted.
    pub time: u64,
}

/// Name of the file in a topic directory.
pub const FILE: &str = "DROPPED";

/// Parses the file; unreadable lines (a torn append) are skipped.
pub fn parse(text: &str) -> Vec<Dropped> {
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// One line of the file.
pub fn line(d: &Dropped) -> String {
    let mut s = serde_json::to_string(d).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_torn_lines_are_skipped() {
        let a = Dropped { from: 0, to: 10, time: 5 };
        let b = Dropped { from: 10, to: 20, time: 6 };
        let text = format!("{}{}{{\"from\":2", line(&a), line(&b));
        assert_eq!(parse(&text), vec![a, b]);
    }
}
