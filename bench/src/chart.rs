//! The headline chart: one horizontal bar per throughput figure, its ratio
//! to the row's first same-run reference (a baseline or a peer), on a log
//! scale with 1.0× marked, logstream's rows in colour and peers in grey.
//! Drawn from the JSON report (`--json`), so a saved run can be drawn again
//! (`logstream-bench --chart RESULTS.json --svg OUT.svg`).

use std::fmt::Write as _;

use serde_json::Value;

/// One bar.
struct Bar {
    scenario: String,
    subject: String,
    to: String,
    ratio: f64,
    ours: bool,
}

/// Rows that are throughput figures with a same-run reference.
fn bars(report: &Value) -> Vec<Bar> {
    let rows = report.get("rows").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    rows.iter()
        .filter_map(|row| {
            let metric = row.get("metric")?.as_str()?;
            if metric != "rate" && metric != "read rate" {
                return None;
            }
            let ratio = row.get("ratios")?.as_array()?.first()?;
            let value = ratio.get("value")?.as_f64()?;
            if !value.is_finite() || value <= 0.0 {
                return None;
            }
            let subject = row.get("subject")?.as_str()?.to_owned();
            // The references themselves (baselines against each other, a
            // scenario's own reference row) are not results.
            let reference = ["baseline", "pre-faulted", "(reference)"].iter().any(|r| subject.contains(r));
            if reference || value == 1.0 {
                return None;
            }
            Some(Bar {
                scenario: row.get("scenario")?.as_str()?.to_owned(),
                ours: subject.starts_with("logstream") || subject.contains("TopicReader"),
                subject,
                to: ratio.get("to")?.as_str()?.to_owned(),
                ratio: value,
            })
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The chart of `report` (the benchmark's JSON) as an SVG document.
pub fn svg(report: &Value) -> String {
    let bars = bars(report);
    let (label_w, plot_w, row_h, top) = (640.0, 420.0, 18.0, 70.0);
    let height = top + row_h * bars.len() as f64 + 50.0;
    let width = label_w + plot_w + 90.0;
    // Log scale from 0.01x to 10x.
    let (lo, hi) = (0.01f64.log10(), 10f64.log10());
    let x = |r: f64| label_w + (r.clamp(0.01, 10.0).log10() - lo) / (hi - lo) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let started = report.get("started_utc").and_then(Value::as_str).unwrap_or("?");
    let load = report
        .pointer("/machine/loadavg_start")
        .and_then(Value::as_str)
        .map(|l| format!(", load {l} at the start"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">logstream beside same-run baselines and peers (ratio, log scale; right of 1.0x is faster)</text>"#
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="42" fill="#555">run {} UTC{}; each bar: median rate / the row's first reference, measured in the same run</text>"##,
        escape(started),
        escape(&load)
    );
    for t in [0.01, 0.1, 0.5, 1.0, 2.0, 10.0] {
        let px = x(t);
        let (stroke, w) = if t == 1.0 { ("#000000", 1.5) } else { ("#cccccc", 1.0) };
        let _ = writeln!(
            s,
            r#"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="{w}"/>"#,
            top - 8.0,
            top + row_h * bars.len() as f64
        );
        let _ = writeln!(
            s,
            r##"<text x="{px:.1}" y="{:.1}" text-anchor="middle" fill="#555">{t}x</text>"##,
            top + row_h * bars.len() as f64 + 16.0
        );
    }
    let mut last_scenario = "";
    for (i, b) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        if b.scenario != last_scenario {
            let _ = writeln!(
                s,
                r##"<line x1="10" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eeeeee"/>"##,
                y,
                width - 10.0,
                y
            );
            last_scenario = &b.scenario;
        }
        let label = format!("{}: {} vs {}", b.scenario, b.subject, b.to);
        let fill = if b.ours { "#1f6fb4" } else { "#9a9a9a" };
        let (x0, x1) = (x(1.0).min(x(b.ratio)), x(1.0).max(x(b.ratio)));
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y + 13.0,
            escape(&label)
        );
        let _ = writeln!(
            s,
            r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"/>"#,
            y + 3.0,
            (x1 - x0).max(1.0),
            row_h - 6.0
        );
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}">{:.2}x</text>"#, x1 + 4.0, y + 13.0, b.ratio);
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_is_drawn_for_each_rate_with_a_reference_and_its_ratio_is_labelled() {
        let report = serde_json::json!({
            "started_utc": "2026-12-02 17:00:00",
            "machine": {"loadavg_start": "1.00"},
            "rows": [
                {"scenario": "burst", "subject": "logstream Writer::write", "metric": "rate", "ratios": [{"to": "(a)", "value": 0.5}]},
                {"scenario": "burst", "subject": "yaque send", "metric": "rate", "ratios": [{"to": "(a)", "value": 2.0}]},
                {"scenario": "burst", "subject": "baseline (a)", "metric": "rate", "ratios": []},
                {"scenario": "burst", "subject": "baseline (a) BufWriter", "metric": "rate", "ratios": [{"to": "prefault", "value": 0.3}]},
                {"scenario": "latency", "subject": "logstream", "metric": "p99", "ratios": [{"to": "x", "value": 3.0}]}
            ]
        });
        let out = svg(&report);
        assert!(out.starts_with("<svg"), "an SVG document");
        assert_eq!(
            out.matches("<rect x=").count(),
            2,
            "two bars: the results with a rate and a reference (not the baselines)"
        );
        assert!(out.contains("0.50x") && out.contains("2.00x"));
        assert!(out.contains("burst: logstream Writer::write vs (a)"));
        assert!(out.contains("#1f6fb4") && out.contains("#9a9a9a"), "ours and peers are told apart");
    }
}
