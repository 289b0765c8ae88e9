//! The result table: one row per measured figure, with its spread, its ratio
//! to the same-run baselines and, where the performance issue sets one, the
//! goal and whether it was met.

use std::fmt::Write as _;

use serde::Serialize;

use crate::measure::Summary;

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Rates: more is better.
    Higher,
    /// Latencies, times, memory: less is better.
    Lower,
}

/// A target from the performance issue.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    /// How the goal reads in the table, e.g. `>= 20 M/s`.
    pub text: String,
    /// Whether the measured median meets it.
    pub met: bool,
    /// By how much it is missed, e.g. `-35%`; empty when met.
    pub miss: String,
}

impl Goal {
    /// `value` must be at least `target`.
    pub fn at_least(text: impl Into<String>, value: f64, target: f64) -> Goal {
        let met = value >= target;
        let miss = if met { String::new() } else { format!("{:.0}% short", (1.0 - value / target) * 100.0) };
        Goal { text: text.into(), met, miss }
    }

    /// `value` must be at most `target`.
    pub fn at_most(text: impl Into<String>, value: f64, target: f64) -> Goal {
        let met = value <= target;
        let miss = if met { String::new() } else { format!("{:.1}x over", value / target) };
        Goal { text: text.into(), met, miss }
    }

    /// Several conditions that must all hold; misses are joined.
    pub fn all(goals: Vec<Goal>) -> Goal {
        let text = goals.iter().map(|g| g.text.as_str()).collect::<Vec<_>>().join(" & ");
        let met = goals.iter().all(|g| g.met);
        let miss = goals.iter().filter(|g| !g.met).map(|g| g.miss.as_str()).collect::<Vec<_>>().join("; ");
        Goal { text, met, miss }
    }

    /// A yes/no condition.
    pub fn holds(text: impl Into<String>, met: bool, miss: impl Into<String>) -> Goal {
        Goal { text: text.into(), met, miss: if met { String::new() } else { miss.into() } }
    }
}

/// A ratio of this row's median to a reference median of the same run.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// Short name of the reference, e.g. `(a)` or `prefault`.
    pub to: String,
    /// `median / reference median` for rates, `reference / median` is never used:
    /// a ratio above 1 always means "more than the reference".
    pub value: f64,
}

/// One figure.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scenario, e.g. `write burst 1 thread`.
    pub scenario: String,
    /// What was measured, e.g. `logstream Writer::write`.
    pub subject: String,
    /// Which figure, e.g. `rate`, `p99`, `peak RssAnon`.
    pub metric: String,
    /// Unit of `median`, `min`, `max`.
    pub unit: String,
    /// Median and spread of the repetitions.
    #[serde(flatten)]
    pub summary: Summary,
    /// Which way is better.
    pub better: Better,
    /// Ratios to references measured in the same run.
    pub ratios: Vec<Ratio>,
    /// The goal for this figure, if any.
    pub goal: Option<Goal>,
    /// Anything else worth a word (CPU time, records, caveats).
    pub note: String,
}

impl Row {
    /// A row with no ratio, goal or note yet.
    pub fn new(scenario: &str, subject: &str, metric: &str, unit: &str, summary: Summary, better: Better) -> Row {
        Row {
            scenario: scenario.into(),
            subject: subject.into(),
            metric: metric.into(),
            unit: unit.into(),
            summary,
            better,
            ratios: Vec::new(),
            goal: None,
            note: String::new(),
        }
    }

    /// Adds the ratio of this row's median to `reference`.
    pub fn ratio(mut self, to: &str, reference: f64) -> Row {
        if reference > 0.0 && reference.is_finite() {
            self.ratios.push(Ratio { to: to.into(), value: self.summary.median / reference });
        }
        self
    }

    /// Sets the goal.
    pub fn goal(mut self, goal: Goal) -> Row {
        self.goal = Some(goal);
        self
    }

    /// Sets the note.
    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }
}

/// The whole run: what ran where and when, and the rows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// UTC start time of the run.
    pub started_utc: String,
    /// Seconds the run took.
    pub wall_seconds: f64,
    /// The command line.
    pub command: String,
    /// CPU model and count, kernel, file system of the bench directory.
    pub machine: Machine,
    /// Repetitions per subject (after one discarded warm-up).
    pub reps: usize,
    /// The figures.
    pub rows: Vec<Row>,
}

/// Facts about the machine the run was on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu: String,
    /// Online CPUs.
    pub cpus: usize,
    /// `uname -r`.
    pub kernel: String,
    /// Device and file system type holding the bench directory.
    pub filesystem: String,
    /// `/proc/loadavg` when the run started: other work on a shared machine.
    pub loadavg_start: String,
    /// `/proc/loadavg` when the run ended.
    pub loadavg_end: String,
}

/// Formats a value with a unit prefix that keeps 3–4 significant digits.
pub fn human(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    match unit {
        "ns" => {
            if v >= 1e9 {
                format!("{:.2} s", v / 1e9)
            } else if v >= 1e6 {
                format!("{:.2} ms", v / 1e6)
            } else if v >= 1e4 {
                format!("{:.1} us", v / 1e3)
            } else {
                format!("{v:.0} ns")
            }
        }
        "rec/s" | "B/s" => {
            let base = if unit == "B/s" { "B/s" } else { "/s" };
            if v >= 1e9 {
                format!("{:.2} G{base}", v / 1e9)
            } else if v >= 1e6 {
                format!("{:.2} M{base}", v / 1e6)
            } else if v >= 1e3 {
                format!("{:.1} k{base}", v / 1e3)
            } else {
                format!("{v:.0} {base}")
            }
        }
        "MiB" => format!("{v:.1} MiB"),
        "s" => format!("{v:.3} s"),
        "%" => format!("{v:.1}%"),
        _ => format!("{v:.3} {unit}"),
    }
}

fn spread(s: &Summary, unit: &str) -> String {
    if s.n <= 1 {
        return "(1 run)".into();
    }
    format!("{} .. {}", human(s.min, unit), human(s.max, unit))
}

/// Renders the report as a Markdown table (also readable in a terminal).
pub fn table(rows: &[Row]) -> String {
    let header = ["scenario", "subject", "metric", "median", "spread (min .. max)", "ratios", "goal", "met?", "note"];
    let mut cells: Vec<[String; 9]> = Vec::new();
    for r in rows {
        let ratios = r.ratios.iter().map(|x| format!("{:.2}x {}", x.value, x.to)).collect::<Vec<_>>().join(", ");
        let (goal, met) = match &r.goal {
            Some(g) if g.met => (g.text.clone(), "yes".to_string()),
            Some(g) => (g.text.clone(), format!("NO ({})", g.miss)),
            None => (String::new(), String::new()),
        };
        cells.push([
            r.scenario.clone(),
            r.subject.clone(),
            r.metric.clone(),
            human(r.summary.median, &r.unit),
            spread(&r.summary, &r.unit),
            ratios,
            goal,
            met,
            r.note.clone(),
        ]);
    }
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for c in cells {
        let _ = writeln!(out, "| {} |", c.join(" | "));
    }
    out
}
