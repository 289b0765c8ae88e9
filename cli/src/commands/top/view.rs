//! The screen of `logstream top` and its keys: pure functions of a
//! [`Screen`] and the [`Ui`] state, so tests draw them on ratatui's
//! `TestBackend` with fixed data.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::sample::{GroupRow, HISTORY, Screen, TopicRow};
use crate::glob;
use crate::units;

/// What the rows are ordered by (`s` cycles, `r` reverses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Topic (then group) name.
    Name,
    /// Write rate of topics, consumption rate of groups.
    Rate,
    /// Records retained in topics, lag of groups.
    Backlog,
    /// Bytes on disk of topics, lag bytes of groups.
    Bytes,
}

impl SortKey {
    fn next(self) -> SortKey {
        match self {
            SortKey::Name => SortKey::Rate,
            SortKey::Rate => SortKey::Backlog,
            SortKey::Backlog => SortKey::Bytes,
            SortKey::Bytes => SortKey::Name,
        }
    }

    fn label(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Rate => "rate",
            SortKey::Backlog => "records/lag",
            SortKey::Bytes => "bytes",
        }
    }
}

/// What the user chose: order, filter, and whether a filter is being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ui {
    pub sort: SortKey,
    pub reverse: bool,
    /// Rows whose topic or group contains this (or matches it, with wildcards).
    pub filter: String,
    /// `/` was pressed: keys go to the filter until Enter or Esc.
    pub typing: bool,
}

impl Default for Ui {
    fn default() -> Ui {
        Ui { sort: SortKey::Name, reverse: false, filter: String::new(), typing: false }
    }
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Draw again with the new state.
    Redraw,
    /// Leave `top`.
    Quit,
    /// Nothing changed.
    None,
}

impl Ui {
    /// Applies a key press.
    pub fn key(&mut self, k: KeyEvent) -> Action {
        if k.kind == KeyEventKind::Release {
            return Action::None;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if self.typing {
            match k.code {
                KeyCode::Enter => self.typing = false,
                KeyCode::Esc => {
                    self.typing = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => return Action::None,
            }
            return Action::Redraw;
        }
        match k.code {
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                Action::Redraw
            }
            KeyCode::Char('r') => {
                self.reverse = !self.reverse;
                Action::Redraw
            }
            KeyCode::Char('/') => {
                self.typing = true;
                Action::Redraw
            }
            KeyCode::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                Action::Redraw
            }
            _ => Action::None,
        }
    }

    fn keeps(&self, names: &[&str]) -> bool {
        let f = self.filter.as_str();
        f.is_empty() || names.iter().any(|n| if glob::is_pattern(f) { glob::matches(f, n) } else { n.contains(f) })
    }

    /// The topic rows to show, filtered and in order.
    pub fn topics<'a>(&self, s: &'a Screen) -> Vec<&'a TopicRow> {
        let mut v: Vec<&TopicRow> = s.topics.iter().filter(|t| self.keeps(&[&t.topic])).collect();
        v.sort_by(|a, b| {
            let by = match self.sort {
                SortKey::Name => std::cmp::Ordering::Equal,
                // Busiest first, unless reversed.
                SortKey::Rate => cmp_f(b.write_rate, a.write_rate),
                SortKey::Backlog => b.records.cmp(&a.records),
                SortKey::Bytes => b.disk_bytes.cmp(&a.disk_bytes),
            };
            by.then_with(|| a.topic.cmp(&b.topic))
        });
        if self.reverse {
            v.reverse();
        }
        v
    }

    /// The group rows to show, filtered and in order.
    pub fn groups<'a>(&self, s: &'a Screen) -> Vec<&'a GroupRow> {
        let mut v: Vec<&GroupRow> = s.groups.iter().filter(|g| self.keeps(&[&g.group, &g.topic])).collect();
        v.sort_by(|a, b| {
            let by = match self.sort {
                SortKey::Name => std::cmp::Ordering::Equal,
                SortKey::Rate => cmp_f(b.consume_rate, a.consume_rate),
                SortKey::Backlog => b.lag_records.cmp(&a.lag_records),
                SortKey::Bytes => b.lag_bytes.cmp(&a.lag_bytes),
            };
            by.then_with(|| (&a.group, &a.topic).cmp(&(&b.group, &b.topic)))
        });
        if self.reverse {
            v.reverse();
        }
        v
    }
}

fn cmp_f(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    a.unwrap_or(-1.0).total_cmp(&b.unwrap_or(-1.0))
}

/// Columns of the last minute's sparkline: two seconds each.
const SPARK_WIDTH: usize = HISTORY / 2;

/// The last minute of rates as block characters, newest on the right,
/// scaled to the row's own peak (an idle minute is a flat `▁` line).
pub fn sparkline(history: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let per = HISTORY.div_ceil(SPARK_WIDTH);
    let points: Vec<f64> = history.rchunks(per).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect();
    let peak = points.iter().copied().fold(0.0, f64::max);
    let mut out: String = std::iter::repeat_n(' ', SPARK_WIDTH.saturating_sub(points.len())).collect();
    for p in points.iter().take(SPARK_WIDTH).rev() {
        let i = if peak > 0.0 { ((p / peak) * 7.0).round() as usize } else { 0 };
        out.push(BARS[i.min(7)]);
    }
    out
}

/// A rate for a cell: `0`, `12.5`, `1.2k`, `3.4M` (per second); `-` unknown.
pub fn rate(r: Option<f64>) -> String {
    match r {
        None => "-".into(),
        Some(v) if v < 0.05 => "0".into(),
        Some(v) if v < 100.0 => format!("{v:.1}"),
        Some(v) if v < 1e4 => format!("{v:.0}"),
        Some(v) if v < 1e6 => format!("{:.1}k", v / 1e3),
        Some(v) if v < 1e9 => format!("{:.1}M", v / 1e6),
        Some(v) => format!("{:.1}G", v / 1e9),
    }
}

/// A duration for a cell: `0.4s`, `12s`, `5m02s`, `3h07m`, `2d04h`.
pub fn age(secs: f64) -> String {
    if secs < 10.0 {
        return format!("{secs:.1}s");
    }
    let s = secs as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn right(text: String) -> Cell<'static> {
    Cell::new(Line::from(text).right_aligned())
}

/// The keys, as the bottom line says them.
pub const HELP: &str = "q quit  s sort  r reverse  / filter  Esc clear filter";

/// Draws the whole screen.
pub fn render(f: &mut Frame<'_>, s: &Screen, ui: &Ui) {
    let area = f.area();
    let topics = ui.topics(s);
    let groups = ui.groups(s);
    // Topics take what they need, up to half the screen; groups the rest.
    let half = area.height.saturating_sub(2) / 2;
    let topic_height = (topics.len().max(1) as u16 + 3).min(half.max(4));
    let [title, top, bottom, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(topic_height),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let heading = format!(
        "logstream top  {}  {} topic{}, {} group row{}  {}  sorted by {}{}",
        s.dir.display(),
        s.topics.len(),
        if s.topics.len() == 1 { "" } else { "s" },
        s.groups.len(),
        if s.groups.len() == 1 { "" } else { "s" },
        s.time,
        ui.sort.label(),
        if ui.reverse { " (reversed)" } else { "" },
    );
    f.render_widget(Paragraph::new(heading).style(Style::new().add_modifier(Modifier::BOLD)), title);
    let (no_topics, no_groups) = if ui.filter.is_empty() {
        ("no topics", "no consumer groups")
    } else {
        ("no topic matches the filter", "no group or topic matches the filter")
    };
    topic_table(f, top, &topics, no_topics);
    group_table(f, bottom, &groups, no_groups);
    let line = if ui.typing {
        format!("filter: {}▏  (Enter keep, Esc clear)", ui.filter)
    } else if ui.filter.is_empty() {
        HELP.to_owned()
    } else {
        format!("{HELP}   filter: {}", ui.filter)
    };
    f.render_widget(Paragraph::new(line).style(Style::new().add_modifier(Modifier::REVERSED)), help);
}

fn header(cells: &[(&'static str, bool)]) -> Row<'static> {
    Row::new(cells.iter().map(|&(h, r)| if r { right(h.to_owned()) } else { Cell::new(h) }))
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

/// Under the header of an empty table (in `area`, borders included), why
/// it is empty.
fn nothing(f: &mut Frame<'_>, area: Rect, what: &str) {
    let inner = Rect { x: area.x + 1, y: area.y + 2, width: area.width.saturating_sub(2), height: 1 };
    if area.height > 3 {
        f.render_widget(Paragraph::new(format!("({what})")), inner);
    }
}

fn topic_table(f: &mut Frame<'_>, area: Rect, rows: &[&TopicRow], none: &str) {
    let body = rows.iter().map(|t| {
        let comp = match (t.compressed_segments, t.segments) {
            (0, _) => "-".to_owned(),
            (c, n) => format!("{c}/{n} lz4"),
        };
        Row::new(vec![
            Cell::new(t.topic.clone()),
            right(rate(t.write_rate)),
            right(t.records.to_string()),
            right(t.next_seq.to_string()),
            right(units::bytes(t.disk_bytes)),
            right(t.segments.to_string()),
            Cell::new(comp),
            Cell::new(sparkline(&t.history)),
        ])
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(5),
        Constraint::Length(10),
        Constraint::Length(SPARK_WIDTH as u16),
    ];
    let table = Table::new(body, widths)
        .header(header(&[
            ("TOPIC", false),
            ("WRITE/s", true),
            ("RECORDS", true),
            ("NEXT", true),
            ("DISK", true),
            ("SEGS", true),
            ("COMPRESS", false),
            ("WRITES, LAST MINUTE", false),
        ]))
        .block(Block::bordered().title(" topics "));
    f.render_widget(table, area);
    if rows.is_empty() {
        nothing(f, area, none);
    }
}

fn group_table(f: &mut Frame<'_>, area: Rect, rows: &[&GroupRow], none: &str) {
    let body = rows.iter().map(|g| {
        Row::new(vec![
            Cell::new(g.group.clone()),
            Cell::new(g.topic.clone()),
            right(g.lag_records.to_string()),
            right(g.lag_seconds.map_or_else(|| "-".to_owned(), age)),
            right(rate(g.consume_rate)),
            Cell::new(g.owner.clone().unwrap_or_else(|| "-".into())),
            right(match (g.retry_attempts, g.stalled_seconds >= 5.0) {
                (0, true) => age(g.stalled_seconds),
                (0, false) => "-".into(),
                (n, _) => format!("retry {n}"),
            }),
            right(g.dead_letters.to_string()),
            Cell::new(sparkline(&g.history)),
        ])
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(7),
        // `pid 4194304 (` and a 16-digit member id `)`.
        Constraint::Length(30),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(SPARK_WIDTH as u16),
    ];
    let table = Table::new(body, widths)
        .header(header(&[
            ("GROUP", false),
            ("TOPIC", false),
            ("LAG", true),
            ("LAG AGE", true),
            ("READ/s", true),
            ("OWNER", false),
            ("STALLED", true),
            ("DEAD", true),
            ("READS, LAST MINUTE", false),
        ]))
        .block(Block::bordered().title(" groups "));
    f.render_widget(table, area);
    if rows.is_empty() {
        nothing(f, area, none);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn screen() -> Screen {
        let topic = |name: &str, rate: Option<f64>, records: u64, history: Vec<f64>| TopicRow {
            topic: name.into(),
            first_seq: 0,
            next_seq: records,
            records,
            disk_bytes: records * 100,
            segments: 2,
            compressed_segments: usize::from(name == "logins"),
            write_rate: rate,
            history,
        };
        Screen {
            dir: "/srv/app/log".into(),
            time: "2026-05-04T10:20:30Z".into(),
            time_ns: 0,
            topics: vec![
                topic("orders", Some(1250.0), 120_400, vec![0.0, 10.0, 20.0, 40.0]),
                topic("logins", Some(3.0), 900, vec![3.0; 60]),
                topic("注文", None, 5, Vec::new()),
            ],
            groups: vec![GroupRow {
                group: "shipper".into(),
                topic: "orders".into(),
                confirmed: Some(120_000),
                lag_records: 400,
                lag_bytes: 40_000,
                lag_seconds: Some(312.0),
                consume_rate: Some(1100.0),
                owner: Some("pid 4242 (a1b2)".into()),
                stalled_seconds: 0.0,
                retry_attempts: 0,
                retry_error: None,
                dead_letters: 3,
                history: vec![1100.0; 10],
            }],
        }
    }

    fn draw(s: &Screen, ui: &Ui) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(130, 16)).expect("test terminal");
        t.draw(|f| render(f, s, ui)).expect("draw");
        let buf = t.backend().buffer().clone();
        (0..buf.area.height)
            .map(|y| {
                let mut line = String::new();
                let mut x = 0;
                while x < buf.area.width {
                    let sym = buf[(x, y)].symbol();
                    line.push_str(sym);
                    // A wide character's second cell is drawn by the first.
                    x += unicode_width::UnicodeWidthStr::width(sym).max(1) as u16;
                }
                line
            })
            .collect()
    }

    fn row<'a>(lines: &'a [String], start: &str) -> &'a str {
        lines.iter().find(|l| l.trim_start_matches('│').starts_with(start)).map_or("", String::as_str)
    }

    #[test]
    fn the_screen_shows_every_topic_and_group_with_rates_lag_and_a_help_line() {
        let lines = draw(&screen(), &Ui::default());
        let text = lines.join("\n");
        assert!(lines[0].starts_with("logstream top  /srv/app/log  3 topics, 1 group row"), "{text}");
        let orders = row(&lines, "orders ");
        for cell in ["1250", "120400", "11.5 MiB"] {
            assert!(orders.contains(cell), "{cell:?} in {orders:?}\n{text}");
        }
        assert!(row(&lines, "logins").contains("1/2 lz4"), "{text}");
        assert!(row(&lines, "注文").contains(" - "), "no rate before the second look\n{text}");
        let shipper = row(&lines, "shipper");
        for cell in ["400", "5m12s", "1100", "pid 4242 (a1b2)", " 3 "] {
            assert!(shipper.contains(cell), "{cell:?} in {shipper:?}\n{text}");
        }
        assert!(lines.last().is_some_and(|l| l.starts_with(HELP)), "{text}");
    }

    #[test]
    fn a_topic_whose_owner_retries_a_failed_batch_shows_its_attempts() {
        let mut s = screen();
        s.groups[0].retry_attempts = 4;
        s.groups[0].retry_error = Some("503 from the sink".into());
        s.groups[0].stalled_seconds = 30.0;
        let lines = draw(&s, &Ui::default());
        let shipper = row(&lines, "shipper");
        assert!(shipper.contains("retry 4"), "{shipper:?}\n{}", lines.join("\n"));
    }

    #[test]
    fn columns_line_up_whatever_the_width_of_the_names() {
        let lines = draw(&screen(), &Ui::default());
        // The RECORDS column ends at the same display column on each topic row.
        let end = |l: &str| {
            let at = l.find(" 5 ").or_else(|| l.find(" 900 ")).or_else(|| l.find(" 120400 "));
            at.map(|i| unicode_width::UnicodeWidthStr::width(&l[..i]) + l[i..].trim_start().find(' ').unwrap_or(0))
        };
        let ends: Vec<Option<usize>> = ["orders ", "logins", "注文"].iter().map(|n| end(row(&lines, n))).collect();
        assert!(ends.iter().all(|e| e.is_some() && *e == ends[0]), "{ends:?}\n{}", lines.join("\n"));
    }

    #[test]
    fn any_terminal_size_draws_without_panicking() {
        for (w, h) in [(1, 1), (10, 3), (40, 8), (300, 80)] {
            let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
            t.draw(|f| render(f, &screen(), &Ui::default())).expect("draw");
        }
    }

    #[test]
    fn the_sparkline_shows_the_last_minute_newest_on_the_right() {
        assert_eq!(sparkline(&[]), " ".repeat(SPARK_WIDTH));
        let flat = sparkline(&[0.0; 60]);
        assert_eq!(flat, "▁".repeat(SPARK_WIDTH));
        let rising = sparkline(&(0..60).map(f64::from).collect::<Vec<_>>());
        assert!(rising.starts_with('▁') && rising.ends_with('█'), "{rising}");
        let short = sparkline(&[5.0, 5.0]);
        assert_eq!(short.chars().filter(|&c| c != ' ').collect::<String>(), "█");
        assert_eq!(short.chars().count(), SPARK_WIDTH);
    }

    #[test]
    fn keys_sort_reverse_filter_and_quit() {
        let key = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        let s = screen();
        let mut ui = Ui::default();
        let names = |ui: &Ui| ui.topics(&s).iter().map(|t| t.topic.clone()).collect::<Vec<_>>();
        assert_eq!(names(&ui), ["logins", "orders", "注文"]);
        assert_eq!(ui.key(key('s')), Action::Redraw);
        assert_eq!(ui.sort, SortKey::Rate);
        assert_eq!(names(&ui), ["orders", "logins", "注文"]);
        ui.key(key('r'));
        assert_eq!(names(&ui), ["注文", "logins", "orders"]);
        for c in "/ord".chars() {
            ui.key(key(c));
        }
        ui.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert_eq!((names(&ui), ui.typing), (vec!["orders".to_owned()], false));
        assert_eq!(ui.key(key('q')), Action::Quit, "q quits once the filter is typed");
        ui.key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert!(ui.filter.is_empty());
        assert_eq!(ui.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Action::Quit);
        let lines = draw(&s, &Ui { filter: "log*".into(), ..Ui::default() });
        assert!(row(&lines, "orders ").is_empty() && !row(&lines, "logins").is_empty(), "{}", lines.join("\n"));
        let lines = draw(&s, &Ui { filter: "nothing-like-it".into(), ..Ui::default() });
        assert!(!row(&lines, "(no topic matches the filter)").is_empty(), "{}", lines.join("\n"));
        assert!(!row(&lines, "(no group or topic matches the filter)").is_empty(), "{}", lines.join("\n"));
    }

    #[test]
    fn ages_and_rates_read_as_people_say_them() {
        assert_eq!(
            (age(0.42), age(12.0), age(302.0), age(11_220.0), age(187_200.0)),
            ("0.4s".into(), "12s".into(), "5m02s".into(), "3h07m".into(), "2d04h".into())
        );
        assert_eq!(
            [rate(None), rate(Some(0.0)), rate(Some(12.5)), rate(Some(1250.0)), rate(Some(3.4e6))],
            ["-", "0", "12.5", "1250", "3.4M"]
        );
    }
}
